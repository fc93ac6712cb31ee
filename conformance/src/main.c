/*
 * readgate-conformance: load an adapter .so and run the standard cases
 * against the standard fixture catalog.
 *
 *   readgate-conformance [options] ADAPTER.so
 *
 * One line per case ("ok NAME", "FAIL NAME" plus a diff or reason, "n/a NAME"
 * for a behaviour case that was not configured), then "N passed, N failed".
 * The exit status is 1 when anything failed, 2 on a usage error.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fnmatch.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conformance.h"
#include "plugin/plugin_loader.h"

#ifndef RG_CONF_SOURCE_DIR
#define RG_CONF_SOURCE_DIR "conformance"
#endif
#ifndef RG_CONF_INSTALL_DIR
#define RG_CONF_INSTALL_DIR "/usr/local/share/readgate/conformance"
#endif
/* RG_CONF_INSTALL_DIR relative to the installed program's directory. */
#ifndef RG_CONF_DIR_FROM_BINDIR
#define RG_CONF_DIR_FROM_BINDIR "../share/readgate/conformance"
#endif

#define MAX_PATTERNS 64
#define MAX_SECRETS 16

static int verbose;

static void host_log(rg_log_level level, const char *adapter, const char *fmt, va_list ap)
{
    if (level < RG_LOG_WARN && !verbose)
        return;
    flockfile(stderr);
    fprintf(stderr, "# [%s] ", adapter ? adapter : "adapter");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    funlockfile(stderr);
}

const rg_host_api rg_conf_host = RG_HOST_TABLE(RG_ADAPTER_ABI_MAJOR, RG_ADAPTER_ABI_MINOR, host_log);

/* The same services for token providers, speaking their ABI version. */
const rg_host_api rg_conf_provider_host =
    RG_HOST_TABLE(RG_PROVIDER_ABI_MAJOR, RG_PROVIDER_ABI_MINOR, host_log);

typedef struct options {
    const char *adapter_path;
    const char *config_path;
    const char *cases_dir;
    const char *collection_path;
    const char *target;
    const char *slow_target;
    char *owned[2]; /* targets read from the config file */
    const char *patterns[MAX_PATTERNS];
    size_t npatterns;
    const char *errors_dir;
    rg_conf_source source, unreachable, slow, auth, stalled;
    int have_unreachable, have_slow, have_auth, have_stalled, list;
    const char *secrets[MAX_SECRETS];
    char *owned_secrets[MAX_SECRETS]; /* the ones read from the config file */
    size_t nsecrets;
    uint32_t timeout_ms, slow_timeout_ms, connect_timeout_ms;
    unsigned threads;
    char stored_as[96]; /* canonical storage profile key, "" for none */
} options;

typedef struct tally {
    size_t passed, failed, na, skipped;
} tally;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: readgate-conformance [options] ADAPTER.so\n"
            "       readgate-conformance --provider PROVIDER.so [--help for its options]\n"
            "  --config FILE            JSON: {\"target\": T, \"options\": {key: value},\n"
            "                           \"unreachable_options\": {...}, \"slow_target\": T,\n"
            "                           \"slow_options\": {...}, \"stalled_options\": {...},\n"
            "                           \"auth_options\": {...}, \"secrets\": [...]}; relative\n"
            "                           paths resolve against the file's directory\n"
            "  --option KEY=VALUE       a source option (repeatable; overrides --config)\n"
            "  --target T               the fixture's table / collection in the backend\n"
            "  --case PATTERN           run only cases matching a glob or prefix (repeatable)\n"
            "  --cases DIR              case files (default: %s/cases,\n"
            "                           else %s/cases)\n"
            "  --collection FILE        collection description (default: DIR/../collection.json)\n"
            "  --errors DIR             error case files (default: DIR/../errors)\n"
            "  --unreachable-option K=V override an option so the backend is unreachable\n"
            "  --slow-target T          a relation with the same columns that is slow to read\n"
            "  --slow-option K=V        override an option so queries are slow\n"
            "  --stalled-option K=V     override an option so the adapter talks to a loopback\n"
            "                           port that accepts and never answers; {stalled} in V\n"
            "                           becomes its 127.0.0.1:PORT, {stalled_port} its port\n"
            "                           ({stalled} works in --slow-option too)\n"
            "  --auth-option K=V        override an option so the credentials are wrong\n"
            "  --secret TEXT            no error message may contain TEXT (repeatable; option\n"
            "                           values named like password, token, secret or key,\n"
            "                           and passwords in DSNs and URIs, are checked anyway)\n"
            "  --slow-timeout-ms N      budget for the timeout case (default 500)\n"
            "  --timeout-ms N           budget for every other query (default 10000)\n"
            "  --connect-timeout-ms N   connect budget (default 5000)\n"
            "  --threads N              threads of the concurrency case (default 8)\n"
            "  --stored-as P[,P]        the backend holds the fixture as a provider must:\n"
            "                           empty-text-is-null (an empty string reads back as\n"
            "                           NULL), integers-are-doubles (integers are IEEE\n"
            "                           doubles); cases check the answer on that catalog\n"
            "  --list                   print the case names and exit\n"
            "  --verbose                show the adapter's debug log\n",
            RG_CONF_SOURCE_DIR, RG_CONF_INSTALL_DIR);
}

