/*
 * Running plans, turning adapter rows into canonical JSON, comparing them with
 * the expected rows and printing a readable diff.
 *
 * Canonical JSON: integers as integers, numbers as reals (compared with a
 * relative tolerance), booleans, dates and datetimes as strings, NULL as null.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "conformance.h"

#define NUMBER_TOLERANCE 1e-9
#define DIFF_CONTEXT 2
#define DIFF_MAX_LINES 60
#define DIFF_MAX_CELLS 4000000u

const char *rg_conf_status_name(rg_status st)
{
    switch (st) {
    case RG_OK: return "RG_OK";
    case RG_ERR_UNAVAILABLE: return "RG_ERR_UNAVAILABLE";
    case RG_ERR_TIMEOUT: return "RG_ERR_TIMEOUT";
    case RG_ERR_UPSTREAM: return "RG_ERR_UPSTREAM";
    case RG_ERR_AUTH: return "RG_ERR_AUTH";
    case RG_ERR_CONFIG: return "RG_ERR_CONFIG";
    case RG_ERR_INTERNAL: return "RG_ERR_INTERNAL";
    case RG_ERR_ABORTED: return "RG_ERR_ABORTED";
    }
    return "(unknown status)";
}

typedef struct sink_ctx {
    const rg_query_plan *plan;
    rg_conf_result *res;
} sink_ctx;

static void problem(rg_conf_result *res, const char *fmt, const char *a, const char *b)
{
    if (!res->problem[0])
        snprintf(res->problem, sizeof res->problem, fmt, a ? a : "", b ? b : "");
}

/* One adapter value as canonical JSON; NULL (with a problem noted) when the
   value breaks the ABI. */
static json_t *canon(const rg_value *v, const rg_field_desc *f, rg_conf_result *res)
{
    if (v->type != f->type) {
        problem(res, "column '%s': value is typed %s, the field is declared otherwise", f->name,
                rg_conf_type_name(v->type));
        return NULL;
    }
    if (v->is_null)
        return json_null();
    switch (v->type) {
    case RG_TYPE_INTEGER:
        return json_integer((json_int_t)v->u.i);
    case RG_TYPE_NUMBER:
        if (!isfinite(v->u.n)) {
            problem(res, "column '%s': number is not finite%s", f->name, NULL);
            return NULL;
        }
        return json_real(v->u.n);
    case RG_TYPE_BOOLEAN:
        if (v->u.b != 0 && v->u.b != 1)
            problem(res, "column '%s': boolean is neither 0 nor 1%s", f->name, NULL);
        return json_boolean(v->u.b);
    default: {
        if (!v->u.str.ptr && v->u.str.len) {
            problem(res, "column '%s': string with a length but no pointer%s", f->name, NULL);
            return NULL;
        }
        json_t *s = json_stringn(v->u.str.ptr ? v->u.str.ptr : "", v->u.str.len);
        if (!s)
            problem(res, "column '%s': string is not valid UTF-8%s", f->name, NULL);
        return s;
    }
    }
}

static int on_row(void *ctx, const rg_value *values, size_t n)
{
    sink_ctx *s = ctx;
    rg_conf_result *res = s->res;
    const rg_query_plan *plan = s->plan;
    res->calls++;
    if (res->stop_after && res->calls > res->stop_after) {
        problem(res, "the sink was called again after it asked to stop%s%s", NULL, NULL);
        return 1;
    }
    if (n != plan->ncolumns || !values) {
        char want[32];
        snprintf(want, sizeof want, "%zu", plan->ncolumns);
        problem(res, "a row came with the wrong number of values (plan has %s columns)%s", want,
                NULL);
        return 1;
    }
    /* Values are read by their own struct_size, as readgate reads them: the
       same on every value, and at least the 2.0 rg_value. */
    for (size_t i = 0; i < n; i++) {
        uint32_t size = rg_value_at(values, i)->struct_size;
        if (size < RG_VALUE_SIZE_2_0 || size != values->struct_size) {
            char got[64];
            snprintf(got, sizeof got, "%zu has struct_size %u", i, (unsigned)size);
            problem(res, "value %s; every value of a row needs the same struct_size, at least "
                         "the 2.0 rg_value (set it to sizeof(rg_value))%s",
                    got, NULL);
            return 1;
        }
    }
    json_t *row = json_object();
    if (!row)
        return 1;
    for (size_t i = 0; i < n; i++) {
        const rg_field_desc *f = rg_field_at(plan->collection->fields, plan->columns[i]);
        json_t *j = canon(rg_value_at(values, i), f, res);
        json_object_set_new(row, f->name, j ? j : json_null());
    }
    json_array_append_new(res->rows, row);
    return res->stop_after && res->calls >= res->stop_after;
}

void rg_conf_say(char *msg, size_t msgsz, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msgsz, fmt, ap);
    va_end(ap);
}

/* A fresh result (keeping only stop_after) for a run of plan. */
static void result_reset(rg_conf_result *res)
{
    size_t stop_after = res->stop_after;
    memset(res, 0, sizeof *res);
    res->stop_after = stop_after;
    res->rows = json_array();
    res->err.struct_size = sizeof res->err;
}

