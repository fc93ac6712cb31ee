/*
 * Error cases: conformance/errors/<name>.json.
 *
 * Each file names one way to make an adapter fail (a plan value typed
 * differently from its field, a backend column that does not hold the type
 * the collection declares, a backend that is down, too slow, silent, or that
 * refuses the credentials), the status connect or the query must return
 * then, and, per first-party adapter, where its backend genuinely differs and
 * why. Whatever the case, the adapter must not crash, must not pass rows that
 * are not the backend's data, must fail within its time budget, and its
 * message must name no secret and no value of the plan or of the data: the
 * gateway logs it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conformance.h"

/* Beyond the budget, how long an adapter may take to notice: the same
   allowances the gateway's callers can live with. */
#define QUERY_GRACE_MS 5000
#define CONNECT_GRACE_MS 10000
/* Shorter texts are too likely to occur in a message by chance. */
#define MIN_NEEDLE 4
#define MAX_NEEDLES 256

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the silent backend ------------------------------------------------- */

/*
 * A loopback port that accepts TCP connections and never answers. It never
 * calls accept(): the kernel completes the handshakes of the listen backlog
 * by itself, and whatever the client sends stays unread, which is exactly a
 * hung server. Closing the socket resets the pending connections.
 */
int rg_conf_stall_open(rg_conf_stall *s, char *err, size_t errsz)
{
    if (s->fd > 0)
        return 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errsz, "cannot create the silent listener: %s", strerror(errno));
        return -1;
    }
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t alen = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
        snprintf(err, errsz, "cannot listen on loopback: %s", strerror(errno));
        close(fd);
        return -1;
    }
    s->fd = fd;
    s->port = ntohs(a.sin_port);
    return 0;
}

void rg_conf_stall_close(rg_conf_stall *s)
{
    if (s->fd > 0)
        close(s->fd);
    s->fd = -1;
    s->port = 0;
}

/* `in` with {stalled} (host:port) and {stalled_port} replaced; NULL when out
   of memory. */
static char *substitute(const char *in, const rg_conf_stall *s)
{
    char hostport[32], port[8];
    snprintf(hostport, sizeof hostport, "127.0.0.1:%d", s->port);
    snprintf(port, sizeof port, "%d", s->port);
    size_t cap = strlen(in) * 2 + 64, n = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    for (const char *p = in; *p;) {
        const char *rep = NULL;
        size_t skip = 0;
        if (!strncmp(p, "{stalled}", 9))
            rep = hostport, skip = 9;
        else if (!strncmp(p, "{stalled_port}", 14))
            rep = port, skip = 14;
        size_t add = rep ? strlen(rep) : 1;
        if (n + add + 1 > cap) {
            cap = (n + add + 1) * 2;
            char *grown = realloc(out, cap);
            if (!grown) {
                free(out);
                return NULL;
            }
            out = grown;
        }
        if (rep) {
            memcpy(out + n, rep, add);
            p += skip;
        } else {
            out[n] = *p++;
        }
        n += add;
    }
    out[n] = '\0';
    return out;
}

static int has_placeholder(const rg_conf_source *s)
{
    for (size_t i = 0; i < s->noptions; i++)
        if (strstr(s->options[i].value, "{stalled}") || strstr(s->options[i].value, "{stalled_port}"))
            return 1;
    return 0;
}

/* ---- what the message must not say ----------------------------------------- */

typedef struct needles {
    char *text[MAX_NEEDLES];
    const char *what[MAX_NEEDLES]; /* static descriptions */
    size_t n;
} needles;

static void needles_free(needles *nd)
{
    for (size_t i = 0; i < nd->n; i++)
        free(nd->text[i]);
    nd->n = 0;
}

/* 0, or -1 out of memory; short texts are left out (see MIN_NEEDLE). */
static int add_needle(needles *nd, const char *s, size_t len, const char *what)
{
    if (len < MIN_NEEDLE || nd->n == MAX_NEEDLES)
        return 0;
    for (size_t i = 0; i < nd->n; i++)
        if (strlen(nd->text[i]) == len && !memcmp(nd->text[i], s, len))
            return 0;
    if (!(nd->text[nd->n] = strndup(s, len)))
        return -1;
    nd->what[nd->n++] = what;
    return 0;
}

