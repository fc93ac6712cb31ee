/*
 * readgate-adapter-template: a complete readgate adapter over a JSON-lines
 * file, written to be copied. It passes readgate-conformance as shipped.
 *
 * The backend: one file, one JSON object per line (blank lines are skipped).
 * A row's value for a field is the member named by the field's `column`
 * (the field name when the site file gives no column); an absent member and
 * JSON null are both NULL. Types are strict: an `integer` field needs a JSON
 * integer, `number` an integer or a real, `boolean` true/false, `string` and
 * `enum` a string, `date` "YYYY-MM-DD", `datetime` RFC 3339 text. A row that
 * breaks this is reported as a backend error (RG_ERR_UPSTREAM) naming the
 * line and the column, so a bad file is found, not silently half-read.
 *
 * Options (the source's `options:` in the site file):
 *   path           required. The JSON-lines file; a relative path is resolved
 *                  against the directory of the site file.
 *   line_delay_us  optional, for testing only: microseconds to wait after each
 *                  line, as if the file sat on a very slow disk. The per-line
 *                  deadline check below is what ends such a query on time; the
 *                  conformance run uses this to check RG_ERR_TIMEOUT. Drop it
 *                  from your copy.
 *
 * The collection's `target` names nothing here: a source is one file. A
 * backend that holds many relations picks one with plan->collection->target
 * (which comes from the site file, never from a request) and quotes it by the
 * backend's own rules.
 *
 * How a query runs: the file is read line by line on every query (so a file
 * replaced on disk is seen at once); each line is parsed with jansson, the
 * fields the plan needs are converted to typed cells, filters, search and the
 * keyset position are evaluated in C, and the best `limit` rows are kept and
 * sorted. Nothing a request carries ever becomes syntax of any language here,
 * so nothing needs escaping: `%`, `_`, `\`, `*`, quotes and regex characters
 * in values are ordinary bytes compared with memcmp. If your backend takes a
 * query language, that is where your copy must change (see
 * docs/writing-an-adapter.md, "Safety rules").
 *
 * ABI 2.0 (readgate/adapter.h): every array the gateway hands over (options,
 * the collection's fields, filters and their values, sort keys, the `after`
 * position) is read with the header's rg_*_at accessors, which step by the
 * elements' own struct_size (a later minor may make them bigger), and every
 * value sent to the sink carries struct_size = sizeof(rg_value). Keep both:
 * the gateway refuses a row whose values lack it.
 *
 * To make it yours: copy this directory, rename ADAPTER_NAME in
 * CMakeLists.txt (the file becomes readgate-adapter-<name>.so and the name
 * below follows), and replace the JSON-lines reading with your backend.
 *
 * The files: this one holds the adapter contract (options, connect, ping,
 * query, disconnect and the descriptor); template_values.c converts JSON
 * members to typed cells and compares them; template_query.c runs one query
 * over the file. template_adapter.h is what they share. A backend with its
 * own query language replaces template_query.c and most of
 * template_values.c, and keeps the shape of this file.
 */
#include "template_adapter.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_LINE_DELAY_US 1000000UL

/*
 * Host services, set once by rg_adapter_entry (RG_ADAPTER at the end of this
 * file) before any other call and only read afterwards, so worker threads may
 * read it without a lock. It is the only global: everything a query touches
 * lives in its connection or on its own stack, because different connections
 * run on different threads at once.
 */
static const rg_host_api *rg_host;