void rg_conf_run(const rg_adapter *ad, void *conn, const rg_query_plan *plan,
                 rg_conf_result *res)
{
    result_reset(res);
    sink_ctx ctx = {plan, res};
    rg_row_sink sink = {.struct_size = sizeof sink, .row = on_row, .ctx = &ctx};
    res->status = ad->query(conn, plan, &sink, &res->err);
    res->err.message[sizeof res->err.message - 1] = '\0';
}

/* The adapter's non-blocking entries (adapter ABI 2.1), waited on with
   poll() as readgate's event loop would; a wait longer than the plan's
   budget plus 5 s is a failure (the adapter asked for a readiness that
   never came). */
void rg_conf_run_nonblocking(const rg_adapter *ad, void *conn, const rg_query_plan *plan,
                             rg_conf_result *res)
{
    result_reset(res);
    sink_ctx ctx = {plan, res};
    rg_row_sink sink = {.struct_size = sizeof sink, .row = on_row, .ctx = &ctx};
    int wait = 0;
    rg_status st = ad->query_start(conn, plan, &sink, &wait, &res->err);
    while (st == RG_OK && wait) {
        int fd = ad->socket(conn);
        if (fd < 0 || !(wait & (RG_WAIT_READ | RG_WAIT_WRITE))) {
            problem(res, "the adapter asked to wait%s without a socket or a direction%s", "",
                    NULL);
            break;
        }
        struct pollfd pfd = {.fd = fd,
                             .events = (short)(((wait & RG_WAIT_READ) ? POLLIN : 0) |
                                               ((wait & RG_WAIT_WRITE) ? POLLOUT : 0))};
        int n = poll(&pfd, 1, (int)plan->timeout_ms + 5000);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            problem(res, "the socket never became ready as query_start/query_resume asked%s%s",
                    NULL, NULL);
            break;
        }
        st = ad->query_resume(conn, &wait, &res->err);
    }
    res->status = st;
    res->err.message[sizeof res->err.message - 1] = '\0';
}

void rg_conf_result_free(rg_conf_result *res)
{
    json_decref(res->rows);
    res->rows = NULL;
}

json_t *rg_conf_project(const rg_conf_case *c, json_t *rows)
{
    json_t *out = json_array();
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        json_t *p = json_object();
        for (size_t k = 0; k < c->nout; k++) {
            const char *name = rg_field_at(c->plan.collection->fields, c->plan.columns[k])->name;
            json_t *v = json_object_get(row, name);
            json_object_set(p, name, v ? v : json_null());
        }
        json_array_append_new(out, p);
    }
    return out;
}

static int value_equal(json_t *e, json_t *a, rg_type t)
{
    if (!e)
        e = json_null();
    if (!a)
        a = json_null();
    if (json_is_null(e) || json_is_null(a))
        return json_is_null(e) && json_is_null(a);
    if (t == RG_TYPE_NUMBER && json_is_number(e) && json_is_number(a)) {
        double x = json_number_value(e), y = json_number_value(a);
        return x == y || fabs(x - y) <= NUMBER_TOLERANCE * fmax(fabs(x), fabs(y));
    }
    return json_equal(e, a);
}

static int row_equal(const rg_conf_case *c, json_t *e, json_t *a)
{
    for (size_t k = 0; k < c->nout; k++) {
        const rg_field_desc *f = rg_field_at(c->plan.collection->fields, c->plan.columns[k]);
        if (!value_equal(json_object_get(e, f->name), json_object_get(a, f->name), f->type))
            return 0;
    }
    return 1;
}

int rg_conf_rows_equal(const rg_conf_case *c, json_t *expected, json_t *actual)
{
    size_t n = json_array_size(expected);
    if (n != json_array_size(actual))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!row_equal(c, json_array_get(expected, i), json_array_get(actual, i)))
            return 0;
    return 1;
}

char *rg_conf_row_text(json_t *row)
{
    return json_dumps(row, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15) |
                               JSON_ENCODE_ANY);
}

static void print_row(FILE *out, char mark, json_t *row)
{
    char *t = rg_conf_row_text(row);
    fprintf(out, "    %c %s\n", mark, t ? t : "(unprintable)");
    free(t);
}