static int secret_key(const char *key)
{
    static const char *const parts[] = {"password", "passwd", "secret", "token", "key",
                                        "credential"};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (strcasestr(key, parts[i]))
            return 1;
    return 0;
}

/*
 * The secrets in a source's options: whole values of options whose name says
 * secret (password, access_token, api_key, ...), a password=... inside a
 * connection string, and the password of a URI's user:password@.
 */
static int add_secrets(needles *nd, const rg_conf_source *s)
{
    for (size_t i = 0; i < s->noptions; i++) {
        const char *v = s->options[i].value;
        if (secret_key(s->options[i].key) &&
            add_needle(nd, v, strlen(v), "a secret option's value") != 0)
            return -1;
        for (const char *p = v; (p = strstr(p, "password")); p += 8) {
            const char *q = p + 8;
            while (*q == ' ')
                q++;
            if (*q++ != '=')
                continue;
            while (*q == ' ')
                q++;
            char quote = (*q == '\'' || *q == '"') ? *q++ : 0;
            size_t len = quote ? strcspn(q, quote == '\'' ? "'" : "\"") : strcspn(q, " &;");
            if (add_needle(nd, q, len, "the password in a connection string") != 0)
                return -1;
        }
        const char *scheme = strstr(v, "://");
        if (scheme) {
            const char *auth = scheme + 3;
            size_t alen = strcspn(auth, "/?#");
            const char *at = memchr(auth, '@', alen);
            const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
            if (colon && add_needle(nd, colon + 1, (size_t)(at - colon - 1),
                                    "the password in a URI") != 0)
                return -1;
        }
    }
    return 0;
}

static int add_plan_value(needles *nd, const rg_value *v)
{
    char num[32];
    if (v->is_null)
        return 0;
    switch (v->type) {
    case RG_TYPE_INTEGER:
        snprintf(num, sizeof num, "%lld", (long long)v->u.i);
        return add_needle(nd, num, strlen(num), "a value of the plan");
    case RG_TYPE_NUMBER:
        snprintf(num, sizeof num, "%g", v->u.n);
        return add_needle(nd, num, strlen(num), "a value of the plan");
    case RG_TYPE_BOOLEAN:
        return 0;
    default:
        return add_needle(nd, v->u.str.ptr ? v->u.str.ptr : "", v->u.str.len,
                          "a value of the plan");
    }
}

static int add_plan_values(needles *nd, const rg_query_plan *p)
{
    for (size_t i = 0; i < p->nfilters; i++)
        for (size_t k = 0; k < p->filters[i].nvalues; k++)
            if (add_plan_value(nd, &p->filters[i].values[k]) != 0)
                return -1;
    for (size_t i = 0; p->after && i < p->nsort; i++)
        if (add_plan_value(nd, &p->after[i]) != 0)
            return -1;
    return 0;
}

/* The message names none of the needles; else why, in `why`, and the
   message with what it quotes masked, in `shown`: the run's output must not
   repeat the secret either. */
static int message_clean(const char *message, const needles *nd, char *why, size_t whysz,
                         char *shown, size_t shownsz)
{
    for (size_t i = 0; i < nd->n; i++) {
        const char *hit = strstr(message, nd->text[i]);
        if (!hit)
            continue;
        snprintf(why, whysz, "the message quotes %s", nd->what[i]);
        size_t n = 0, len = strlen(nd->text[i]);
        for (const char *p = message; *p && n + 4 < shownsz;) {
            if (!strncmp(p, nd->text[i], len)) {
                memcpy(shown + n, "***", 3);
                n += 3;
                p += len;
            } else {
                shown[n++] = *p++;
            }
        }
        shown[n] = '\0';
        return 0;
    }
    return 1;
}

/* ---- running a case ---------------------------------------------------------- */

/* The expectation for this adapter: its own entry in "adapters", or the
   file's. Returns the not-applicable reason when the entry says so. */
