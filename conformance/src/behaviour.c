/*
 * Behaviour cases built into the harness: many connections in parallel, a
 * sink that stops the query, and ping. They need no expected rows, only the
 * adapter's status. (A backend that is down or too slow is an error case:
 * errors.c.)
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conformance.h"

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
        rg_conf_say(msg, msgsz, "connect: %s: %s", rg_conf_status_name(st), err.message);
        return RG_CONF_FAIL;
    }
    char **baseline = calloc(env->ncases ? env->ncases : 1, sizeof *baseline);
    worker *workers = calloc(env->nthreads, sizeof *workers);
    size_t nplans = 0;
    rg_conf_verdict v = RG_CONF_PASS;
    if (!baseline || !workers) {
        rg_conf_say(msg, msgsz, "out of memory");
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
            rg_conf_say(msg, msgsz, "%s", workers[t].failure);
    }
    if (failed) {
        v = RG_CONF_FAIL;
        size_t len = strlen(msg);
        if (failed > 1 && len < msgsz)
            snprintf(msg + len, msgsz - len, " (and %zu more thread%s failed)", failed - 1,
                     failed == 2 ? "" : "s");
    } else {
        rg_conf_say(msg, msgsz, "%u threads, each with its own connection, ran %zu plans each",
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

#define MAX_PLAN_COLUMNS 64

/* Every row of the collection, all its fields, up to 1000: 0, or -1 (with
   the reason in msg) when the collection has too many fields for cols. */
static int every_row_plan(const rg_conf_env *env, rg_query_plan *p, rg_sort_key *key,
                          size_t cols[MAX_PLAN_COLUMNS], char *msg, size_t msgsz)
{
    if (env->coll->desc.nfields > MAX_PLAN_COLUMNS) {
        rg_conf_say(msg, msgsz, "collection has too many fields");
        return -1;
    }
    simple_plan(env, &env->coll->desc, p, key, cols, 1000);
    return 0;
}

/* ---- sink abort, ping --------------------------------------------------------- */

rg_conf_verdict rg_conf_check_sink_abort(const rg_conf_env *env, void *conn, char *msg,
                                         size_t msgsz)
{
    rg_query_plan p;
    rg_sort_key key;
    size_t cols[MAX_PLAN_COLUMNS];
    if (every_row_plan(env, &p, &key, cols, msg, msgsz) != 0)
        return RG_CONF_FAIL;
    rg_conf_result full = {0}, stopped = {0}, again = {0};
    rg_conf_verdict v = RG_CONF_FAIL;
    rg_conf_run(env->ad, conn, &p, &full);
    if (full.status != RG_OK || json_array_size(full.rows) < 2) {
        rg_conf_say(msg, msgsz, "reading every row: %s (%s), %zu rows; need at least 2",
            rg_conf_status_name(full.status), full.err.message, json_array_size(full.rows));
        goto out;
    }
    stopped.stop_after = 1;
    rg_conf_run(env->ad, conn, &p, &stopped);
    if (stopped.status != RG_ERR_ABORTED) {
        rg_conf_say(msg, msgsz,
                    "the sink returned 1 after the first row; the adapter returned %s (%s), "
                    "expected RG_ERR_ABORTED",
                    rg_conf_status_name(stopped.status), stopped.err.message);
        goto out;
    }
    if (stopped.calls != 1) {
        rg_conf_say(msg, msgsz,
                    "the sink asked to stop after the first row but was called %zu times",
                    stopped.calls);
        goto out;
    }
    /* Stopping is not a failure: the same connection keeps working. */
    rg_conf_run(env->ad, conn, &p, &again);
    if (again.status != RG_OK || !json_equal(again.rows, full.rows)) {
        rg_conf_say(msg, msgsz,
                    "after an aborted query the same connection returned %s with %zu rows "
                    "(expected RG_OK with %zu rows)",
                    rg_conf_status_name(again.status), json_array_size(again.rows),
                    json_array_size(full.rows));
        goto out;
    }
    rg_conf_say(msg, msgsz, "RG_ERR_ABORTED after one row; the connection still answers");
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
        rg_conf_say(msg, msgsz, "ping returned %s: %s", rg_conf_status_name(st), err.message);
        return RG_CONF_FAIL;
    }
    rg_conf_say(msg, msgsz, "ping returned RG_OK");
    return RG_CONF_PASS;
}

/* ---- non-blocking queries ------------------------------------------------------ */

/*
 * An adapter with the 2.1 non-blocking entries must give, through them,
 * exactly what its blocking query gives for every case (readgate runs such
 * a source's queries on its event loops with them), and a sink that stops
 * must end the query with RG_ERR_ABORTED there too.
 */
rg_conf_verdict rg_conf_check_nonblocking(const rg_conf_env *env, void *conn, char *msg,
                                          size_t msgsz)
{
    const rg_adapter *ad = env->ad;
    int has = ad->struct_size >= RG_ADAPTER_SIZE_2_1;
    int n = has ? !!ad->query_start + !!ad->query_resume + !!ad->socket : 0;
    if (n == 0) {
        /* Optional, and "none" is one of the two valid answers. */
        rg_conf_say(msg, msgsz,
                    "no non-blocking queries (optional): readgate runs them on workers");
        return RG_CONF_PASS;
    }
    if (n != 3) {
        rg_conf_say(msg, msgsz,
                    "query_start, query_resume and socket go together: the adapter sets %d of "
                    "the three",
                    n);
        return RG_CONF_FAIL;
    }
    for (size_t i = 0; i < env->ncases; i++) {
        const rg_conf_case *c = &env->cases[i];
        rg_conf_result res = {0};
        rg_conf_run_nonblocking(ad, conn, &c->plan, &res);
        json_t *got = rg_conf_project(c, res.rows);
        int ok = res.status == RG_OK && !res.problem[0] && rg_conf_rows_equal(c, c->expected, got);
        if (!ok)
            rg_conf_say(msg, msgsz, "%s through query_start/query_resume: %s (%s)%s%s", c->name,
                rg_conf_status_name(res.status), res.err.message, res.problem[0] ? "; " : "",
                res.problem[0] ? res.problem : (res.status == RG_OK ? "; other rows" : ""));
        json_decref(got);
        rg_conf_result_free(&res);
        if (!ok)
            return RG_CONF_FAIL;
    }
    rg_query_plan p;
    rg_sort_key key;
    size_t cols[MAX_PLAN_COLUMNS];
    if (every_row_plan(env, &p, &key, cols, msg, msgsz) != 0)
        return RG_CONF_FAIL;
    rg_conf_result stopped = {0};
    stopped.stop_after = 1;
    rg_conf_run_nonblocking(ad, conn, &p, &stopped);
    rg_status st = stopped.status;
    size_t calls = stopped.calls;
    rg_conf_result_free(&stopped);
    if (st != RG_ERR_ABORTED || calls != 1) {
        rg_conf_say(msg, msgsz,
                    "the sink asked to stop after the first row: the adapter returned %s after "
                    "%zu calls, expected RG_ERR_ABORTED after 1",
                    rg_conf_status_name(st), calls);
        return RG_CONF_FAIL;
    }
    rg_conf_say(msg, msgsz, "%zu cases and a stopping sink through query_start/query_resume",
        env->ncases);
    return RG_CONF_PASS;
}