static int parse_u32(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || errno || v == 0 || v > 86400000UL)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int dir_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * The cases of the installation this program belongs to, found from the
 * running executable so that an install under any prefix finds its own
 * cases. 0 with the directory in `out`, or -1 (e.g. in a build tree).
 */
static int installed_cases_dir(char *out, size_t outsz)
{
    char exe[PATH_MAX], joined[PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return -1;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    snprintf(joined, sizeof joined, "%s/" RG_CONF_DIR_FROM_BINDIR "/cases", exe);
    char *real = realpath(joined, NULL);
    int ok = real && dir_exists(real) && strlen(real) < outsz;
    if (ok)
        snprintf(out, outsz, "%s", real);
    free(real);
    return ok ? 0 : -1;
}

/* Options from a JSON config file; flags given later override them. */
static int load_config(options *o, char *err, size_t errsz)
{
    json_error_t jerr;
    json_t *doc = json_load_file(o->config_path, 0, &jerr);
    if (!doc) {
        snprintf(err, errsz, "%s:%d: %s", o->config_path, jerr.line, jerr.text);
        return -1;
    }
    int rc = -1;
    const char *key;
    json_t *val;
    json_object_foreach(doc, key, val) {
        if (!strcmp(key, "target") || !strcmp(key, "slow_target")) {
            const char *s = json_string_value(val);
            if (!s) {
                snprintf(err, errsz, "%s: \"%s\" must be a string", o->config_path, key);
                goto out;
            }
            int slow = !strcmp(key, "slow_target");
            const char **dst = slow ? &o->slow_target : &o->target;
            if (*dst) /* a flag wins over the file */
                continue;
            if (!(o->owned[slow] = strdup(s))) {
                snprintf(err, errsz, "out of memory");
                goto out;
            }
            *dst = o->owned[slow];
        } else if (!strcmp(key, "options") || !strcmp(key, "unreachable_options") ||
                   !strcmp(key, "slow_options") || !strcmp(key, "auth_options") ||
                   !strcmp(key, "stalled_options")) {
            rg_conf_source *dst = !strcmp(key, "options")          ? &o->source
                                  : !strcmp(key, "slow_options")    ? &o->slow
                                  : !strcmp(key, "auth_options")    ? &o->auth
                                  : !strcmp(key, "stalled_options") ? &o->stalled
                                                                    : &o->unreachable;
            if (rg_conf_source_set_json(dst, val, err, errsz) != 0)
                goto out;
            o->have_slow |= dst == &o->slow;
            o->have_unreachable |= dst == &o->unreachable;
            o->have_auth |= dst == &o->auth;
            o->have_stalled |= dst == &o->stalled;
        } else if (!strcmp(key, "secrets")) {
            size_t i;
            json_t *one;
            if (!json_is_array(val)) {
                snprintf(err, errsz, "%s: \"secrets\" must be an array of strings", o->config_path);
                goto out;
            }
            json_array_foreach(val, i, one) {
                const char *text = json_string_value(one);
                if (!text || o->nsecrets == MAX_SECRETS) {
                    snprintf(err, errsz, "%s: \"secrets\": at most %d strings", o->config_path,
                             MAX_SECRETS);
                    goto out;
                }
                if (!(o->owned_secrets[o->nsecrets] = strdup(text))) {
                    snprintf(err, errsz, "out of memory");
                    goto out;
                }
                o->secrets[o->nsecrets] = o->owned_secrets[o->nsecrets];
                o->nsecrets++;
            }
        } else {
            snprintf(err, errsz, "%s: unknown key \"%s\"; expected target, options, "
                     "unreachable_options, slow_target, slow_options, stalled_options, "
                     "auth_options, secrets", o->config_path, key);
            goto out;
        }
    }
    char *copy = strdup(o->config_path), real[PATH_MAX];
    if (copy && realpath(dirname(copy), real))
        o->source.base_dir = strdup(real);
    free(copy);
    rc = 0;
out:
    json_decref(doc);
    return rc;
}

/* Merge `overrides` onto a copy of the working source. */
static int derive_source(const rg_conf_source *base, const rg_conf_source *overrides,
                         rg_conf_source *out)
{
    rg_conf_source tmp;
    if (rg_conf_source_copy(&tmp, base) != 0)
        return -1;
    for (size_t i = 0; i < overrides->noptions; i++)
        if (rg_conf_source_set(&tmp, overrides->options[i].key, overrides->options[i].value) != 0) {
            rg_conf_source_free(&tmp);
            return -1;
        }
    rg_conf_source_free(out);
    *out = tmp;
    return 0;
}

static int parse_args(int argc, char **argv, options *o)
{
    /* Flags are applied after the config file whatever their position. */
    rg_conf_source flag_opts = {0}, flag_unreach = {0}, flag_slow = {0}, flag_auth = {0},
                   flag_stalled = {0};
    int rc = -1;
    o->timeout_ms = 10000;
    o->slow_timeout_ms = 500;
    o->connect_timeout_ms = 5000;
    o->threads = 8;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--list")) {
            o->list = 1, takes = 0;
        } else if (!strcmp(a, "--verbose")) {
            verbose = 1, takes = 0;
        } else if (a[0] != '-') {
            if (o->adapter_path) {
                fprintf(stderr, "readgate-conformance: one adapter at a time ('%s' and '%s')\n",
                        o->adapter_path, a);
                goto out;
            }
            o->adapter_path = a, takes = 0;
        } else if (!v) {
            fprintf(stderr, "readgate-conformance: %s needs a value\n", a);
            goto out;
        } else if (!strcmp(a, "--config")) {
            o->config_path = v;
        } else if (!strcmp(a, "--cases")) {
            o->cases_dir = v;
        } else if (!strcmp(a, "--collection")) {
            o->collection_path = v;
        } else if (!strcmp(a, "--errors")) {
            o->errors_dir = v;
        } else if (!strcmp(a, "--secret")) {
            if (o->nsecrets == MAX_SECRETS || !*v) {
                fprintf(stderr, "readgate-conformance: --secret: 1 to %d non-empty texts\n",
                        MAX_SECRETS);
                goto out;
            }
            o->secrets[o->nsecrets++] = v;
        } else if (!strcmp(a, "--target")) {
            o->target = v;
        } else if (!strcmp(a, "--slow-target")) {
            o->slow_target = v;
        } else if (!strcmp(a, "--stored-as")) {
            char err[256];
            if (rg_conf_stored_as_key(v, o->stored_as, sizeof o->stored_as, err, sizeof err) != 0) {
                fprintf(stderr, "readgate-conformance: --stored-as: %s\n", err);
                goto out;
            }
        } else if (!strcmp(a, "--case")) {
            if (o->npatterns == MAX_PATTERNS) {
                fprintf(stderr, "readgate-conformance: too many --case patterns\n");
                goto out;
            }
            o->patterns[o->npatterns++] = v;
        } else if (!strcmp(a, "--option") || !strcmp(a, "--unreachable-option") ||
                   !strcmp(a, "--slow-option") || !strcmp(a, "--auth-option") ||
                   !strcmp(a, "--stalled-option")) {
            rg_conf_source *dst = !strcmp(a, "--option")           ? &flag_opts
                                  : !strcmp(a, "--slow-option")    ? &flag_slow
                                  : !strcmp(a, "--auth-option")    ? &flag_auth
                                  : !strcmp(a, "--stalled-option") ? &flag_stalled
                                                                   : &flag_unreach;
            if (rg_conf_source_set_pair(dst, v) != 0) {
                fprintf(stderr, "readgate-conformance: %s expects KEY=VALUE, got '%s'\n", a, v);
                goto out;
            }
            o->have_slow |= dst == &flag_slow;
            o->have_unreachable |= dst == &flag_unreach;
            o->have_auth |= dst == &flag_auth;
            o->have_stalled |= dst == &flag_stalled;
        } else if (!strcmp(a, "--timeout-ms") || !strcmp(a, "--slow-timeout-ms") ||
                   !strcmp(a, "--connect-timeout-ms") || !strcmp(a, "--threads")) {
            uint32_t n;
            if (parse_u32(v, &n) != 0 || (!strcmp(a, "--threads") && n > 256)) {
                fprintf(stderr, "readgate-conformance: %s expects a positive number, got '%s'\n",
                        a, v);
                goto out;
            }
            if (!strcmp(a, "--timeout-ms"))
                o->timeout_ms = n;
            else if (!strcmp(a, "--slow-timeout-ms"))
                o->slow_timeout_ms = n;
            else if (!strcmp(a, "--connect-timeout-ms"))
                o->connect_timeout_ms = n;
            else
                o->threads = n;
        } else {
            fprintf(stderr, "readgate-conformance: unknown option '%s' (see --help)\n", a);
            goto out;
        }
        i += takes;
    }
    char err[512];
    if (o->config_path && load_config(o, err, sizeof err) != 0) {
        fprintf(stderr, "readgate-conformance: %s\n", err);
        goto out;
    }
    if (!o->source.base_dir) {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd) || !(o->source.base_dir = strdup(cwd))) {
            fprintf(stderr, "readgate-conformance: cannot determine the current directory\n");
            goto out;
        }
    }
    /* Each failing configuration is the working one with its overrides: the
       config file's first, then the flags'. */
    rg_conf_source *derived[] = {&o->unreachable, &o->slow, &o->auth, &o->stalled};
    rg_conf_source *flags[] = {&flag_unreach, &flag_slow, &flag_auth, &flag_stalled};
    if (derive_source(&o->source, &flag_opts, &o->source) != 0) {
        fprintf(stderr, "readgate-conformance: out of memory\n");
        goto out;
    }
    for (size_t k = 0; k < sizeof derived / sizeof derived[0]; k++) {
        rg_conf_source cfg = *derived[k];
        memset(derived[k], 0, sizeof *derived[k]);
        int bad = derive_source(&o->source, &cfg, derived[k]) != 0 ||
                  derive_source(derived[k], flags[k], derived[k]) != 0;
        rg_conf_source_free(&cfg);
        if (bad) {
            fprintf(stderr, "readgate-conformance: out of memory\n");
            goto out;
        }
    }
    if (!o->adapter_path && !o->list) {
        usage(stderr);
        goto out;
    }
    rc = 0;