static const char *expectation(const rg_conf_error_case *c, const char *adapter, rg_conf_expect *e,
                               const char **reason)
{
    *e = c->expect;
    *reason = NULL;
    json_t *entry = json_object_get(json_object_get(c->doc, "adapters"), adapter);
    if (!entry)
        return NULL;
    const char *na = json_string_value(json_object_get(entry, "not_applicable"));
    if (na)
        return na;
    char ignored[256];
    /* Validated when the file loaded. */
    if (rg_conf_parse_expect(json_object_get(entry, "expect"), e, "adapters", ignored,
                             sizeof ignored) != 0)
        *e = c->expect;
    *reason = json_string_value(json_object_get(entry, "reason"));
    return NULL;
}

static const rg_conf_source *source_for(const rg_conf_env *env, const rg_conf_error_case *c,
                                        const char **missing)
{
    switch (c->kind) {
    case RG_CONF_ERR_PLAN:
    case RG_CONF_ERR_COLUMN:
        return env->source;
    case RG_CONF_ERR_UNREACHABLE:
        *missing = "no --unreachable-option given";
        return env->unreachable;
    case RG_CONF_ERR_TIMEOUT:
        *missing = "no --slow-target or --slow-option given";
        return env->slow ? env->slow : env->slow_target ? env->source : NULL;
    case RG_CONF_ERR_STALLED:
        *missing = "no --stalled-option given";
        return env->stalled;
    case RG_CONF_ERR_AUTH:
        *missing = "no --auth-option given";
        return env->auth;
    }
    return NULL;
}

/* A copy of `base` with the silent listener's address filled in. */
static int prepare_source(const rg_conf_env *env, const rg_conf_source *base, rg_conf_source *out,
                          char *msg, size_t msgsz)
{
    if (rg_conf_source_copy(out, base) != 0) {
        rg_conf_say(msg, msgsz, "out of memory");
        return -1;
    }
    if (!has_placeholder(out))
        return 0;
    char err[256];
    if (rg_conf_stall_open(env->stall, err, sizeof err) != 0) {
        rg_conf_say(msg, msgsz, "%s", err);
        rg_conf_source_free(out);
        return -1;
    }
    for (size_t i = 0; i < out->noptions; i++) {
        char *v = substitute(out->options[i].value, env->stall);
        if (!v) {
            rg_conf_say(msg, msgsz, "out of memory");
            rg_conf_source_free(out);
            return -1;
        }
        free((char *)out->options[i].value);
        out->options[i].value = v;
    }
    return 0;
}

/*
 * Column cases: the same plan on the collection as configured must work and
 * return data in the field, or the case could not fail; those values are
 * what the error message must not quote.
 */
static int reference_run(const rg_conf_env *env, void *conn, const rg_conf_error_case *c,
                         needles *nd, char *msg, size_t msgsz)
{
    rg_query_plan p = c->plan;
    p.collection = &env->coll->desc;
    rg_conf_result res = {0};
    rg_conf_run(env->ad, conn, &p, &res);
    int rc = -1;
    const char *name = env->coll->desc.fields[c->declared].name;
    size_t nonnull = 0, i;
    json_t *row;
    if (res.status != RG_OK || res.problem[0]) {
        rg_conf_say(msg, msgsz, "the same plan with '%s' declared %s failed: %s %s%s", name,
            rg_conf_type_name(env->coll->desc.fields[c->declared].type),
            rg_conf_status_name(res.status), res.err.message, res.problem);
        goto out;
    }
    json_array_foreach(res.rows, i, row) {
        json_t *v = json_object_get(row, name);
        if (!json_is_string(v))
            continue;
        nonnull++;
        if (add_needle(nd, json_string_value(v), json_string_length(v), "a value of the data") != 0) {
            rg_conf_say(msg, msgsz, "out of memory");
            goto out;
        }
    }
    if (!nonnull) {
        rg_conf_say(msg, msgsz, "the plan reads no value of '%s': the case proves nothing", name);
        goto out;
    }
    rc = 0;
out:
    rg_conf_result_free(&res);
    return rc;
}

