/*
 * readgate.yaml: the server settings, then every site file in sites_dir.
 * Every key has a default, so an empty file is a valid configuration.
 */
#include "keys.h"
#include "load.h"
#include "ratelimit_config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Set by the build from the install layout (CMakeLists.txt). */
#ifndef RG_DEFAULT_ADAPTERS_DIR
#define RG_DEFAULT_ADAPTERS_DIR "/usr/local/lib/readgate/adapters"
#endif
#ifndef RG_ADAPTERS_DIR_FROM_BINDIR
#define RG_ADAPTERS_DIR_FROM_BINDIR "../lib/readgate/adapters"
#endif

#define SK(id) (&rg_server_keys.keys[RG_SRVK_##id])

static int cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 && n < 4096 ? (int)n : 1;
}

/* "host:port" or "[v6]:port"; host copied into *host. */
static int parse_hostport(const char *s, char **host, int *port)
{
    const char *h = s, *colon;
    size_t hlen;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return -1;
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
        char tmp[INET6_ADDRSTRLEN];
        unsigned char buf[16];
        if (hlen == 0 || hlen >= sizeof tmp)
            return -1;
        memcpy(tmp, h, hlen);
        tmp[hlen] = '\0';
        if (inet_pton(AF_INET6, tmp, buf) != 1)
            return -1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || colon == s || memchr(s, ':', (size_t)(colon - s)))
            return -1;
        hlen = (size_t)(colon - s);
        for (size_t i = 0; i < hlen; i++) {
            char ch = s[i];
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == '.' || ch == '-'))
                return -1;
        }
    }
    const char *p = colon + 1;
    size_t plen = strlen(p);
    if (plen == 0 || plen > 5 || strspn(p, "0123456789") != plen)
        return -1;
    long v = strtol(p, NULL, 10);
    if (v < 1 || v > 65535)
        return -1;
    *host = strndup(h, hlen);
    if (!*host)
        return -1;
    *port = (int)v;
    return 0;
}

static char *resolve_path(const char *dir, const char *p)
{
    if (p[0] == '/')
        return strdup(p);
    char *out = NULL;
    if (asprintf(&out, "%s/%s", dir, p) < 0)
        return NULL;
    return out;
}

static bool cidr_ok(const char *s)
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    if (alen == 0 || alen >= sizeof addr)
        return false;
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    unsigned char buf[16];
    int maxbits;
    if (inet_pton(AF_INET, addr, buf) == 1)
        maxbits = 32;
    else if (inet_pton(AF_INET6, addr, buf) == 1)
        maxbits = 128;
    else
        return false;
    if (!slash)
        return true;
    const char *b = slash + 1;
    size_t blen = strlen(b);
    if (blen == 0 || blen > 3 || strspn(b, "0123456789") != blen)
        return false;
    return atoi(b) <= maxbits;
}

static bool env_name_ok(const char *s)
{
    return rg_cfg_name_ok(s, rg_cfg_is_ident_first, rg_cfg_is_ident_rest, 255);
}

/* Set *dst to a copy of s, reporting out of memory. */
static void set_str(rg_cfgctx *c, char **dst, const char *s)
{
    free(*dst);
    *dst = s ? strdup(s) : NULL;
    if (s && !*dst)
        rg_cfg_error(c, 0, "out of memory");
}

static void set_path(rg_cfgctx *c, char **dst, const char *dir, const char *p)
{
    free(*dst);
    *dst = resolve_path(dir, p);
    if (!*dst)
        rg_cfg_error(c, 0, "out of memory");
}

/*
 * The adapters of the installation this binary belongs to, found from the
 * running executable (<bindir>/../lib/readgate/adapters), so that an install
 * under any prefix works; otherwise (a build tree) the configured directory.
 */