out:
    rg_conf_source_free(&flag_opts);
    rg_conf_source_free(&flag_unreach);
    rg_conf_source_free(&flag_slow);
    rg_conf_source_free(&flag_auth);
    rg_conf_source_free(&flag_stalled);
    return rc;
}

static int selected(const options *o, const char *name)
{
    if (!o->npatterns)
        return 1;
    for (size_t i = 0; i < o->npatterns; i++)
        if (fnmatch(o->patterns[i], name, 0) == 0 ||
            !strncmp(name, o->patterns[i], strlen(o->patterns[i])))
            return 1;
    return 0;
}

static void verdict(tally *t, const char *name, rg_conf_verdict v, const char *msg)
{
    if (v == RG_CONF_PASS) {
        t->passed++;
        printf("ok %s%s%s\n", name, msg[0] ? "  # " : "", msg);
    } else if (v == RG_CONF_NA) {
        t->na++;
        printf("n/a %s (not applicable: %s)\n", name, msg);
    } else if (v == RG_CONF_SKIP) {
        t->skipped++;
        printf("skip %s (does not apply to %s)\n", name, msg);
    } else {
        t->failed++;
        printf("FAIL %s\n    %s\n", name, msg);
    }
    fflush(stdout);
}

/* ---- the adapter ------------------------------------------------------------ */