/* Longest-common-subsequence diff, like diff(1) on one row per line. */
void rg_conf_print_diff(FILE *out, const rg_conf_case *c, json_t *expected, json_t *actual)
{
    size_t n = json_array_size(expected), m = json_array_size(actual);
    fprintf(out, "    expected %zu row%s, got %zu (- expected, + actual)\n", n, n == 1 ? "" : "s",
            m);
    if ((n + 1) * (m + 1) > DIFF_MAX_CELLS) {
        size_t i = 0;
        while (i < n && i < m && row_equal(c, json_array_get(expected, i), json_array_get(actual, i)))
            i++;
        fprintf(out, "    first difference at row %zu\n", i);
        if (i < n)
            print_row(out, '-', json_array_get(expected, i));
        if (i < m)
            print_row(out, '+', json_array_get(actual, i));
        return;
    }
    uint32_t *L = calloc((n + 1) * (m + 1), sizeof *L);
    char *ops = malloc(n + m + 1);
    size_t *idx = malloc((n + m + 1) * sizeof *idx);
    if (!L || !ops || !idx) {
        fprintf(out, "    (out of memory for the diff)\n");
        goto out;
    }
#define AT(i, j) L[(i) * (m + 1) + (j)]
    for (size_t i = n; i-- > 0;)
        for (size_t j = m; j-- > 0;)
            AT(i, j) = row_equal(c, json_array_get(expected, i), json_array_get(actual, j))
                           ? AT(i + 1, j + 1) + 1
                           : (AT(i + 1, j) >= AT(i, j + 1) ? AT(i + 1, j) : AT(i, j + 1));
    size_t nops = 0, i = 0, j = 0;
    while (i < n || j < m) {
        if (i < n && j < m && row_equal(c, json_array_get(expected, i), json_array_get(actual, j))) {
            ops[nops] = ' ', idx[nops++] = j, i++, j++;
        } else if (i < n && (j == m || AT(i + 1, j) >= AT(i, j + 1))) {
            ops[nops] = '-', idx[nops++] = i++;
        } else {
            ops[nops] = '+', idx[nops++] = j++;
        }
    }
#undef AT
    size_t printed = 0, skipped = 0;
    for (size_t k = 0; k < nops; k++) {
        int near = 0;
        for (size_t d = (k > DIFF_CONTEXT ? k - DIFF_CONTEXT : 0);
             d < nops && d <= k + DIFF_CONTEXT; d++)
            near |= ops[d] != ' ';
        if (!near) {
            skipped++;
            continue;
        }
        if (skipped) {
            fprintf(out, "      ... %zu matching row%s\n", skipped, skipped == 1 ? "" : "s");
            skipped = 0;
        }
        if (++printed > DIFF_MAX_LINES) {
            fprintf(out, "    ... (diff truncated)\n");
            goto out;
        }
        json_t *row = ops[k] == '-' ? json_array_get(expected, idx[k]) : json_array_get(actual, idx[k]);
        print_row(out, ops[k], row);
    }
    if (skipped)
        fprintf(out, "      ... %zu matching row%s\n", skipped, skipped == 1 ? "" : "s");
out:
    free(L);
    free(ops);
    free(idx);
}

int rg_conf_run_paged(const rg_adapter *ad, void *conn, const rg_conf_case *c, size_t page_size,
                      json_t **rows, char *why, size_t whysz)
{
    rg_query_plan p = c->plan;
    rg_value after[8];
    json_t *all = json_array();
    size_t want = c->plan.limit, got = 0, pages = 0;
    size_t max_pages = (json_array_size(c->expected) + page_size - 1) / page_size + 2;
    int rc = 0;
    *rows = NULL;
    if (p.nsort > sizeof after / sizeof after[0]) {
        snprintf(why, whysz, "too many sort keys to page");
        json_decref(all);
        return -1;
    }
    for (;;) {
        p.limit = want - got < page_size ? want - got : page_size;
        rg_conf_result res = {0};
        rg_conf_run(ad, conn, &p, &res);
        pages++;
        size_t nr = json_array_size(res.rows);
        if (res.status != RG_OK) {
            snprintf(why, whysz, "page %zu: %s: %s", pages, rg_conf_status_name(res.status),
                     res.err.message);
            rc = -1;
        } else if (res.problem[0]) {
            snprintf(why, whysz, "page %zu: %s", pages, res.problem);
            rc = -1;
        } else if (nr > p.limit) {
            snprintf(why, whysz, "page %zu: %zu rows for a limit of %zu", pages, nr, p.limit);
            rc = -1;
        }
        json_array_extend(all, res.rows);
        rg_conf_result_free(&res);
        got += nr;
        if (rc != 0 || nr < p.limit || got >= want)
            break;
        if (pages >= max_pages) {
            snprintf(why, whysz, "paging did not end after %zu pages of %zu", pages, page_size);
            rc = -1;
            break;
        }
        /* The next page starts after the sort values of this page's last row. */
        json_t *last = json_array_get(all, json_array_size(all) - 1);
        for (size_t k = 0; k < p.nsort; k++) {
            const rg_field_desc *f =
                rg_field_at(p.collection->fields, rg_sort_key_at(p.sort, k)->field);
            char err[128];
            if (rg_conf_value_from_json(json_object_get(last, f->name), f->type, 1, &after[k],
                                        err, sizeof err) != 0) {
                snprintf(why, whysz, "page %zu: sort field '%s' of the last row: %s", pages,
                         f->name, err);
                rc = -1;
                break;
            }
        }
        if (rc != 0)
            break;
        p.after = after;
    }
    *rows = rg_conf_project(c, all);
    json_decref(all);
    return rc;
}
