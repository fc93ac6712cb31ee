/*
 * What the template adapter's files share:
 *   template_adapter.c  options, connections, the query callback and the
 *                       descriptor (RG_ADAPTER): the adapter contract
 *   template_values.c   typed cells: reading a JSON member as the field's
 *                       type, dates and datetimes, comparing, ASCII folding
 *   template_query.c    one query: read the file, filter, search, keep the
 *                       best rows in order, hand them to the sink
 * Only template_adapter.c includes the readgate entry point; every function
 * declared here is hidden in the .so (-fvisibility=hidden), so the names
 * only need to be unique within the adapter.
 */
#ifndef TEMPLATE_ADAPTER_H
#define TEMPLATE_ADAPTER_H

#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* getline, clock_gettime, nanosleep under -std=c11 */
#endif

#include <jansson.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <readgate/adapter.h>

#ifndef ADAPTER_NAME
#define ADAPTER_NAME "template" /* must equal <name> in readgate-adapter-<name>.so */
#endif
#ifndef ADAPTER_VERSION
#define ADAPTER_VERSION "1.0.0"
#endif

/* The ABI does not promise a non-zero timeout_ms; never run unbounded. */
#define DEFAULT_BUDGET_MS 5000
/* "YYYY-MM-DDTHH:MM:SS.ffffffZ" and its NUL. */
#define DATETIME_TEXT 28

/* ---- template_adapter.c ------------------------------------------------- */

/* Fill the caller's rg_error and return its status. Messages go to logs:
   name files, lines and columns, never a value from the data or a secret. */
rg_status tpl_fail(rg_error *err, rg_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* strerror_r's text for errno value e, in buf (thread-safe). */
const char *tpl_errno_text(int e, char *buf, size_t len);

/* One per worker thread; the gateway never uses it from two threads at once. */
typedef struct tpl_conn {
    char path[PATH_MAX]; /* resolved: copied, because src is gone after connect */
    unsigned long line_delay_us;
} tpl_conn;

/* ---- template_values.c -------------------------------------------------- */

/*
 * One field of one row (or one value of the plan) in a form that compares
 * correctly in C. Strings point into the parsed JSON line or into the plan,
 * whichever outlives the comparison. A DATETIME also carries its instant, so
 * "…:00Z" and "…:00.500000Z" order by time, not by text, and its canonical
 * text, which is what the gateway expects back.
 */
typedef struct cell {
    rg_value v;
    int64_t us;                   /* DATETIME: microseconds since 1970-01-01T00:00:00Z */
    char text[DATETIME_TEXT];     /* DATETIME: canonical UTC text */
} cell;

int tpl_is_text_type(rg_type t);
/* A field of a parsed line as a cell. Strings point into `obj`. */
rg_status tpl_read_cell(const json_t *obj, const rg_field_desc *f, size_t line, cell *c,
                        rg_error *err);
/* A value of the plan (a filter value or an `after` position) as a cell.
   Strings keep pointing into the plan, which lives for the whole query. */
int tpl_cell_from_value(const rg_value *v, rg_type t, cell *c);
/* Both non-NULL, same type. Strings by UTF-8 bytes (SQL "C" collation). */
int tpl_cmp_cells(const cell *a, const cell *b, rg_type t);
/* ASCII case-insensitive prefix and substring tests. */
int tpl_starts_with_fold(const char *s, size_t slen, const char *p, size_t plen);
int tpl_contains_fold(const char *s, size_t slen, const char *p, size_t plen);

/* ---- template_query.c --------------------------------------------------- */

struct query_run;

typedef struct kept_row {
    json_t *obj;                /* the parsed line; string cells point into it */
    cell *cells;                /* one per collection field; only needed ones filled */
    const struct query_run *run; /* qsort has no context argument in C11, and a global
                                    would be shared between threads */
} kept_row;

typedef struct query_run {
    const rg_query_plan *plan;
    const rg_field_desc *fields;
    size_t nfields;
    unsigned char *needed; /* per field: read it from each line */
    cell *fvals;           /* every filter's values, filter after filter */
    cell *pos;             /* `after` position by field index, or NULL */
    cell *scratch;         /* the line being looked at */
    kept_row *rows;
    size_t nrows, cap, keep_max;
    struct timespec deadline;
} query_run;

/* The steps of one query, in the order tpl_query takes them. */
rg_status tpl_check_plan(const rg_query_plan *p, rg_error *err);
rg_status tpl_run_init(query_run *r, const rg_query_plan *p, rg_error *err);
rg_status tpl_scan_file(query_run *r, const tpl_conn *c, rg_error *err);
void tpl_cut_to_limit(query_run *r);
rg_status tpl_emit_rows(query_run *r, const rg_row_sink *sink, rg_error *err);
void tpl_run_free(query_run *r);

#endif