/* Through the gateway's own loader (plugin/plugin_loader.h): the same ABI
   check, so an adapter that passes here loads in readgate. */
static const rg_adapter *load_adapter(const char *path, void **dl, char *msg, size_t msgsz)
{
    const rg_adapter *ad = rg_plugin_open(&rg_plugin_adapter, path, NULL, &rg_conf_host, dl, msg, msgsz);
    if (ad)
        snprintf(msg, msgsz, "%s %s, ABI %u.%u", ad->name, ad->version ? ad->version : "?",
                 ad->abi_major, ad->abi_minor);
    return ad;
}

/* ---- cases ------------------------------------------------------------------ */

static int is_case_file(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' && n > 5 && !strcmp(d->d_name + n - 5, ".json");
}

static size_t default_page_size(const rg_conf_case *c)
{
    if (c->page_size)
        return c->page_size;
    size_t n = json_array_size(c->expected);
    return n <= 30 ? 3 : (n + 7) / 8;
}

static void run_case(const options *o, const rg_adapter *ad, void *conn, const rg_conf_case *c,
                     tally *t)
{
    (void)o;
    rg_conf_result res = {0};
    rg_conf_run(ad, conn, &c->plan, &res);
    json_t *got = rg_conf_project(c, res.rows);
    int single_ok = res.status == RG_OK && !res.problem[0] &&
                    rg_conf_rows_equal(c, c->expected, got);
    json_t *paged = NULL;
    char why[600] = "";
    size_t page = default_page_size(c);
    int paged_ok = 0;
    if (single_ok) {
        paged_ok = rg_conf_run_paged(ad, conn, c, page, &paged, why, sizeof why) == 0 &&
                   rg_conf_rows_equal(c, c->expected, paged);
    }
    if (single_ok && paged_ok) {
        t->passed++;
        printf("ok %s\n", c->name);
    } else {
        t->failed++;
        printf("FAIL %s\n", c->name);
        if (c->description)
            printf("    case: %s\n", c->description);
        /* A row that breaks the ABI stops the sink, so the adapter's status
           is RG_ERR_ABORTED then: the problem says why. */
        if (res.status != RG_OK)
            printf("    query returned %s: %s\n", rg_conf_status_name(res.status),
                   res.err.message);
        if (res.problem[0])
            printf("    %s\n", res.problem);
        else if (res.status == RG_OK && !single_ok)
            rg_conf_print_diff(stdout, c, c->expected, got);
        else if (res.status == RG_OK) {
            printf("    the whole answer is right, but paging by %zu with 'after' is not%s%s\n",
                   page, why[0] ? ": " : "", why);
            if (paged && !rg_conf_rows_equal(c, c->expected, paged))
                rg_conf_print_diff(stdout, c, c->expected, paged);
        }
    }
    fflush(stdout);
    json_decref(paged);
    json_decref(got);
    rg_conf_result_free(&res);
}

