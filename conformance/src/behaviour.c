/*
 * Behaviour cases built into the harness: an unreachable backend, a query
 * past its time budget, many connections in parallel, a sink that stops the
 * query, and ping. They need no expected rows, only the adapter's status.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conformance.h"

/* Beyond the budget, how long an adapter may take to notice. */
#define TIMEOUT_GRACE_MS 5000
#define UNREACHABLE_GRACE_MS 10000

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void say(char *msg, size_t msgsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *msg, size_t msgsz, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msgsz, fmt, ap);
    va_end(ap);
}

/* Every column, key order, no filter: the simplest full read. */
static void simple_plan(const rg_conf_env *env, const rg_collection_desc *coll,
                        rg_query_plan *p, rg_sort_key *key, size_t *cols, size_t limit)
{
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->collection = coll;
    key->struct_size = sizeof *key;
    key->field = coll->key_field;
    key->desc = 0;
    p->sort = key;
    p->nsort = 1;
    for (size_t i = 0; i < coll->nfields; i++)
        cols[i] = i;
    p->columns = cols;
    p->ncolumns = coll->nfields;
    p->limit = limit;
    p->timeout_ms = env->timeout_ms;
}

rg_conf_verdict rg_conf_check_unreachable(const rg_conf_env *env, char *msg, size_t msgsz)
{
    if (!env->unreachable) {
        say(msg, msgsz, "no --unreachable-option given");
        return RG_CONF_NA;
    }
    rg_source_info src;
    rg_conf_source_info(env->unreachable, &src, env->connect_timeout_ms);
    rg_error err = {.struct_size = sizeof err};
    void *conn = NULL;
    long long t0 = now_ms();
    rg_status st = env->ad->connect(&src, &conn, &err);
    const char *where = "connect";
    if (st == RG_OK) {
        /* Lazy clients connect on first use: then the query must say so. */
        where = "query after a successful connect";
        if (!conn) {
            say(msg, msgsz, "connect returned RG_OK without a connection");
            return RG_CONF_FAIL;
        }
        rg_query_plan p;
        rg_sort_key key;
        size_t cols[64];
        if (env->coll->desc.nfields > 64) {
            env->ad->disconnect(conn);
            say(msg, msgsz, "collection has too many fields");
            return RG_CONF_FAIL;
        }
        simple_plan(env, &env->coll->desc, &p, &key, cols, 5);
        rg_conf_result res = {0};
        rg_conf_run(env->ad, conn, &p, &res);
        st = res.status;
        err = res.err;
        rg_conf_result_free(&res);
        env->ad->disconnect(conn);
    }
    long long took = now_ms() - t0;
    if (st != RG_ERR_UNAVAILABLE) {
        say(msg, msgsz, "%s returned %s (%s), expected RG_ERR_UNAVAILABLE", where,
            rg_conf_status_name(st), err.message);
        return RG_CONF_FAIL;
    }
    if (took > (long long)env->connect_timeout_ms + UNREACHABLE_GRACE_MS) {
        say(msg, msgsz, "RG_ERR_UNAVAILABLE only after %lld ms (connect timeout %u ms)", took,
            env->connect_timeout_ms);
        return RG_CONF_FAIL;
    }
    say(msg, msgsz, "%s: RG_ERR_UNAVAILABLE after %lld ms: %s", where, took, err.message);
    return RG_CONF_PASS;
}