static void set_default_adapters_dir(rg_cfgctx *c, char **dst)
{
    char exe[PATH_MAX], *found = NULL;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *slash = n > 0 ? (exe[n] = '\0', strrchr(exe, '/')) : NULL;
    if (slash) {
        *slash = '\0';
        char *candidate = resolve_path(exe, RG_ADAPTERS_DIR_FROM_BINDIR);
        found = candidate ? realpath(candidate, NULL) : NULL;
        free(candidate);
    }
    struct stat st;
    if (found && (stat(found, &st) != 0 || !S_ISDIR(st.st_mode))) {
        free(found);
        found = NULL;
    }
    set_str(c, dst, found ? found : RG_DEFAULT_ADAPTERS_DIR);
    free(found);
}

static void load_listen(rg_cfgctx *c, const rg_cfgmap *top, rg_config *cfg)
{
    const char *s;
    int r = rg_cfg_key_string(c, top, SK(LISTEN), &s);
    if (parse_hostport(s, &cfg->listen_host, &cfg->listen_port) != 0)
        rg_cfg_error(c, r == 0 ? rg_cfg_key_line(top, SK(LISTEN)) : 0,
                     "listen: '%s' is not host:port; expected e.g. \"127.0.0.1:8080\" or "
                     "\"[::1]:8080\" with a port from 1 to 65535",
                     s);
    r = rg_cfg_key_string(c, top, SK(ADMIN_LISTEN), &s);
    if (*s && parse_hostport(s, &cfg->admin_host, &cfg->admin_port) != 0)
        rg_cfg_error(c, r == 0 ? rg_cfg_key_line(top, SK(ADMIN_LISTEN)) : 0,
                     "admin_listen: '%s' is not host:port; expected e.g. \"127.0.0.1:8081\", "
                     "or \"\" for no admin listener",
                     s);
}

static void load_keys(rg_cfgctx *c, const rg_cfgmap *top, rg_config *cfg, const char *dir)
{
    char where[16];
    rg_cfgmap keys;
    (void)rg_cfg_key_map(c, top, SK(KEYS), where, sizeof where, &keys);
    const char *s;
    if (rg_cfg_key_string(c, &keys, SK(KEYS_ENV), &s) == 0 && !env_name_ok(s)) {
        rg_cfg_error(c, rg_cfg_key_line(&keys, SK(KEYS_ENV)),
                     "keys.env: '%s' is not an environment variable name; expected "
                     "[A-Za-z_][A-Za-z0-9_]*",
                     s);
        s = SK(KEYS_ENV)->sdef;
    }
    set_str(c, &cfg->keys_env, s);
    (void)rg_cfg_key_string(c, &keys, SK(KEYS_FILE), &s);
    if (*s)
        set_path(c, &cfg->keys_file, dir, s);
}