/* Load every case file in dir, sorted by name; failed loads are reported. */
static rg_conf_case *load_cases(const options *o, const char *dir, const rg_conf_collection *coll,
                                size_t *ncases, tally *t, int report)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, is_case_file, alphasort);
    *ncases = 0;
    if (n < 0) {
        fprintf(stderr, "readgate-conformance: cannot read cases from %s: %s\n", dir,
                strerror(errno));
        return NULL;
    }
    rg_conf_case *cases = calloc((size_t)n + 1, sizeof *cases);
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX + 256], err[512];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        rg_conf_case *c = &cases[*ncases];
        if (cases && rg_conf_case_load(path, coll, o->timeout_ms, o->stored_as, c, err,
                                           sizeof err) == 0) {
            (*ncases)++;
        } else if (cases) {
            const char *nm = c->name ? c->name : names[i]->d_name;
            if (report && selected(o, nm)) {
                t->failed++;
                printf("FAIL %s\n    case file %s is invalid: %s\n", nm, path, err);
            }
            rg_conf_case_free(c);
        }
        free(names[i]);
    }
    free(names);
    return cases;
}

/* Load every error case file in dir, sorted by name; failed loads are
   reported. A missing default directory (an older copy of the cases) means
   no error cases; *ncases is 0 then and NULL is returned only on a usage
   error. */
