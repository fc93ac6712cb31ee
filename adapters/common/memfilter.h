/*
 * In-memory evaluation of an rg_query_plan over typed rows, exactly per the
 * semantics of include/readgate/adapter.h (and conformance/README.md):
 * filters AND-ed with SQL NULL semantics, ASCII-only case folding for
 * prefix/contains/search, strings in UTF-8 byte order, datetimes by instant,
 * NULLs last ascending and first descending, keyset paging with `after`.
 *
 * The SaaS adapters use it where the provider cannot answer exactly: Sheets
 * for everything, Airtable and Shopify to filter again what their query
 * languages can only approximate (the provider is asked for a superset).
 *
 * Rows live in an rg_mf_rows: one cell per collection field (index = field
 * index), strings copied into an arena the row set owns. Nothing here is
 * global; functions are reentrant. Plain malloc/free.
 */
#ifndef RG_MEMFILTER_H
#define RG_MEMFILTER_H

#include <jansson.h>
#include <readgate/adapter.h>
#include <stddef.h>
#include <stdint.h>

/* One typed value. For DATETIME, `us` is the instant (microseconds since the
   epoch) and v.u.str the canonical "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" text. */
typedef struct rg_mf_cell {
    rg_value v;
    int64_t us;
} rg_mf_cell;

typedef struct rg_mf_block rg_mf_block;

typedef struct rg_mf_rows {
    const rg_collection_desc *coll;
    size_t nfields;
    rg_mf_cell *cells; /* nrows * nfields */
    size_t nrows, cap;
    rg_mf_block *arena;
} rg_mf_rows;

void rg_mf_rows_init(rg_mf_rows *r, const rg_collection_desc *coll);
void rg_mf_rows_free(rg_mf_rows *r);
/* A new row, every cell NULL and typed as its field; NULL when out of memory. */
rg_mf_cell *rg_mf_rows_add(rg_mf_rows *r);
/* Drop the last row added (one that turned out not to be wanted). */
void rg_mf_rows_pop(rg_mf_rows *r);
static inline rg_mf_cell *rg_mf_row(const rg_mf_rows *r, size_t i)
{
    return &r->cells[i * r->nfields];
}

/* How lenient the conversions are. */
enum {
    /* Spreadsheet cells: numbers from numeric text, text from numbers,
       booleans from "TRUE"/"FALSE", dates and datetimes from serial day
       numbers (days since 1899-12-30, UTC), and "" as an empty cell (NULL). */
    RG_MF_SHEET = 1u << 0,
    /* A DATE field may read a datetime text: its UTC day is kept. */
    RG_MF_DATE_FROM_DATETIME = 1u << 1,
};

/*
 * Set cell `c` (of a row of `r`) from a JSON value as a value of type `t`.
 * JSON null (or j == NULL) is NULL. Returns 0, -1 when the value does not fit
 * the type, -2 when out of memory. Strings are copied into the row set.
 */
int rg_mf_set_json(rg_mf_rows *r, rg_mf_cell *c, rg_type t, const json_t *j, unsigned flags);
/* The same from text (a provider that sends every scalar as a string). */
int rg_mf_set_text(rg_mf_rows *r, rg_mf_cell *c, rg_type t, const char *s, size_t len,
                   unsigned flags);

/* ---- a prepared plan ---------------------------------------------------- */

typedef struct rg_mf_plan {
    const rg_query_plan *plan;
    rg_mf_cell *fvals;   /* every filter's values, filter after filter */
    rg_mf_cell *pos;     /* the `after` position by sort key, or NULL */
    unsigned char *needed; /* per field: some part of the plan reads it */
} rg_mf_plan;

/* Checks the plan's indices and value types (RG_ERR_CONFIG) and parses its
   datetimes. Release with rg_mf_plan_free whatever the result. */
rg_status rg_mf_plan_init(rg_mf_plan *p, const rg_query_plan *plan, rg_error *err);
void rg_mf_plan_free(rg_mf_plan *p);

/* Filters and search match, and the row lies after the `after` position. */
int rg_mf_selected(const rg_mf_plan *p, const rg_mf_cell *row);
/* The plan's order (sort keys in turn; NULLs last ascending, first descending). */
int rg_mf_cmp(const rg_mf_plan *p, const rg_mf_cell *a, const rg_mf_cell *b);

/*
 * Select, order, cut to the limit and hand rows to the sink in plan->columns
 * order. Returns RG_OK, RG_ERR_ABORTED when the sink stops, RG_ERR_INTERNAL
 * when out of memory.
 */
rg_status rg_mf_emit(const rg_mf_plan *p, const rg_mf_rows *rows, const rg_row_sink *sink,
                     rg_error *err);
/* How many rows are selected (to know when a provider-ordered read may stop). */
size_t rg_mf_count_selected(const rg_mf_plan *p, const rg_mf_rows *rows);

/* ---- helpers the adapters share ------------------------------------------ */

/* ASCII-only case-insensitive prefix / substring tests. */
int rg_mf_prefix_fold(const char *s, size_t slen, const char *p, size_t plen);
int rg_mf_contains_fold(const char *s, size_t slen, const char *p, size_t plen);
/* Parse "YYYY-MM-DD"; 0 and the day number since 1970-01-01, or -1. */
int rg_mf_parse_date(const char *s, size_t len, int64_t *days);
/* Parse RFC 3339 into microseconds and canonical text (size >= 28); 0 or -1. */
int rg_mf_parse_datetime(const char *s, size_t len, int64_t *us, char *canon, size_t canonsz);
/* Day number -> "YYYY-MM-DD" (out size >= 11); 0 or -1 outside years 0..9999. */
int rg_mf_format_date(int64_t days, char *out, size_t outsz);
/* The shortest decimal text that reads back as the same double (out >= 32). */
void rg_mf_format_double(double d, char *out, size_t outsz);
/* An integer value exactly, a number value as rg_mf_format_double (out >= 32). */
void rg_mf_format_number(const rg_value *v, char *out, size_t outsz);
/* A date or datetime value as "YYYY-MM-DD", moved `days` days (a datetime
   counts from its UTC day): the widened bound a provider that reads dates in
   its own time zone still answers a superset for (out >= 11). 0, or -1 when
   the value is no date or outside years 0..9999. */
int rg_mf_day_bound(const rg_value *v, int days, char *out, size_t outsz);
/* The bounds a filter implies: eq both (the value), lt/lte the upper,
   gt/gte the lower, between both; NULL where there is none. */
void rg_mf_bounds(const rg_filter *flt, const rg_value **lo, const rg_value **hi);
/* Type name for messages. */
const char *rg_mf_type_name(rg_type t);

#endif