static void log_msg(rg_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_msg(rg_log_level lvl, const char *fmt, ...)
{
    if (!rg_host)
        return;
    va_list ap;
    va_start(ap, fmt);
    rg_host->log(lvl, ADAPTER_NAME, fmt, ap);
    va_end(ap);
}

/* Fill the caller's rg_error and return its status. Messages go to logs:
   name files, lines and columns, never a value from the data or a secret. */
rg_status tpl_fail(rg_error *err, rg_status st, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->status = st;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return st;
}

/*
 * strerror may share one buffer between threads; strerror_r does not, but
 * comes in two flavours: glibc's with _GNU_SOURCE returns the text, POSIX's
 * returns 0 and fills buf.
 */
const char *tpl_errno_text(int e, char *buf, size_t len)
{
#if defined(_GNU_SOURCE) && defined(__GLIBC__)
    return strerror_r(e, buf, len);
#else
    return strerror_r(e, buf, len) == 0 ? buf : "unknown error";
#endif
}

/* ---- options ------------------------------------------------------------ */

typedef struct tpl_options {
    const char *path; /* borrowed from rg_source_info: valid during the call only */
    unsigned long line_delay_us;
} tpl_options;

static rg_status parse_options(const rg_source_info *src, tpl_options *o, rg_error *err)
{
    memset(o, 0, sizeof o[0]);
    for (size_t i = 0; i < src->noptions; i++) {
        /* Options step by their own struct_size (readgate/plugin.h). */
        const rg_option *opt = rg_option_at(src->options, i);
        const char *key = opt->key, *val = opt->value;
        if (!strcmp(key, "path")) {
            o->path = val;
        } else if (!strcmp(key, "line_delay_us")) {
            /* Options arrive as text (a YAML number is passed as its text). */
            char *end;
            errno = 0;
            unsigned long v = strtoul(val, &end, 10);
            if (!*val || *end || errno || val[0] == '-' || v > MAX_LINE_DELAY_US)
                return tpl_fail(err, RG_ERR_CONFIG,
                                "option 'line_delay_us' must be an integer from 0 to %lu",
                                MAX_LINE_DELAY_US);
            o->line_delay_us = v;
        } else {
            return tpl_fail(err, RG_ERR_CONFIG,
                            "unknown option '%s' for the %s adapter; expected: path, line_delay_us",
                            key, ADAPTER_NAME);
        }
    }
    if (!o->path || !*o->path)
        return tpl_fail(err, RG_ERR_CONFIG, "option 'path' is required: the JSON-lines file to read");
    return RG_OK;
}

/*
 * check_options (optional callback): called by `readgate check` and by
 * readgate-conformance, on any thread, possibly with no backend around and
 * with base_dir "." (so relative paths mean nothing yet). Only look at the
 * options; do not open files or connect. RG_ERR_CONFIG with a message naming
 * the option is the only error it returns. The server itself does not call
 * it, which is why connect parses the options again.
 */
static rg_status tpl_check_options(const rg_source_info *src, rg_error *err)
{
    tpl_options o;
    return parse_options(src, &o, err);
}

/* ---- connections -------------------------------------------------------- */

/* Can the file be read now? RG_ERR_UNAVAILABLE when not: a missing file is
   this backend's "server down", and the gateway retries later. */
static rg_status probe_file(const char *path, rg_error *err)
{
    char ebuf[128];
    struct stat st;
    if (stat(path, &st) != 0)
        return tpl_fail(err, RG_ERR_UNAVAILABLE, "cannot open '%s': %s", path,
                        tpl_errno_text(errno, ebuf, sizeof ebuf));
    if (S_ISDIR(st.st_mode))
        return tpl_fail(err, RG_ERR_CONFIG, "'%s' is a directory; option 'path' names a JSON-lines file",
                        path);
    FILE *f = fopen(path, "r");
    if (!f)
        return tpl_fail(err, RG_ERR_UNAVAILABLE, "cannot open '%s': %s", path,
                        tpl_errno_text(errno, ebuf, sizeof ebuf));
    fclose(f);
    return RG_OK;
}

/*
 * connect: open what one worker thread needs and store an adapter-owned handle
 * in *conn. Runs on a worker thread and may block, within
 * src->connect_timeout_ms (opening a local file needs no timer). Returns
 * RG_ERR_UNAVAILABLE when the backend cannot be reached (the gateway answers
 * 503 and connects again on a later query), RG_ERR_AUTH when credentials are
 * refused, RG_ERR_CONFIG for options that can never work. Everything in `src`
 * belongs to the gateway and is gone after the call: copy what you keep.
 */
static rg_status tpl_connect(const rg_source_info *src, void **conn, rg_error *err)
{
    *conn = NULL;
    tpl_options o;
    rg_status st = parse_options(src, &o, err);
    if (st != RG_OK)
        return st;
    tpl_conn *c = calloc(1, sizeof *c);
    if (!c)
        return tpl_fail(err, RG_ERR_INTERNAL, "out of memory");
    int n;
    if (o.path[0] == '/' || !src->base_dir || !*src->base_dir)
        n = snprintf(c->path, sizeof c->path, "%s", o.path);
    else
        n = snprintf(c->path, sizeof c->path, "%s/%s", src->base_dir, o.path);
    if (n < 0 || (size_t)n >= sizeof c->path) {
        free(c);
        return tpl_fail(err, RG_ERR_CONFIG, "option 'path' is too long");
    }
    c->line_delay_us = o.line_delay_us;
    st = probe_file(c->path, err);
    if (st != RG_OK) {
        free(c);
        return st;
    }
    *conn = c;
    return RG_OK;
}

/* disconnect: free everything connect allocated. conn is never NULL. */
static void tpl_disconnect(void *conn)
{
    free(conn);
}

/* ping: a cheap "is the backend there" for /readyz; same errors as query. */
static rg_status tpl_ping(void *conn, rg_error *err)
{
    tpl_conn *c = conn;
    return probe_file(c->path, err);
}

/*
 * query: run one validated plan on a worker thread and stream the rows, in
 * order, to sink->row. The plan and everything it points to belong to the
 * gateway and stay valid until query returns. Return RG_OK after the last
 * row; RG_ERR_TIMEOUT when plan->timeout_ms ran out; RG_ERR_UNAVAILABLE when
 * the backend went away (the gateway disconnects this connection and opens a
 * new one next time); RG_ERR_UPSTREAM when the backend answered with an error
 * (here: a line that is not what the collection declares); RG_ERR_ABORTED as
 * soon as the sink returns non-zero, without calling it again.
 */
static rg_status tpl_query(void *conn, const rg_query_plan *plan, const rg_row_sink *sink,
                           rg_error *err)
{
    const tpl_conn *c = conn;
    rg_status st = tpl_check_plan(plan, err);
    if (st != RG_OK)
        return st;
    query_run r;
    st = tpl_run_init(&r, plan, err);
    if (st == RG_OK)
        st = tpl_scan_file(&r, c, err);
    if (st == RG_OK)
        tpl_cut_to_limit(&r);
    if (st == RG_OK)
        st = tpl_emit_rows(&r, sink, err);
    tpl_run_free(&r);
    if (st != RG_OK && st != RG_ERR_ABORTED)
        log_msg(RG_LOG_DEBUG, "query on '%s' failed: %s", plan->collection->name, err->message);
    return st;
}

/* ---- the entry point ------------------------------------------------------ */

/*
 * The descriptor (static and immutable: the gateway may read it from any
 * thread) and rg_adapter_entry, the one exported symbol (everything else is
 * hidden by -fvisibility=hidden), called once after dlopen before any other
 * callback. It keeps the host table in `rg_host` only when its layout is one
 * this file was compiled for: a host of another major is refused by the
 * gateway anyway, from our abi_major.
 */
RG_ADAPTER(ADAPTER_NAME, ADAPTER_VERSION, tpl_check_options, tpl_connect, tpl_query, tpl_ping,
           tpl_disconnect)