static rg_conf_error_case *load_errors(const options *o, const char *dir, int required,
                                       const rg_conf_collection *coll, size_t *ncases, tally *t,
                                       int report)
{
    struct dirent **names = NULL;
    *ncases = 0;
    rg_conf_error_case *cases = NULL;
    int n = dir_exists(dir) ? scandir(dir, &names, is_case_file, alphasort) : -1;
    if (n < 0) {
        if (required) {
            fprintf(stderr, "readgate-conformance: cannot read error cases from %s: %s\n", dir,
                    dir_exists(dir) ? strerror(errno) : "no such directory");
            return NULL;
        }
        n = 0;
    }
    cases = calloc((size_t)n + 1, sizeof *cases);
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX + 256], err[512];
        int plen = snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        bool fits = plen > 0 && (size_t)plen < sizeof path;
        rg_conf_error_case *c = cases && fits ? &cases[*ncases] : NULL;
        if (c && rg_conf_error_load(path, coll, o->timeout_ms, c, err, sizeof err) == 0) {
            (*ncases)++;
        } else if (c) {
            char fallback[300];
            snprintf(fallback, sizeof fallback, "error/%s", names[i]->d_name);
            const char *nm = c->name ? c->name : fallback;
            if (report && selected(o, nm)) {
                t->failed++;
                printf("FAIL %s\n    error case file %s is invalid: %s\n", nm, path, err);
            }
            rg_conf_error_free(c);
        }
        free(names[i]);
    }
    free(names);
    if (!cases)
        fprintf(stderr, "readgate-conformance: out of memory\n");
    return cases;
}

static const char *const builtin_names[] = {
    "adapter/load", "adapter/check_options", "adapter/connect", "adapter/ping",
    "behaviour/sink_abort", "behaviour/nonblocking", "behaviour/concurrent",
};

static void release(options *o, rg_conf_case *cases, size_t ncases, rg_conf_collection *coll,
                    rg_conf_error_case *errors, size_t nerrors)
{
    for (size_t i = 0; i < ncases; i++)
        rg_conf_case_free(&cases[i]);
    free(cases);
    for (size_t i = 0; i < nerrors; i++)
        rg_conf_error_free(&errors[i]);
    free(errors);
    if (coll)
        rg_conf_collection_free(coll);
    rg_conf_source_free(&o->source);
    rg_conf_source_free(&o->unreachable);
    rg_conf_source_free(&o->slow);
    rg_conf_source_free(&o->auth);
    rg_conf_source_free(&o->stalled);
    for (size_t i = 0; i < o->nsecrets; i++)
        free(o->owned_secrets[i]);
    free(o->owned[0]);
    free(o->owned[1]);
}