rg_conf_verdict rg_conf_check_timeout(const rg_conf_env *env, char *msg, size_t msgsz)
{
    if (!env->slow && !env->slow_target) {
        say(msg, msgsz, "no --slow-target or --slow-option given");
        return RG_CONF_NA;
    }
    rg_source_info src;
    rg_conf_source_info(env->slow ? env->slow : env->source, &src, env->connect_timeout_ms);
    rg_error err = {.struct_size = sizeof err};
    void *conn = NULL;
    rg_status st = env->ad->connect(&src, &conn, &err);
    if (st != RG_OK) {
        say(msg, msgsz, "connect (slow configuration): %s: %s", rg_conf_status_name(st),
            err.message);
        return RG_CONF_FAIL;
    }
    rg_collection_desc coll = env->coll->desc;
    if (env->slow_target)
        coll.target = env->slow_target;
    rg_query_plan p;
    rg_sort_key key;
    size_t cols[64];
    if (coll.nfields > 64) {
        env->ad->disconnect(conn);
        say(msg, msgsz, "collection has too many fields");
        return RG_CONF_FAIL;
    }
    simple_plan(env, &coll, &p, &key, cols, 10);
    p.timeout_ms = env->slow_timeout_ms;
    rg_conf_result res = {0};
    long long t0 = now_ms();
    rg_conf_run(env->ad, conn, &p, &res);
    long long took = now_ms() - t0;
    env->ad->disconnect(conn);
    rg_conf_verdict v = RG_CONF_PASS;
    if (res.status != RG_ERR_TIMEOUT) {
        say(msg, msgsz, "query with timeout_ms=%u returned %s after %lld ms (%s), expected "
            "RG_ERR_TIMEOUT", p.timeout_ms, rg_conf_status_name(res.status), took,
            res.err.message);
        v = RG_CONF_FAIL;
    } else if (took > (long long)p.timeout_ms + TIMEOUT_GRACE_MS) {
        say(msg, msgsz, "RG_ERR_TIMEOUT only after %lld ms for a budget of %u ms", took,
            p.timeout_ms);
        v = RG_CONF_FAIL;
    } else {
        say(msg, msgsz, "RG_ERR_TIMEOUT after %lld ms (budget %u ms)", took, p.timeout_ms);
    }
    rg_conf_result_free(&res);
    return v;
}

/* ---- concurrency ------------------------------------------------------------ */

typedef struct worker {
    const rg_conf_env *env;
    char **baseline; /* per case: canonical text of the single-threaded result */
    unsigned id;
    char failure[512];
    pthread_t thread;
} worker;

