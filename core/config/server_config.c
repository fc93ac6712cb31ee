/*
 * readgate.yaml: the server settings, then every site file in sites_dir.
 * Every key has a default, so an empty file is a valid configuration.
 */
#include "node.h"
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

static const char *const root_keys[] = {
    "listen",       "admin_listen", "loop_threads", "workers",         "sites_dir", "adapters_dir",
    "keys",         "state_store",  "rate_limit",   "trusted_proxies", "log_level", "limits",
    "audit_log",    "rate_limits",  "cache",  "public_url", NULL};
static const char *const keys_keys[] = {"env", "file", NULL};
static const char *const cache_keys[] = {"max_bytes", NULL};
#define CACHE_MAX_BYTES_DEFAULT (64LL << 20)
#define CACHE_MAX_BYTES_MAX (1LL << 40)

typedef enum { L_SIZE, L_INT, L_U32 } limit_kind;

/* One table drives defaults, ranges and the allowed key list of `limits`. */
static const struct limit_def {
    const char *name;
    size_t offset;
    limit_kind kind;
    long long min, max, def;
} limit_defs[] = {
    {"max_body_bytes", offsetof(rg_limits, max_body_bytes), L_SIZE, 1024, 16777216, 16384},
    {"max_json_depth", offsetof(rg_limits, max_json_depth), L_INT, 2, 64, 8},
    {"max_filters", offsetof(rg_limits, max_filters), L_SIZE, 1, 100, 20},
    {"max_string_bytes", offsetof(rg_limits, max_string_bytes), L_SIZE, 1, 65536, 256},
    {"max_search_bytes", offsetof(rg_limits, max_search_bytes), L_SIZE, 1, 4096, 200},
    {"max_in_values", offsetof(rg_limits, max_in_values), L_SIZE, 1, 1000, 50},
    {"max_sort", offsetof(rg_limits, max_sort), L_SIZE, 1, 3, 3}, /* docs/http-api.md: at most 3 */
    {"request_timeout_ms", offsetof(rg_limits, request_timeout_ms), L_U32, 1, 600000, 5000},
    {"timestamp_window_s", offsetof(rg_limits, timestamp_window_s), L_INT, 1, 3600, 300},
    {"max_connections", offsetof(rg_limits, max_connections), L_SIZE, 1, 1000000, 10000},
    {"max_inflight_per_site", offsetof(rg_limits, max_inflight_per_site), L_U32, 1, 100000, 64},
    {"ratelimit_entries", offsetof(rg_limits, ratelimit_entries), L_SIZE, 1000, 100000000, 100000},
    {"ratelimit_timeout_ms", offsetof(rg_limits, ratelimit_timeout_ms), L_U32, 1, 10000, 50},
    /* Slowloris: request line and headers, then the body, each within a deadline. */
    {"header_timeout_ms", offsetof(rg_limits, header_timeout_ms), L_U32, 100, 600000, 10000},
    {"body_timeout_ms", offsetof(rg_limits, body_timeout_ms), L_U32, 100, 600000, 10000},
};
#define NLIMITS (sizeof limit_defs / sizeof limit_defs[0])

static void limit_set(rg_limits *l, const struct limit_def *def, long long v)
{
    char *p = (char *)l + def->offset;
    switch (def->kind) {
    case L_SIZE:
        *(size_t *)(void *)p = (size_t)v;
        break;
    case L_INT:
        *(int *)(void *)p = (int)v;
        break;
    case L_U32:
        *(uint32_t *)(void *)p = (uint32_t)v;
        break;
    }
}

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

static void load_listen(rg_cfgctx *c, const rg_node *root, rg_config *cfg)
{
    const rg_node_pair *p = rg_node_find(root, "listen");
    const char *s;
    if (p && rg_cfg_string(c, p->value, "listen", true, &s) == 0) {
        free(cfg->listen_host);
        cfg->listen_host = NULL;
        if (parse_hostport(s, &cfg->listen_host, &cfg->listen_port) != 0)
            rg_cfg_error(c, p->value->line,
                         "listen: '%s' is not host:port; expected e.g. \"127.0.0.1:8080\" or "
                         "\"[::1]:8080\" with a port from 1 to 65535",
                         s);
    }
    p = rg_node_find(root, "admin_listen");
    if (p && rg_cfg_string(c, p->value, "admin_listen", false, &s) == 0) {
        free(cfg->admin_host);
        cfg->admin_host = NULL;
        cfg->admin_port = 0;
        if (*s && parse_hostport(s, &cfg->admin_host, &cfg->admin_port) != 0)
            rg_cfg_error(c, p->value->line,
                         "admin_listen: '%s' is not host:port; expected e.g. \"127.0.0.1:8081\", "
                         "or \"\" for no admin listener",
                         s);
    }
}