/* After a refused plan the gateway keeps the connection: it must still answer. */
static int still_answers(const rg_conf_env *env, void *conn, char *msg, size_t msgsz)
{
    const rg_collection_desc *coll = &env->coll->desc;
    rg_sort_key key = {.struct_size = sizeof key, .field = coll->key_field, .desc = 0};
    size_t col = coll->key_field;
    rg_query_plan p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.collection = coll;
    p.sort = &key;
    p.nsort = 1;
    p.columns = &col;
    p.ncolumns = 1;
    p.limit = 1;
    p.timeout_ms = env->timeout_ms;
    rg_conf_result res = {0};
    rg_conf_run(env->ad, conn, &p, &res);
    int ok = res.status == RG_OK && !res.problem[0] && json_array_size(res.rows) == 1;
    if (!ok)
        rg_conf_say(msg, msgsz,
                    "after the error the same connection returned %s (%s) with %zu rows for a "
                    "valid plan; expected RG_OK with 1 row",
                    rg_conf_status_name(res.status), res.err.message, json_array_size(res.rows));
    rg_conf_result_free(&res);
    return ok ? 0 : -1;
}

/* Rows that reached the sink before the error: what each kind allows. */
static int rows_ok(const rg_conf_error_case *c, const rg_conf_result *res, char *msg, size_t msgsz)
{
    if (res->problem[0]) {
        rg_conf_say(msg, msgsz, "a row broke the ABI: %s", res->problem);
        return 0;
    }
    if (c->kind == RG_CONF_ERR_PLAN && json_array_size(res->rows)) {
        rg_conf_say(msg, msgsz, "%zu rows reached the sink for a plan the adapter must refuse",
            json_array_size(res->rows));
        return 0;
    }
    if (c->kind == RG_CONF_ERR_COLUMN) {
        const char *name = c->coll.fields[c->declared].name;
        size_t i;
        json_t *row;
        json_array_foreach(res->rows, i, row) {
            json_t *v = json_object_get(row, name);
            if (v && !json_is_null(v)) {
                char *text = rg_conf_row_text(row);
                rg_conf_say(msg, msgsz,
                            "a row reached the sink with a value typed %s for '%s', whose "
                            "column holds none: %s",
                            rg_conf_type_name(c->coll.fields[c->declared].type), name,
                            text ? text : "?");
                free(text);
                return 0;
            }
        }
    }
    return 1;
}