static char *result_text(rg_conf_result *res)
{
    if (res->status != RG_OK || res->problem[0]) {
        char buf[1100];
        snprintf(buf, sizeof buf, "%s %s %s", rg_conf_status_name(res->status), res->err.message,
                 res->problem);
        return strdup(buf);
    }
    return json_dumps(res->rows, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    const rg_conf_env *env = w->env;
    rg_source_info src;
    rg_conf_source_info(env->source, &src, env->connect_timeout_ms);
    rg_error err = {.struct_size = sizeof err};
    void *conn = NULL;
    rg_status st = env->ad->connect(&src, &conn, &err);
    if (st != RG_OK) {
        snprintf(w->failure, sizeof w->failure, "thread %u: connect: %s: %s", w->id,
                 rg_conf_status_name(st), err.message);
        return NULL;
    }
    /* Each thread walks the cases from a different start, so different plans
       overlap in time. */
    for (size_t k = 0; k < env->ncases && !w->failure[0]; k++) {
        size_t i = (k + w->id * 7) % env->ncases;
        if (!w->baseline[i])
            continue;
        rg_conf_result res = {0};
        rg_conf_run(env->ad, conn, &env->cases[i].plan, &res);
        char *text = result_text(&res);
        if (!text || strcmp(text, w->baseline[i]) != 0)
            snprintf(w->failure, sizeof w->failure,
                     "thread %u, case %s: result differs from the single-threaded run (%s)",
                     w->id, env->cases[i].name,
                     res.status != RG_OK ? rg_conf_status_name(res.status) : "different rows");
        free(text);
        rg_conf_result_free(&res);
    }
    env->ad->disconnect(conn);
    return NULL;
}

rg_conf_verdict rg_conf_check_concurrent(const rg_conf_env *env, char *msg, size_t msgsz)
{
    rg_source_info src;
    rg_conf_source_info(env->source, &src, env->connect_timeout_ms);
    rg_error err = {.struct_size = sizeof err};
    void *conn = NULL;
    rg_status st = env->ad->connect(&src, &conn, &err);
    if (st != RG_OK) {
        say(msg, msgsz, "connect: %s: %s", rg_conf_status_name(st), err.message);
        return RG_CONF_FAIL;
    }
    char **baseline = calloc(env->ncases ? env->ncases : 1, sizeof *baseline);
    worker *workers = calloc(env->nthreads, sizeof *workers);
    size_t nplans = 0;
    rg_conf_verdict v = RG_CONF_PASS;
    if (!baseline || !workers) {
        say(msg, msgsz, "out of memory");
        v = RG_CONF_FAIL;
        goto out;
    }
    for (size_t i = 0; i < env->ncases; i++) {
        if (!env->cases[i].doc || !env->cases[i].plan.collection)
            continue; /* a case file that did not load */
        rg_conf_result res = {0};
        rg_conf_run(env->ad, conn, &env->cases[i].plan, &res);
        baseline[i] = result_text(&res);
        rg_conf_result_free(&res);
        nplans += baseline[i] != NULL;
    }
    unsigned started = 0;
    for (unsigned t = 0; t < env->nthreads; t++) {
        workers[t].env = env;
        workers[t].baseline = baseline;
        workers[t].id = t;
        if (pthread_create(&workers[t].thread, NULL, worker_main, &workers[t]) != 0) {
            snprintf(workers[t].failure, sizeof workers[t].failure,
                     "thread %u could not be started", t);
            break;
        }
        started++;
    }
    for (unsigned t = 0; t < started; t++)
        pthread_join(workers[t].thread, NULL);
    size_t failed = 0;
    for (unsigned t = 0; t < env->nthreads; t++) {
        if (workers[t].failure[0] && !failed++)
            say(msg, msgsz, "%s", workers[t].failure);
    }
    if (failed) {
        v = RG_CONF_FAIL;
        size_t len = strlen(msg);
        if (failed > 1 && len < msgsz)
            snprintf(msg + len, msgsz - len, " (and %zu more thread%s failed)", failed - 1,
                     failed == 2 ? "" : "s");
    } else {
        say(msg, msgsz, "%u threads, each with its own connection, ran %zu plans each",
            env->nthreads, nplans);
    }
out:
    if (baseline)
        for (size_t i = 0; i < env->ncases; i++)
            free(baseline[i]);
    free(baseline);
    free(workers);
    env->ad->disconnect(conn);
    return v;
}

/* ---- sink abort, ping --------------------------------------------------------- */

rg_conf_verdict rg_conf_check_sink_abort(const rg_conf_env *env, void *conn, char *msg,
                                         size_t msgsz)
{
    rg_query_plan p;
    rg_sort_key key;
    size_t cols[64];
    if (env->coll->desc.nfields > 64) {
        say(msg, msgsz, "collection has too many fields");
        return RG_CONF_FAIL;
    }
    simple_plan(env, &env->coll->desc, &p, &key, cols, 1000);
    rg_conf_result full = {0}, stopped = {0}, again = {0};
    rg_conf_verdict v = RG_CONF_FAIL;
    rg_conf_run(env->ad, conn, &p, &full);
    if (full.status != RG_OK || json_array_size(full.rows) < 2) {
        say(msg, msgsz, "reading every row: %s (%s), %zu rows; need at least 2",
            rg_conf_status_name(full.status), full.err.message, json_array_size(full.rows));
        goto out;
    }
    stopped.stop_after = 1;
    rg_conf_run(env->ad, conn, &p, &stopped);
    if (stopped.status != RG_ERR_ABORTED) {
        say(msg, msgsz, "the sink returned 1 after the first row; the adapter returned %s (%s), "
            "expected RG_ERR_ABORTED", rg_conf_status_name(stopped.status), stopped.err.message);
        goto out;
    }
    if (stopped.calls != 1) {
        say(msg, msgsz, "the sink asked to stop after the first row but was called %zu times",
            stopped.calls);
        goto out;
    }
    /* Stopping is not a failure: the same connection keeps working. */
    rg_conf_run(env->ad, conn, &p, &again);
    if (again.status != RG_OK || !json_equal(again.rows, full.rows)) {
        say(msg, msgsz, "after an aborted query the same connection returned %s with %zu rows "
            "(expected RG_OK with %zu rows)", rg_conf_status_name(again.status),
            json_array_size(again.rows), json_array_size(full.rows));
        goto out;
    }
    say(msg, msgsz, "RG_ERR_ABORTED after one row; the connection still answers");
    v = RG_CONF_PASS;
out:
    rg_conf_result_free(&full);
    rg_conf_result_free(&stopped);
    rg_conf_result_free(&again);
    return v;
}

rg_conf_verdict rg_conf_check_ping(const rg_conf_env *env, void *conn, char *msg, size_t msgsz)
{
    rg_error err = {.struct_size = sizeof err};
    rg_status st = env->ad->ping(conn, &err);
    if (st != RG_OK) {
        say(msg, msgsz, "ping returned %s: %s", rg_conf_status_name(st), err.message);
        return RG_CONF_FAIL;
    }
    say(msg, msgsz, "ping returned RG_OK");
    return RG_CONF_PASS;
}
