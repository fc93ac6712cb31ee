/*
 * A test adapter that wraps a real one and makes its backend calls
 * observable, for the result cache and coalescing tests:
 *
 *   inner:      path of the adapter .so that really answers (required)
 *   count_file: every query() appends "<site_id> <source>\n" here, before
 *               anything else, so a test counts real backend calls
 *   gate_file:  when set, query() waits until this file exists (or the
 *               plan's timeout passes: RG_ERR_TIMEOUT), so a test can hold
 *               a query in flight for as long as it needs, without guessing
 *               at timings
 *   fail_file:  when this file exists, query() fails with RG_ERR_UPSTREAM
 *
 * Every other option is passed to the inner adapter.
 */
#include <readgate/adapter.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "plugin/plugin_loader.h"

static const rg_host_api *host;

typedef struct counting_conn {
    void *dl;
    const rg_adapter *inner;
    void *inner_conn;
    char *count_file, *gate_file, *fail_file;
    char *site_id, *source;
} counting_conn;

static int own_option(const char *key)
{
    return strcmp(key, "inner") == 0 || strcmp(key, "count_file") == 0 ||
           strcmp(key, "gate_file") == 0 || strcmp(key, "fail_file") == 0;
}

static const char *option(const rg_source_info *src, const char *key)
{
    for (size_t i = 0; i < src->noptions; i++) {
        const rg_option *o = rg_option_at(src->options, i);
        if (strcmp(o->key, key) == 0)
            return o->value;
    }
    return NULL;
}

/* Load the inner adapter; on success *dl and *inner are set. */
static rg_status load_inner(const rg_source_info *src, void **dl, const rg_adapter **inner,
                            rg_error *err)
{
    const char *path = option(src, "inner");
    if (!path || !*path) {
        err->status = RG_ERR_CONFIG;
        snprintf(err->message, sizeof err->message, "option 'inner' (an adapter .so) is required");
        return RG_ERR_CONFIG;
    }
    char why[512];
    /* The inner adapter may have any file name: skip the name check. */
    *inner = rg_plugin_open(&rg_plugin_adapter, path, NULL, host, dl, why, sizeof why);
    if (!*inner) {
        err->status = RG_ERR_CONFIG;
        snprintf(err->message, sizeof err->message, "option 'inner': %.200s", why);
        return RG_ERR_CONFIG;
    }
    return RG_OK;
}

/* src with this adapter's own options left out; opts must hold noptions. */
static rg_source_info inner_info(const rg_source_info *src, rg_option *opts)
{
    rg_source_info in = *src;
    size_t n = 0;
    for (size_t i = 0; i < src->noptions; i++) {
        const rg_option *o = rg_option_at(src->options, i);
        /* Our array has our element size, whatever the gateway's is. */
        if (!own_option(o->key))
            opts[n++] = (rg_option){.struct_size = sizeof(rg_option), .key = o->key,
                                    .value = o->value};
    }
    in.options = opts;
    in.noptions = n;
    return in;
}

static rg_status check_options(const rg_source_info *src, rg_error *err)
{
    void *dl;
    const rg_adapter *inner;
    if (load_inner(src, &dl, &inner, err) != RG_OK)
        return RG_ERR_CONFIG;
    rg_status st = RG_OK;
    if (inner->check_options) {
        rg_option *opts = calloc(src->noptions ? src->noptions : 1, sizeof *opts);
        if (!opts) {
            dlclose(dl);
            err->status = RG_ERR_INTERNAL;
            snprintf(err->message, sizeof err->message, "out of memory");
            return RG_ERR_INTERNAL;
        }
        rg_source_info in = inner_info(src, opts);
        st = inner->check_options(&in, err);
        free(opts);
    }
    dlclose(dl);
    return st;
}

static char *dup_opt(const rg_source_info *src, const char *key)
{
    const char *v = option(src, key);
    return v && *v ? strdup(v) : NULL;
}

static void conn_free(counting_conn *c)
{
    if (c->inner_conn)
        c->inner->disconnect(c->inner_conn);
    if (c->dl)
        dlclose(c->dl);
    free(c->count_file);
    free(c->gate_file);
    free(c->fail_file);
    free(c->site_id);
    free(c->source);
    free(c);
}