static void load_keys(rg_cfgctx *c, const rg_node *root, rg_config *cfg, const char *dir)
{
    const rg_node_pair *p = rg_node_find(root, "keys");
    if (!p || rg_cfg_kind(c, p->value, "keys", RG_NODE_MAP) != 0)
        return;
    rg_cfg_check_keys(c, p->value, "keys", keys_keys);
    const rg_node_pair *e = rg_node_find(p->value, "env");
    const char *s;
    if (e && rg_cfg_string(c, e->value, "keys.env", true, &s) == 0) {
        if (!env_name_ok(s))
            rg_cfg_error(c, e->value->line,
                         "keys.env: '%s' is not an environment variable name; expected "
                         "[A-Za-z_][A-Za-z0-9_]*",
                         s);
        else
            set_str(c, &cfg->keys_env, s);
    }
    const rg_node_pair *f = rg_node_find(p->value, "file");
    if (f && rg_cfg_string(c, f->value, "keys.file", false, &s) == 0 && *s)
        set_path(c, &cfg->keys_file, dir, s);
}

static void load_stores(rg_cfgctx *c, const rg_node *root, rg_config *cfg, const char *dir)
{
    const rg_node_pair *p = rg_node_find(root, "state_store");
    const char *s;
    if (p && rg_cfg_string(c, p->value, "state_store", true, &s) == 0) {
        if (strncmp(s, "sqlite:", 7) == 0 && s[7]) {
            char *path = resolve_path(dir, s + 7);
            free(cfg->state_store);
            cfg->state_store = NULL;
            if (!path || asprintf(&cfg->state_store, "sqlite:%s", path) < 0) {
                cfg->state_store = NULL;
                rg_cfg_error(c, 0, "out of memory");
            }
            free(path);
        } else if (strncmp(s, "postgres://", 11) == 0 || strncmp(s, "postgresql://", 13) == 0) {
            set_str(c, &cfg->state_store, s);
        } else {
            rg_cfg_error(c, p->value->line,
                         "state_store: expected \"sqlite:PATH\" or \"postgres://...\", got '%s'", s);
        }
    }
    p = rg_node_find(root, "rate_limit");
    if (p && rg_cfg_string(c, p->value, "rate_limit", true, &s) == 0) {
        free(cfg->redis_host);
        cfg->redis_host = NULL;
        if (strcmp(s, "memory") == 0)
            set_str(c, &cfg->rate_limit, s);
        else if (strncmp(s, "redis://", 8) != 0)
            rg_cfg_error(c, p->value->line,
                         "rate_limit: expected \"memory\" or \"redis://host:port\", got '%s'", s);
        else if (rg_redis_url_parse(s, &cfg->redis_host, &cfg->redis_port) != 0)
            rg_cfg_error(c, p->value->line,
                         "rate_limit: '%s' is not redis://host[:port]; expected e.g. "
                         "\"redis://127.0.0.1:6379\" (no user, password, path or options)",
                         s);
        else
            set_str(c, &cfg->rate_limit, s);
    }
    p = rg_node_find(root, "trusted_proxies");
    if (p && rg_cfg_kind(c, p->value, "trusted_proxies", RG_NODE_LIST) == 0) {
        const rg_node *l = p->value;
        cfg->trusted_proxies = calloc(l->n ? l->n : 1, sizeof *cfg->trusted_proxies);
        if (!cfg->trusted_proxies) {
            rg_cfg_error(c, 0, "out of memory");
            return;
        }
        for (size_t i = 0; i < l->n; i++) {
            char path[64];
            snprintf(path, sizeof path, "trusted_proxies[%zu]", i);
            if (rg_cfg_string(c, l->items[i], path, true, &s) != 0)
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
}

static void load_limits(rg_cfgctx *c, const rg_node *root, rg_config *cfg)
{
    for (size_t i = 0; i < NLIMITS; i++)
        limit_set(&cfg->limits, &limit_defs[i], limit_defs[i].def);
    const rg_node_pair *p = rg_node_find(root, "limits");
    if (!p || rg_cfg_kind(c, p->value, "limits", RG_NODE_MAP) != 0)
        return;
    const char *names[NLIMITS + 1];
    for (size_t i = 0; i < NLIMITS; i++)
        names[i] = limit_defs[i].name;
    names[NLIMITS] = NULL;
    rg_cfg_check_keys(c, p->value, "limits", names);
    for (size_t i = 0; i < NLIMITS; i++) {
        const rg_node_pair *v = rg_node_find(p->value, limit_defs[i].name);
        char path[64];
        long long x;
        snprintf(path, sizeof path, "limits.%s", limit_defs[i].name);
        if (v && rg_cfg_int(c, v->value, path, limit_defs[i].min, limit_defs[i].max, &x) == 0)
            limit_set(&cfg->limits, &limit_defs[i], x);
    }
}

/* cache: {max_bytes: N}: the result cache's memory budget; 0 turns
   caching off for every collection (coalescing stays). */
static void load_cache(rg_cfgctx *c, const rg_node *root, rg_config *cfg)
{
    cfg->cache_max_bytes = (size_t)CACHE_MAX_BYTES_DEFAULT;
    const rg_node_pair *p = rg_node_find(root, "cache");
    if (!p || rg_cfg_kind(c, p->value, "cache", RG_NODE_MAP) != 0)
        return;
    rg_cfg_check_keys(c, p->value, "cache", cache_keys);
    const rg_node_pair *m = rg_node_find(p->value, "max_bytes");
    long long v;
    if (m && rg_cfg_int(c, m->value, "cache.max_bytes", 0, CACHE_MAX_BYTES_MAX, &v) == 0)
        cfg->cache_max_bytes = (size_t)v;
}

static void load_settings(rg_cfgctx *c, const rg_node *root, rg_config *cfg, const char *dir)
{
    set_str(c, &cfg->listen_host, "127.0.0.1");
    cfg->listen_port = 8080;
    set_str(c, &cfg->admin_host, "127.0.0.1");
    cfg->admin_port = 8081;
    set_str(c, &cfg->keys_env, "READGATE_KEYS");
    set_str(c, &cfg->rate_limit, "memory");
    rg_rate_limits_defaults(&cfg->rate_limits);
    set_str(c, &cfg->log_level, "info");
    set_path(c, &cfg->sites_dir, dir, "sites");
    set_default_adapters_dir(c, &cfg->adapters_dir);
    char *state = resolve_path(dir, "state.db");
    if (!state || asprintf(&cfg->state_store, "sqlite:%s", state) < 0) {
        cfg->state_store = NULL;
        rg_cfg_error(c, 0, "out of memory");
    }
    free(state);

    if (root->kind != RG_NODE_NULL && rg_cfg_kind(c, root, "the top level", RG_NODE_MAP) != 0)
        return;
    rg_cfg_check_keys(c, root, "", root_keys);
    load_listen(c, root, cfg);
    load_keys(c, root, cfg, dir);
    load_stores(c, root, cfg, dir);

    long long v;
    const rg_node_pair *p = rg_node_find(root, "loop_threads");
    cfg->loop_threads = 0;
    if (p && rg_cfg_int(c, p->value, "loop_threads", 0, 1024, &v) == 0)
        cfg->loop_threads = (int)v;
    if (cfg->loop_threads == 0)
        cfg->loop_threads = cores();
    p = rg_node_find(root, "workers");
    cfg->workers = 0;
    if (p && rg_cfg_int(c, p->value, "workers", 0, 1024, &v) == 0)
        cfg->workers = (int)v;
    if (cfg->workers == 0)
        cfg->workers = 2 * cores();

    const char *s;
    p = rg_node_find(root, "sites_dir");
    if (p && rg_cfg_string(c, p->value, "sites_dir", true, &s) == 0)
        set_path(c, &cfg->sites_dir, dir, s);
    p = rg_node_find(root, "adapters_dir");
    if (p && rg_cfg_string(c, p->value, "adapters_dir", true, &s) == 0)
        set_path(c, &cfg->adapters_dir, dir, s);
    /* "-" (the default) writes audit lines to stderr with the log; a path
     * (relative to this file) appends them to that file. */
    set_str(c, &cfg->audit_log, "-");
    p = rg_node_find(root, "audit_log");
    if (p && rg_cfg_string(c, p->value, "audit_log", true, &s) == 0) {
        if (strcmp(s, "-") == 0)
            set_str(c, &cfg->audit_log, s);
        else
            set_path(c, &cfg->audit_log, dir, s);
    }
    /* Where clients reach this gateway: the MCP endpoint's address in its
       protected-resource metadata and in the mcp tool handed to an AI
       provider. Without it they are taken from the request's Host. */
    p = rg_node_find(root, "public_url");
    if (p && rg_cfg_string(c, p->value, "public_url", true, &s) == 0) {
        size_t n = strlen(s);
        while (n > 0 && s[n - 1] == '/')
            n--;
        if (!rg_cfg_url_ok(s) || strpbrk(s, "?#"))
            rg_cfg_error(c, p->value->line,
                         "public_url: '%s' is not usable; expected https://host[:port][/path] "
                         "(plain http only to 127.0.0.1, localhost or [::1]), without user, "
                         "query or fragment",
                         s);
        else if (!(cfg->public_url = strndup(s, n)))
            rg_cfg_error(c, 0, "out of memory");
    }
    p = rg_node_find(root, "log_level");
    if (p && rg_cfg_string(c, p->value, "log_level", true, &s) == 0) {
        if (strcmp(s, "debug") && strcmp(s, "info") && strcmp(s, "warn") && strcmp(s, "error"))
            rg_cfg_error(c, p->value->line,
                         "log_level: expected one of debug, info, warn, error; got '%s'", s);
        else
            set_str(c, &cfg->log_level, s);
    }
    rg_rate_limits_load(c, root, &cfg->rate_limits);
    load_cache(c, root, cfg);
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
    const rg_node_pair *sd = rg_node_find(root, "sites_dir");
    int sdline = sd ? sd->value->line : 0;
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
    load_settings(c, root, cfg, dir);
    load_limits(c, root, cfg);
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