static void load_stores(rg_cfgctx *c, const rg_cfgmap *top, rg_config *cfg, const char *dir)
{
    const char *s;
    int r = rg_cfg_key_string(c, top, SK(STATE_STORE), &s);
    int line = r == 0 ? rg_cfg_key_line(top, SK(STATE_STORE)) : 0;
    if (strncmp(s, "sqlite:", 7) == 0 && s[7]) {
        char *path = resolve_path(dir, s + 7);
        if (!path || asprintf(&cfg->state_store, "sqlite:%s", path) < 0) {
            cfg->state_store = NULL;
            rg_cfg_error(c, 0, "out of memory");
        }
        free(path);
    } else if (strncmp(s, "postgres://", 11) == 0 || strncmp(s, "postgresql://", 13) == 0) {
        set_str(c, &cfg->state_store, s);
    } else {
        rg_cfg_error(c, line,
                     "state_store: expected \"sqlite:PATH\" or \"postgres://...\", got '%s'", s);
    }
    r = rg_cfg_key_string(c, top, SK(RATE_LIMIT), &s);
    line = r == 0 ? rg_cfg_key_line(top, SK(RATE_LIMIT)) : 0;
    if (strcmp(s, "memory") == 0)
        set_str(c, &cfg->rate_limit, s);
    else if (strncmp(s, "redis://", 8) != 0)
        rg_cfg_error(c, line, "rate_limit: expected \"memory\" or \"redis://host:port\", got '%s'",
                     s);
    else if (rg_redis_url_parse(s, &cfg->redis_host, &cfg->redis_port) != 0)
        rg_cfg_error(c, line,
                     "rate_limit: '%s' is not redis://host[:port]; expected e.g. "
                     "\"redis://127.0.0.1:6379\" (no user, password, path or options)",
                     s);
    else
        set_str(c, &cfg->rate_limit, s);
    const rg_node *l;
    if (rg_cfg_key_list(c, top, SK(TRUSTED_PROXIES), &l) != 0)
        return;
    cfg->trusted_proxies = calloc(l->n ? l->n : 1, sizeof *cfg->trusted_proxies);
    if (!cfg->trusted_proxies) {
        rg_cfg_error(c, 0, "out of memory");
        return;
    }
    bool nonempty = SK(TRUSTED_PROXIES)->flags & RG_KEY_ITEMS_NONEMPTY;
    for (size_t i = 0; i < l->n; i++) {
        char path[64];
        snprintf(path, sizeof path, "%s[%zu]", rg_key_name(SK(TRUSTED_PROXIES)), i);
        if (rg_cfg_string(c, l->items[i], path, nonempty, &s) != 0)
            continue;
        if (!cidr_ok(s)) {
            rg_cfg_error(c, l->items[i]->line,
                         "%s: '%s' is not an IP address or CIDR; expected e.g. "
                         "\"10.0.0.0/8\" or \"::1\"",
                         path, s);
            continue;
        }
        set_str(c, &cfg->trusted_proxies[cfg->ntrusted_proxies], s);
        if (cfg->trusted_proxies[cfg->ntrusted_proxies])
            cfg->ntrusted_proxies++;
    }
}

/* A mapping of integers only (limits, cache): every default, then the values. */
static void load_ints(rg_cfgctx *c, const rg_cfgmap *top, const rg_key *k, void *base)
{
    char where[16];
    rg_cfgmap m;
    rg_key_defaults(&rg_server_keys, k, base);
    if (rg_cfg_key_map(c, top, k, where, sizeof where, &m) == 0)
        rg_cfg_key_values(c, &m, base);
}

static void load_settings(rg_cfgctx *c, const rg_cfgmap *top, rg_config *cfg, const char *dir)
{
    rg_rate_limits_defaults(&cfg->rate_limits);
    load_listen(c, top, cfg);
    load_keys(c, top, cfg, dir);
    load_stores(c, top, cfg, dir);

    long long v;
    (void)rg_cfg_key_int(c, top, SK(LOOP_THREADS), &v);
    cfg->loop_threads = v ? (int)v : cores();
    (void)rg_cfg_key_int(c, top, SK(WORKERS), &v);
    cfg->workers = v ? (int)v : 2 * cores();

    const char *s;
    (void)rg_cfg_key_string(c, top, SK(SITES_DIR), &s);
    set_path(c, &cfg->sites_dir, dir, s);
    if (rg_cfg_key_string(c, top, SK(ADAPTERS_DIR), &s) == 0)
        set_path(c, &cfg->adapters_dir, dir, s);
    else
        set_default_adapters_dir(c, &cfg->adapters_dir);
    /* "-" (the default) writes audit lines to stderr with the log; a path
     * (relative to this file) appends them to that file. */
    (void)rg_cfg_key_string(c, top, SK(AUDIT_LOG), &s);
    if (strcmp(s, "-") == 0)
        set_str(c, &cfg->audit_log, s);
    else
        set_path(c, &cfg->audit_log, dir, s);
    /* Where clients reach this gateway: the MCP endpoint's address in its
       protected-resource metadata and in the mcp tool handed to an AI
       provider. Without it they are taken from the request's Host. */
    if (rg_cfg_key_string(c, top, SK(PUBLIC_URL), &s) == 0) {
        size_t n = strlen(s);
        while (n > 0 && s[n - 1] == '/')
            n--;
        if (!rg_cfg_url_ok(s) || strpbrk(s, "?#"))
            rg_cfg_error(c, rg_cfg_key_line(top, SK(PUBLIC_URL)),
                         "public_url: '%s' is not usable; expected https://host[:port][/path] "
                         "(plain http only to 127.0.0.1, localhost or [::1]), without user, "
                         "query or fragment",
                         s);
        else if (!(cfg->public_url = strndup(s, n)))
            rg_cfg_error(c, 0, "out of memory");
    }
    int level;
    if (rg_cfg_key_enum(c, top, SK(LOG_LEVEL), &s, &level) == 0 && level < 0) {
        char list[64];
        rg_key_values_text(SK(LOG_LEVEL), ", ", ", ", list, sizeof list);
        rg_cfg_error(c, rg_cfg_key_line(top, SK(LOG_LEVEL)),
                     "log_level: expected one of %s; got '%s'", list, s);
        s = SK(LOG_LEVEL)->sdef;
    }
    set_str(c, &cfg->log_level, s);
    rg_rate_limits_load(c, top, SK(RATE_LIMITS), &cfg->rate_limits);
    load_ints(c, top, SK(CACHE), cfg);
}