int main(int argc, char **argv)
{
    /* Token providers have checks of their own (provider.c). */
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--provider") == 0)
            return rg_conf_provider_main(argc, argv);
    options o;
    memset(&o, 0, sizeof o);
    json_object_seed(0); /* before any thread creates objects */
    if (parse_args(argc, argv, &o) != 0) {
        release(&o, NULL, 0, NULL, NULL, 0);
        return 2;
    }

    char cases_dir[PATH_MAX], coll_path[PATH_MAX + 32], errors_dir[PATH_MAX + 32];
    if (o.cases_dir)
        snprintf(cases_dir, sizeof cases_dir, "%s", o.cases_dir);
    else if (installed_cases_dir(cases_dir, sizeof cases_dir) == 0)
        ; /* an installed program uses the cases installed with it */
    else if (dir_exists(RG_CONF_SOURCE_DIR "/cases"))
        snprintf(cases_dir, sizeof cases_dir, "%s", RG_CONF_SOURCE_DIR "/cases");
    else
        snprintf(cases_dir, sizeof cases_dir, "%s", RG_CONF_INSTALL_DIR "/cases");
    if (o.collection_path)
        snprintf(coll_path, sizeof coll_path, "%s", o.collection_path);
    else
        snprintf(coll_path, sizeof coll_path, "%s/../collection.json", cases_dir);
    if (o.errors_dir)
        snprintf(errors_dir, sizeof errors_dir, "%s", o.errors_dir);
    else {
        /* Beside the cases; shown without the "..", as the cases are. */
        char joined[PATH_MAX + 32], *real;
        snprintf(joined, sizeof joined, "%s/../errors", cases_dir);
        real = realpath(joined, NULL);
        snprintf(errors_dir, sizeof errors_dir, "%s", real && strlen(real) < sizeof errors_dir ? real : joined);
        free(real);
    }

    char err[512], msg[1024];
    rg_conf_collection coll;
    if (rg_conf_collection_load(coll_path, o.target, &coll, err, sizeof err) != 0) {
        fprintf(stderr, "readgate-conformance: %s\n", err);
        release(&o, NULL, 0, &coll, NULL, 0);
        return 2;
    }
    tally t = {0};
    size_t ncases = 0;
    if (!o.list)
        printf("# cases: %s\n", cases_dir);
    if (!o.list && o.stored_as[0])
        printf("# stored as: %s (cases whose answer differs on such a catalog check that answer)\n",
               o.stored_as);
    rg_conf_case *cases = load_cases(&o, cases_dir, &coll, &ncases, &t, !o.list);
    if (!cases) {
        release(&o, NULL, 0, &coll, NULL, 0);
        return 2;
    }
    size_t nerrors = 0;
    rg_conf_error_case *errors = load_errors(&o, errors_dir, o.errors_dir != NULL, &coll,
                                             &nerrors, &t, !o.list);
    if (!errors) {
        release(&o, cases, ncases, &coll, NULL, 0);
        return 2;
    }
    if (!o.list)
        printf("# errors: %s%s\n", errors_dir, nerrors ? "" : " (no error cases there)");
    if (o.list) {
        for (size_t i = 0; i < sizeof builtin_names / sizeof builtin_names[0]; i++)
            if (selected(&o, builtin_names[i]))
                printf("%s\n", builtin_names[i]);
        for (size_t i = 0; i < ncases; i++)
            if (selected(&o, cases[i].name))
                printf("%s\n", cases[i].name);
        for (size_t i = 0; i < nerrors; i++)
            if (selected(&o, errors[i].name))
                printf("%s\n", errors[i].name);
        goto done;
    }

    /* A mistyped --case must not pass silently with nothing run. */
    int any = 0;
    for (size_t i = 0; i < sizeof builtin_names / sizeof builtin_names[0]; i++)
        any |= selected(&o, builtin_names[i]);
    for (size_t i = 0; i < ncases && !any; i++)
        any |= selected(&o, cases[i].name);
    for (size_t i = 0; i < nerrors && !any; i++)
        any |= selected(&o, errors[i].name);
    if (!any && !t.failed) {
        fprintf(stderr, "readgate-conformance: no case matches the --case patterns (see --list)\n");
        release(&o, cases, ncases, &coll, errors, nerrors);
        return 2;
    }

    void *dl = NULL, *conn = NULL;
    rg_conf_stall stall = {.fd = -1, .port = 0};
    const rg_adapter *ad = load_adapter(o.adapter_path, &dl, msg, sizeof msg);
    if (!ad) {
        verdict(&t, "adapter/load", RG_CONF_FAIL, msg);
        goto unload;
    }
    if (selected(&o, "adapter/load"))
        verdict(&t, "adapter/load", RG_CONF_PASS, msg);

    rg_source_info src;
    rg_conf_source_info(&o.source, &src, o.connect_timeout_ms);
    rg_error e = {.struct_size = sizeof e};
    if (selected(&o, "adapter/check_options")) {
        if (!ad->check_options) {
            verdict(&t, "adapter/check_options", RG_CONF_NA, "the adapter has no check_options");
        } else {
            rg_status st = ad->check_options(&src, &e);
            if (st == RG_OK)
                msg[0] = '\0';
            else
                snprintf(msg, sizeof msg, "check_options refused the configuration: %s: %s",
                         rg_conf_status_name(st), e.message);
            verdict(&t, "adapter/check_options", st == RG_OK ? RG_CONF_PASS : RG_CONF_FAIL, msg);
        }
    }
    rg_status st = ad->connect(&src, &conn, &e);
    if (st != RG_OK || !conn) {
        snprintf(msg, sizeof msg, "connect returned %s: %s", rg_conf_status_name(st), e.message);
        verdict(&t, "adapter/connect", RG_CONF_FAIL, msg);
        conn = NULL;
        goto unload;
    }
    if (selected(&o, "adapter/connect"))
        verdict(&t, "adapter/connect", RG_CONF_PASS, "");

    rg_conf_env env = {
        .ad = ad, .coll = &coll, .source = &o.source,
        .unreachable = o.have_unreachable ? &o.unreachable : NULL,
        .slow = o.have_slow ? &o.slow : NULL, .slow_target = o.slow_target,
        .auth = o.have_auth ? &o.auth : NULL, .stalled = o.have_stalled ? &o.stalled : NULL,
        .secrets = o.secrets, .nsecrets = o.nsecrets, .stall = &stall,
        .slow_timeout_ms = o.slow_timeout_ms, .timeout_ms = o.timeout_ms,
        .connect_timeout_ms = o.connect_timeout_ms, .nthreads = o.threads,
        .cases = cases, .ncases = ncases,
    };
    if (selected(&o, "adapter/ping"))
        verdict(&t, "adapter/ping", rg_conf_check_ping(&env, conn, msg, sizeof msg), msg);
    for (size_t i = 0; i < ncases; i++)
        if (selected(&o, cases[i].name))
            run_case(&o, ad, conn, &cases[i], &t);
    if (selected(&o, "behaviour/sink_abort"))
        verdict(&t, "behaviour/sink_abort", rg_conf_check_sink_abort(&env, conn, msg, sizeof msg),
                msg);
    if (selected(&o, "behaviour/nonblocking"))
        verdict(&t, "behaviour/nonblocking", rg_conf_check_nonblocking(&env, conn, msg, sizeof msg),
                msg);
    for (size_t i = 0; i < nerrors; i++)
        if (selected(&o, errors[i].name))
            verdict(&t, errors[i].name, rg_conf_error_run(&env, conn, &errors[i], msg, sizeof msg),
                    msg);
    rg_conf_stall_close(&stall);
    if (selected(&o, "behaviour/concurrent"))
        verdict(&t, "behaviour/concurrent", rg_conf_check_concurrent(&env, msg, sizeof msg), msg);

unload:
    if (conn)
        ad->disconnect(conn);
    if (dl)
        dlclose(dl);
    if (t.na)
        printf("# %zu not applicable\n", t.na);
    if (t.skipped)
        printf("# %zu skipped: their files say they do not apply to this adapter\n", t.skipped);
    printf("%zu passed, %zu failed\n", t.passed, t.failed);
done:
    release(&o, cases, ncases, &coll, errors, nerrors);
    return t.failed ? 1 : 0;
}