static rg_status connect_(const rg_source_info *src, void **out, rg_error *err)
{
    counting_conn *c = calloc(1, sizeof *c);
    if (!c) {
        err->status = RG_ERR_INTERNAL;
        snprintf(err->message, sizeof err->message, "out of memory");
        return RG_ERR_INTERNAL;
    }
    rg_status st = load_inner(src, &c->dl, &c->inner, err);
    if (st != RG_OK) {
        conn_free(c);
        return st;
    }
    c->count_file = dup_opt(src, "count_file");
    c->gate_file = dup_opt(src, "gate_file");
    c->fail_file = dup_opt(src, "fail_file");
    c->site_id = strdup(src->site_id);
    c->source = strdup(src->source_name);
    rg_option *opts = calloc(src->noptions ? src->noptions : 1, sizeof *opts);
    if (!c->site_id || !c->source || !opts) {
        free(opts);
        conn_free(c);
        err->status = RG_ERR_INTERNAL;
        snprintf(err->message, sizeof err->message, "out of memory");
        return RG_ERR_INTERNAL;
    }
    rg_source_info in = inner_info(src, opts);
    st = c->inner->connect(&in, &c->inner_conn, err);
    free(opts);
    if (st != RG_OK) {
        c->inner_conn = NULL;
        conn_free(c);
        return st;
    }
    *out = c;
    return RG_OK;
}

static int record_call(const counting_conn *c)
{
    if (!c->count_file)
        return 0;
    char line[512];
    int n = snprintf(line, sizeof line, "%s %s\n", c->site_id, c->source);
    if (n < 0 || (size_t)n >= sizeof line)
        return -1;
    int fd = open(c->count_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    /* One write with O_APPEND: lines of concurrent workers never interleave. */
    ssize_t w = write(fd, line, (size_t)n);
    int rc = close(fd);
    return w == n && rc == 0 ? 0 : -1;
}

static rg_status query(void *conn, const rg_query_plan *plan, const rg_row_sink *sink,
                       rg_error *err)
{
    counting_conn *c = conn;
    if (record_call(c) != 0) {
        err->status = RG_ERR_INTERNAL;
        snprintf(err->message, sizeof err->message, "cannot append to count_file: %s",
                 strerror(errno));
        return RG_ERR_INTERNAL;
    }
    if (c->gate_file) {
        struct timespec t0, now, tick = {0, 10 * 1000 * 1000};
        clock_gettime(CLOCK_MONOTONIC, &t0);
        while (access(c->gate_file, F_OK) != 0) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            long long ms = (now.tv_sec - t0.tv_sec) * 1000LL + (now.tv_nsec - t0.tv_nsec) / 1000000;
            if (ms >= (long long)plan->timeout_ms) {
                err->status = RG_ERR_TIMEOUT;
                snprintf(err->message, sizeof err->message, "gate_file did not appear in time");
                return RG_ERR_TIMEOUT;
            }
            nanosleep(&tick, NULL);
        }
    }
    if (c->fail_file && access(c->fail_file, F_OK) == 0) {
        err->status = RG_ERR_UPSTREAM;
        snprintf(err->message, sizeof err->message, "fail_file exists");
        return RG_ERR_UPSTREAM;
    }
    return c->inner->query(c->inner_conn, plan, sink, err);
}

static rg_status ping(void *conn, rg_error *err)
{
    counting_conn *c = conn;
    return c->inner->ping(c->inner_conn, err);
}

static void disconnect(void *conn) { conn_free(conn); }

static const rg_adapter counting = {
    .struct_size = sizeof(rg_adapter),
    .abi_major = RG_ADAPTER_ABI_MAJOR,
    .abi_minor = RG_ADAPTER_ABI_MINOR,
    .name = "counting",
    .version = "1",
    .check_options = check_options,
    .connect = connect_,
    .query = query,
    .ping = ping,
    .disconnect = disconnect,
};

__attribute__((visibility("default"))) const rg_adapter *rg_adapter_entry(const rg_host_api *h)
{
    host = h;
    return &counting;
}