static bool site_file_name(const char *name)
{
    if (name[0] == '.')
        return false;
    size_t n = strlen(name);
    return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
           (n > 4 && strcmp(name + n - 4, ".yml") == 0) ||
           (n > 5 && strcmp(name + n - 5, ".json") == 0);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_site(const void *a, const void *b)
{
    const rg_site *x = a, *y = b;
    return strcmp(x->site_id ? x->site_id : "", y->site_id ? y->site_id : "");
}

/* Every site file, in name order so messages come out in a stable order. */
static void load_sites(rg_cfgctx *c, const rg_node *root, rg_config *cfg)
{
    const rg_cfgmap top = {.node = root, .where = "", .table = &rg_server_keys};
    int sdline = rg_cfg_key_line(&top, SK(SITES_DIR));
    DIR *dir = opendir(cfg->sites_dir);
    if (!dir) {
        rg_cfg_error(c, sdline, "sites_dir: cannot open directory '%s': %s", cfg->sites_dir,
                     strerror(errno));
        return;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (!site_file_name(e->d_name))
            continue;
        char **nn = realloc(names, (n + 1) * sizeof *nn);
        char *copy = strdup(e->d_name);
        if (nn)
            names = nn;
        if (!nn || !copy) {
            free(copy);
            rg_cfg_error(c, 0, "out of memory");
            break;
        }
        names[n++] = copy;
    }
    closedir(dir);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    cfg->sites = calloc(n ? n : 1, sizeof *cfg->sites);
    if (!cfg->sites)
        rg_cfg_error(c, 0, "out of memory");
    for (size_t i = 0; cfg->sites && i < n; i++) {
        char *path = resolve_path(cfg->sites_dir, names[i]);
        if (!path) {
            rg_cfg_error(c, 0, "out of memory");
            continue;
        }
        rg_cfgctx sc = {.d = c->d, .file = path};
        rg_site *site = &cfg->sites[cfg->nsites++];
        int idline = rg_site_load(&sc, cfg, path, site);
        c->errors += sc.errors;
        for (size_t j = 0; site->site_id && j + 1 < cfg->nsites; j++) {
            const rg_site *o = &cfg->sites[j];
            if (o->site_id && strcmp(o->site_id, site->site_id) == 0) {
                const char *base = strrchr(o->file, '/');
                rg_diag_add(c->d, path, idline, "duplicate site id '%s': also defined in %s",
                            site->site_id, base ? base + 1 : o->file);
                c->errors++;
                break;
            }
        }
        free(path);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (cfg->nsites)
        qsort(cfg->sites, cfg->nsites, sizeof *cfg->sites, cmp_site);
}

void rg_config_settings_load(rg_cfgctx *c, const rg_node *root, rg_config *cfg, const char *dir)
{
    /* Every key has a default: a document that is not a mapping is
       reported, and read as if it were empty. */
    rg_cfgmap top = {.node = root, .where = "", .table = &rg_server_keys};
    if (root->kind != RG_NODE_NULL && rg_cfg_kind(c, root, "the top level", RG_NODE_MAP) != 0)
        top.node = NULL;
    rg_cfg_check_keys(c, &top);
    load_settings(c, &top, cfg, dir);
    load_ints(c, &top, SK(LIMITS), &cfg->limits);
}

rg_config *rg_config_load(const char *path, rg_diags *d)
{
    if (!path || !*path) {
        rg_diag_add(d, NULL, 0, "no configuration file given");
        return NULL;
    }
    rg_cfgctx c = {.d = d, .file = path};
    rg_node *root = rg_node_parse_file(path, d, &c.errors);
    if (!root)
        return NULL;
    rg_config *cfg = calloc(1, sizeof *cfg);
    char *dircopy = strdup(path);
    char *dir = NULL;
    if (cfg && dircopy) {
        char *slash = strrchr(dircopy, '/');
        if (slash == dircopy)
            slash[1] = '\0';
        else if (slash)
            *slash = '\0';
        dir = realpath(slash ? dircopy : ".", NULL);
    }
    if (!cfg || !dircopy || !dir || !(cfg->file = strdup(path))) {
        rg_diag_add(d, path, 0, "cannot resolve the directory of the file: %s", strerror(errno));
        free(dircopy);
        free(dir);
        rg_config_free(cfg);
        rg_node_free(root);
        return NULL;
    }
    rg_config_settings_load(&c, root, cfg, dir);
    if (cfg->sites_dir)
        load_sites(&c, root, cfg);
    free(dircopy);
    free(dir);
    rg_node_free(root);
    if (c.errors) {
        rg_config_free(cfg);
        return NULL;
    }
    return cfg;
}

void rg_config_free(rg_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->file);
    free(cfg->listen_host);
    free(cfg->admin_host);
    free(cfg->sites_dir);
    free(cfg->adapters_dir);
    free(cfg->keys_env);
    free(cfg->audit_log);
    free(cfg->public_url);
    free(cfg->keys_file);
    free(cfg->state_store);
    free(cfg->rate_limit);
    free(cfg->redis_host);
    for (size_t i = 0; i < cfg->ntrusted_proxies; i++)
        free(cfg->trusted_proxies[i]);
    free(cfg->trusted_proxies);
    free(cfg->log_level);
    for (size_t i = 0; i < cfg->nsites; i++)
        rg_site_clear(&cfg->sites[i]);
    free(cfg->sites);
    free(cfg);
}

const rg_site *rg_config_find_site(const rg_config *cfg, const char *site_id)
{
    if (!cfg || !site_id)
        return NULL;
    size_t lo = 0, hi = cfg->nsites;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = strcmp(site_id, cfg->sites[mid].site_id);
        if (r == 0)
            return &cfg->sites[mid];
        if (r < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const rg_collection *rg_site_find_collection(const rg_site *site, const char *name)
{
    if (!site || !name)
        return NULL;
    size_t lo = 0, hi = site->ncollections;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = strcmp(name, site->collections[mid].name);
        if (r == 0)
            return &site->collections[mid];
        if (r < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

int rg_collection_find_field(const rg_collection *c, const char *name)
{
    if (!c || !name)
        return -1;
    for (size_t i = 0; i < c->nfields; i++)
        if (strcmp(c->fields[i].name, name) == 0)
            return (int)i;
    return -1;
}