rg_conf_verdict rg_conf_error_run(const rg_conf_env *env, void *conn, const rg_conf_error_case *c,
                                  char *msg, size_t msgsz)
{
    rg_conf_expect want;
    const char *reason;
    const char *na = expectation(c, env->ad->name, &want, &reason);
    if (na) {
        rg_conf_say(msg, msgsz, "%s: %s", env->ad->name, na);
        return RG_CONF_SKIP;
    }
    const char *missing = "";
    const rg_conf_source *base = source_for(env, c, &missing);
    if (!base) {
        rg_conf_say(msg, msgsz, "%s", missing);
        return RG_CONF_NA;
    }
    rg_conf_source src;
    if (prepare_source(env, base, &src, msg, msgsz) != 0)
        return RG_CONF_FAIL;

    rg_conf_verdict v = RG_CONF_FAIL;
    needles nd = {0};
    rg_query_plan plan = c->plan;
    rg_collection_desc slow_coll = c->coll;
    rg_conf_result res = {0};
    void *own = NULL;
    const char *as = reason ? " (as this adapter's entry expects)" : "";
    char why[300] = "";
    if (add_secrets(&nd, &src) != 0 || add_secrets(&nd, env->source) != 0 ||
        add_plan_values(&nd, &plan) != 0) {
        rg_conf_say(msg, msgsz, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < env->nsecrets; i++)
        if (add_needle(&nd, env->secrets[i], strlen(env->secrets[i]), "a --secret") != 0) {
            rg_conf_say(msg, msgsz, "out of memory");
            goto out;
        }
    if (c->kind == RG_CONF_ERR_TIMEOUT || c->kind == RG_CONF_ERR_STALLED)
        plan.timeout_ms = env->slow_timeout_ms;
    if (c->kind == RG_CONF_ERR_TIMEOUT && env->slow_target) {
        slow_coll.target = env->slow_target;
        plan.collection = &slow_coll;
    }

    /* Connect: plan and column cases use the run's connection, whose
       connect has already passed (adapter/connect). */
    const char *phase = "query";
    rg_status got;
    rg_error err = {.struct_size = sizeof err};
    long long took = 0;
    if (c->kind == RG_CONF_ERR_COLUMN && reference_run(env, conn, c, &nd, msg, msgsz) != 0)
        goto out;
    if (c->kind != RG_CONF_ERR_PLAN && c->kind != RG_CONF_ERR_COLUMN) {
        rg_source_info info;
        rg_conf_source_info(&src, &info, env->connect_timeout_ms);
        long long t0 = now_ms();
        got = env->ad->connect(&info, &own, &err);
        took = now_ms() - t0;
        err.message[sizeof err.message - 1] = '\0';
        if (got != RG_OK) {
            own = NULL;
            phase = "connect";
            if (took > (long long)env->connect_timeout_ms + CONNECT_GRACE_MS) {
                rg_conf_say(msg, msgsz,
                            "connect returned %s only after %lld ms (connect timeout %u ms)",
                            rg_conf_status_name(got), took, env->connect_timeout_ms);
                goto out;
            }
            goto judge;
        }
        if (!own) {
            rg_conf_say(msg, msgsz, "connect returned RG_OK without a connection");
            goto out;
        }
        conn = own;
    }
    long long t0 = now_ms();
    rg_conf_run(env->ad, conn, &plan, &res);
    took = now_ms() - t0;
    got = res.status;
    err = res.err;
    if (took > (long long)plan.timeout_ms + QUERY_GRACE_MS) {
        rg_conf_say(msg, msgsz, "the query returned %s only after %lld ms for a budget of %u ms",
            rg_conf_status_name(got), took, plan.timeout_ms);
        goto out;
    }
    if (!rows_ok(c, &res, msg, msgsz))
        goto out;

judge:;
    rg_status expected = !strcmp(phase, "connect") ? want.connect : want.query;
    if (got == RG_OK) {
        if (want.query)
            rg_conf_say(msg, msgsz, "the query returned RG_OK with %zu rows; expected %s",
                json_array_size(res.rows), rg_conf_status_name(want.query));
        else
            rg_conf_say(msg, msgsz, "connect returned RG_OK; expected %s from connect%s",
                rg_conf_status_name(want.connect), as);
        goto out;
    }
    if (!expected) {
        rg_conf_say(msg, msgsz,
                    "%s returned %s (%s); expected %s to succeed and the query to return %s%s",
                    phase, rg_conf_status_name(got), err.message, phase,
                    rg_conf_status_name(want.query), as);
        goto out;
    }
    if (got != expected) {
        rg_conf_say(msg, msgsz, "%s returned %s (%s); expected %s%s", phase,
                    rg_conf_status_name(got), err.message, rg_conf_status_name(expected), as);
        goto out;
    }
    if (!err.message[0]) {
        rg_conf_say(msg, msgsz,
                    "%s returned %s with an empty message: the log would not say what failed",
                    phase, rg_conf_status_name(got));
        goto out;
    }
    char shown[sizeof err.message + 64];
    if (!message_clean(err.message, &nd, why, sizeof why, shown, sizeof shown)) {
        rg_conf_say(msg, msgsz, "%s returned %s, but %s: %s", phase, rg_conf_status_name(got), why,
                    shown);
        goto out;
    }
    if ((c->kind == RG_CONF_ERR_PLAN || c->kind == RG_CONF_ERR_COLUMN) &&
        still_answers(env, conn, msg, msgsz) != 0)
        goto out;
    rg_conf_say(msg, msgsz, "%s: %s after %lld ms%s: %s", phase, rg_conf_status_name(got), took, as,
        err.message);
    v = RG_CONF_PASS;
out:
    if (own)
        env->ad->disconnect(own);
    rg_conf_result_free(&res);
    needles_free(&nd);
    rg_conf_source_free(&src);
    return v;
}
