#include "sqlbuild.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "civil.h"

/* ---- buffer ------------------------------------------------------------- */

void rg_sql_buf_append(rg_sql_buf *b, const char *s, size_t len)
{
    if (b->oom)
        return;
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len + 1) {
            if (cap > SIZE_MAX / 2) {
                b->oom = 1;
                return;
            }
            cap *= 2;
        }
        char *p = realloc(b->data, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->data = p;
        b->cap = cap;
    }
    if (len)
        memcpy(b->data + b->len, s, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void rg_sql_buf_puts(rg_sql_buf *b, const char *s)
{
    rg_sql_buf_append(b, s, strlen(s));
}

void rg_sql_buf_free(rg_sql_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

int rg_sql_quote_ansi(void *ctx, rg_sql_buf *out, const char *ident, size_t len)
{
    (void)ctx;
    if (len == 0 || memchr(ident, '\0', len))
        return -1;
    rg_sql_buf_append(out, "\"", 1);
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (ident[i] == '"') {
            rg_sql_buf_append(out, ident + start, i - start + 1);
            rg_sql_buf_append(out, "\"", 1);
            start = i + 1;
        }
    }
    rg_sql_buf_append(out, ident + start, len - start);
    rg_sql_buf_append(out, "\"", 1);
    return 0;
}

int rg_sql_quote_backtick(void *ctx, rg_sql_buf *out, const char *ident, size_t len)
{
    (void)ctx;
    if (len == 0 || memchr(ident, '\0', len) || memchr(ident, '`', len))
        return -1;
    rg_sql_buf_append(out, "`", 1);
    rg_sql_buf_append(out, ident, len);
    rg_sql_buf_append(out, "`", 1);
    return 0;
}

/* ---- dialects ------------------------------------------------------------ */

void rg_sql_dialect_sqlite(rg_sql_dialect *d)
{
    memset(d, 0, sizeof *d);
    d->numbered_params = 0;
    d->cast_params = 0;
    /* SQLite's built-in lower() folds ASCII only (without ICU), as required. */
    d->fold_prefix = "lower(";
    d->fold_suffix = ")";
    /* BINARY is the default, but a column declared NOCASE would otherwise
       change ordering and paging. */
    d->string_collate = " COLLATE BINARY";
    d->quote = rg_sql_quote_ansi;
    d->quote_ctx = NULL;
}

void rg_sql_dialect_postgres(rg_sql_dialect *d, rg_sql_quote_fn quote, void *quote_ctx)
{
    memset(d, 0, sizeof *d);
    d->numbered_params = 1;
    d->cast_params = 1;
    /* lower() follows the column's collation and folds non-ASCII letters in
       some of them; translate() folds exactly A-Z whatever the collation. */
    d->fold_prefix = "translate((";
    d->fold_suffix = ")::text, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')";
    d->string_collate = " COLLATE \"C\"";
    d->quote = quote;
    d->quote_ctx = quote_ctx;
}

/* CONVERT(x USING utf8mb4) first: COLLATE alone fails on a latin1 or utf8mb3
   column, and the conversion is lossless into utf8mb4. */
#define MYSQL_BIN(coll) " USING utf8mb4) COLLATE " coll

void rg_sql_dialect_mysql(rg_sql_dialect *d, int mariadb)
{
    memset(d, 0, sizeof *d);
    d->numbered_params = 0;
    d->cast_params = 0;
    /* The plain _bin collations pad with spaces ('a' = 'a '); the NO PAD
       binary ones compare code points, which is UTF-8 byte order. */
    d->collate_prefix = "CONVERT(";
    d->string_collate = mariadb ? MYSQL_BIN("utf8mb4_nopad_bin") : MYSQL_BIN("utf8mb4_0900_bin");
    /* LOWER() folds non-ASCII letters too, which the rules allow; it runs on
       both sides so an upper-case non-ASCII letter in a value still matches
       itself, and the LIKE is then binary: the default collations would also
       match 'e' with 'é' and 's' with 'ß'. */
    d->fold_prefix = "LOWER(CONVERT(";
    d->fold_suffix = mariadb ? MYSQL_BIN("utf8mb4_nopad_bin") ")"
                             : MYSQL_BIN("utf8mb4_0900_bin") ")";
    d->like_param_prefix = d->fold_prefix;
    d->like_param_suffix = d->fold_suffix;
    d->collate_equality = 1;
    d->nulls_by_is_null = 1;
    d->quote = rg_sql_quote_backtick;
    d->quote_ctx = NULL;
}

/* ---- builder ------------------------------------------------------------- */

typedef struct builder {
    const rg_sql_dialect *d;
    const rg_query_plan *plan;
    const rg_collection_desc *coll;
    rg_sql_query *q;
    rg_sql_buf *b;
    rg_error *err;
    rg_status st;
} builder;

static void fail(builder *bd, rg_status st, const char *fmt, const char *arg)
{
    if (bd->st != RG_OK)
        return;
    bd->st = st;
    bd->err->status = st;
    snprintf(bd->err->message, sizeof bd->err->message, fmt, arg ? arg : "");
}

static void put(builder *bd, const char *s)
{
    rg_sql_buf_puts(bd->b, s);
}

static int is_text_type(rg_type t)
{
    return t == RG_TYPE_STRING || t == RG_TYPE_ENUM || t == RG_TYPE_DATE || t == RG_TYPE_DATETIME;
}

/* Strings and enums compare by byte order; dates and datetimes are typed in
   most backends (and collations do not apply to them). */
static int is_collated_type(rg_type t)
{
    return t == RG_TYPE_STRING || t == RG_TYPE_ENUM;
}

static void put_ident(builder *bd, const char *s, size_t len)
{
    if (bd->st != RG_OK)
        return;
    if (!bd->d->quote || bd->d->quote(bd->d->quote_ctx, bd->b, s, len) != 0)
        fail(bd, RG_ERR_CONFIG, "identifier '%s' cannot be quoted", s);
}

static void put_column(builder *bd, size_t field)
{
    const char *col = rg_field_at(bd->coll->fields, field)->column;
    if (!col)
        col = rg_field_at(bd->coll->fields, field)->name;
    if (!col) {
        fail(bd, RG_ERR_CONFIG, "field has no column name%s", NULL);
        return;
    }
    put_ident(bd, col, strlen(col));
}

/* The column as an ordering operand: collated when it is a string. */
static void put_ordered_column(builder *bd, size_t field)
{
    int collated =
        is_collated_type(rg_field_at(bd->coll->fields, field)->type) && bd->d->string_collate;
    if (collated && bd->d->collate_prefix)
        put(bd, bd->d->collate_prefix);
    put_column(bd, field);
    if (collated)
        put(bd, bd->d->string_collate);
}

/* The column as an operand of = <> IN: collated only where the dialect asks. */
static void put_equality_column(builder *bd, size_t field)
{
    if (bd->d->collate_equality)
        put_ordered_column(bd, field);
    else
        put_column(bd, field);
}

static void put_folded_column(builder *bd, size_t field)
{
    put(bd, bd->d->fold_prefix);
    put_column(bd, field);
    put(bd, bd->d->fold_suffix);
}

static int push_param(builder *bd, const rg_value *v)
{
    rg_sql_query *q = bd->q;
    if (q->nparams == q->params_cap) {
        size_t cap = q->params_cap ? q->params_cap * 2 : 16;
        rg_value *p = realloc(q->params, cap * sizeof *p);
        if (!p) {
            fail(bd, RG_ERR_INTERNAL, "out of memory%s", NULL);
            return -1;
        }
        q->params = p;
        q->params_cap = cap;
    }
    q->params[q->nparams++] = *v;
    return 0;
}

/* Append a placeholder for `v` and record the value to bind there. */
static void put_param(builder *bd, const rg_value *v)
{
    if (bd->st != RG_OK)
        return;
    if (v->is_null) {
        fail(bd, RG_ERR_CONFIG, "NULL value in a comparison%s", NULL);
        return;
    }
    if (push_param(bd, v) != 0)
        return;
    if (bd->d->numbered_params) {
        char num[32];
        snprintf(num, sizeof num, "$%zu", bd->q->nparams);
        put(bd, num);
    } else {
        put(bd, "?");
    }
    if (bd->d->cast_params) {
        switch (v->type) {
        case RG_TYPE_INTEGER: put(bd, "::bigint"); break;
        case RG_TYPE_NUMBER: put(bd, "::float8"); break;
        case RG_TYPE_BOOLEAN: put(bd, "::boolean"); break;
        default: break; /* strings, enums, dates: typed by the column they meet */
        }
    }
}

static char *keep_string(builder *bd, char *s)
{
    rg_sql_query *q = bd->q;
    if (!s) {
        fail(bd, RG_ERR_INTERNAL, "out of memory%s", NULL);
        return NULL;
    }
    if (q->nowned == q->owned_cap) {
        size_t cap = q->owned_cap ? q->owned_cap * 2 : 8;
        char **p = realloc(q->owned, cap * sizeof *p);
        if (!p) {
            free(s);
            fail(bd, RG_ERR_INTERNAL, "out of memory%s", NULL);
            return NULL;
        }
        q->owned = p;
        q->owned_cap = cap;
    }
    q->owned[q->nowned++] = s;
    return s;
}

/* folded(col) LIKE pattern: the pattern is a parameter, never SQL text. */
static void put_like(builder *bd, size_t field, const char *s, size_t len, int anywhere)
{
    if (bd->st != RG_OK)
        return;
    char *pat = keep_string(bd, rg_sql_like_pattern(s, len, anywhere));
    if (!pat)
        return;
    rg_value v = {.type = RG_TYPE_STRING, .is_null = 0};
    v.u.str.ptr = pat;
    v.u.str.len = strlen(pat);
    put_folded_column(bd, field);
    put(bd, " LIKE ");
    if (bd->d->like_param_prefix)
        put(bd, bd->d->like_param_prefix);
    put_param(bd, &v);
    if (bd->d->like_param_suffix)
        put(bd, bd->d->like_param_suffix);
    put(bd, " ESCAPE '\\'");
}

static int field_ok(builder *bd, size_t field)
{
    if (field >= bd->coll->nfields) {
        fail(bd, RG_ERR_CONFIG, "plan refers to a field index out of range%s", NULL);
        return 0;
    }
    return 1;
}

/* The gateway types every value as its field: a value of another type is a
   malformed plan, refused here rather than left to the backend's implicit
   casts (MySQL compares a string column with a number numerically). Strings
   and enums are the same text to SQL, so either fits the other. A NULL is
   typed too; whether it may appear is put_param's and put_after's call. */
static int value_typed(builder *bd, size_t field, const rg_value *v)
{
    const rg_field_desc *fd = rg_field_at(bd->coll->fields, field);
    rg_type want = fd->type;
    if (v->type == want || (is_collated_type(v->type) && is_collated_type(want)))
        return 1;
    fail(bd, RG_ERR_CONFIG, "a value for '%s' does not have the field's type", fd->name);
    return 0;
}

/* " IN (?, ?, ...)" with the filter's values. */
static void put_in_list(builder *bd, const rg_filter *f)
{
    put(bd, " IN (");
    for (size_t i = 0; i < f->nvalues; i++) {
        if (i)
            put(bd, ", ");
        put_param(bd, rg_value_at(f->values, i));
    }
    put(bd, ")");
}

static void put_filter(builder *bd, const rg_filter *f)
{
    static const char *const cmp[] = {
        [RG_OP_EQ] = " = ", [RG_OP_NE] = " <> ", [RG_OP_LT] = " < ",
        [RG_OP_LTE] = " <= ", [RG_OP_GT] = " > ", [RG_OP_GTE] = " >= ",
    };
    if (!field_ok(bd, f->field))
        return;
    size_t want = f->op == RG_OP_BETWEEN ? 2 : 1;
    if (f->op == RG_OP_IN ? f->nvalues == 0 : f->nvalues != want) {
        fail(bd, RG_ERR_CONFIG, "filter has the wrong number of values%s", NULL);
        return;
    }
    for (size_t i = 0; i < f->nvalues; i++)
        if (!value_typed(bd, f->field, rg_value_at(f->values, i)))
            return;
    /* Where string equality is collated by an expression (MySQL), no index
       serves it: the same comparison in the column's own collation goes
       first. Values equal byte for byte are equal in every collation, so it
       keeps every matching row and lets the index find them. */
    int prefilter = bd->d->collate_equality &&
                    is_collated_type(rg_field_at(bd->coll->fields, f->field)->type) &&
                    (f->op == RG_OP_EQ || f->op == RG_OP_IN);
    if (prefilter) {
        put(bd, "(");
        put_column(bd, f->field);
        if (f->op == RG_OP_EQ) {
            put(bd, " = ");
            put_param(bd, rg_value_at(f->values, 0));
        } else {
            put_in_list(bd, f);
        }
        put(bd, " AND ");
    }
    switch (f->op) {
    case RG_OP_EQ:
    case RG_OP_NE:
        put_equality_column(bd, f->field);
        put(bd, cmp[f->op]);
        put_param(bd, rg_value_at(f->values, 0));
        break;
    case RG_OP_LT:
    case RG_OP_LTE:
    case RG_OP_GT:
    case RG_OP_GTE:
        put_ordered_column(bd, f->field);
        put(bd, cmp[f->op]);
        put_param(bd, rg_value_at(f->values, 0));
        break;
    case RG_OP_IN:
        put_equality_column(bd, f->field);
        put_in_list(bd, f);
        break;
    case RG_OP_BETWEEN:
        put(bd, "(");
        put_ordered_column(bd, f->field);
        put(bd, " >= ");
        put_param(bd, rg_value_at(f->values, 0));
        put(bd, " AND ");
        put_ordered_column(bd, f->field);
        put(bd, " <= ");
        put_param(bd, rg_value_at(f->values, 1));
        put(bd, ")");
        break;
    case RG_OP_PREFIX:
    case RG_OP_CONTAINS: {
        const rg_value *v = rg_value_at(f->values, 0);
        if (!is_text_type(v->type) || v->is_null) {
            fail(bd, RG_ERR_CONFIG, "prefix/contains need a string value%s", NULL);
            return;
        }
        put_like(bd, f->field, v->u.str.ptr, v->u.str.len, f->op == RG_OP_CONTAINS);
        break;
    }
    default:
        fail(bd, RG_ERR_CONFIG, "unsupported filter operator%s", NULL);
        break;
    }
    if (prefilter)
        put(bd, ")");
}

/* Every word must occur in at least one searchable field. */
static void put_search(builder *bd, size_t word)
{
    const char *w = bd->plan->search_words[word];
    if (!w) {
        fail(bd, RG_ERR_CONFIG, "search word missing%s", NULL);
        return;
    }
    if (bd->plan->nsearch_fields == 0) {
        put(bd, "1 = 0");
        return;
    }
    put(bd, "(");
    for (size_t i = 0; i < bd->plan->nsearch_fields; i++) {
        size_t field = bd->plan->search_fields[i];
        if (!field_ok(bd, field))
            return;
        if (i)
            put(bd, " OR ");
        put_like(bd, field, w, strlen(w), 1);
    }
    put(bd, ")");
}

/*
 * Rows strictly after `after` in ORDER BY order, with NULLs last ascending
 * and first descending: OR over i of (keys before i equal AND key i after).
 */
static void put_after(builder *bd)
{
    const rg_query_plan *p = bd->plan;
    int any = 0;
    put(bd, "(");
    for (size_t i = 0; i < p->nsort && bd->st == RG_OK; i++) {
        const rg_sort_key *k = rg_sort_key_at(p->sort, i);
        const rg_value *a = rg_value_at(p->after, i);
        if (!field_ok(bd, k->field) || !value_typed(bd, k->field, a))
            return;
        /* Ascending with NULLs last: nothing sorts after a NULL. */
        if (!k->desc && a->is_null)
            continue;
        if (any)
            put(bd, " OR ");
        any = 1;
        put(bd, "(");
        for (size_t j = 0; j < i; j++) {
            const rg_value *aj = rg_value_at(p->after, j);
            if (!field_ok(bd, rg_sort_key_at(p->sort, j)->field))
                return;
            if (aj->is_null) {
                put_column(bd, rg_sort_key_at(p->sort, j)->field);
                put(bd, " IS NULL");
            } else {
                put_equality_column(bd, rg_sort_key_at(p->sort, j)->field);
                put(bd, " = ");
                put_param(bd, aj);
            }
            put(bd, " AND ");
        }
        if (!k->desc) {
            put(bd, "(");
            put_ordered_column(bd, k->field);
            put(bd, " > ");
            put_param(bd, a);
            put(bd, " OR ");
            put_column(bd, k->field);
            put(bd, " IS NULL)");
        } else if (a->is_null) {
            put_column(bd, k->field);
            put(bd, " IS NOT NULL");
        } else {
            put_ordered_column(bd, k->field);
            put(bd, " < ");
            put_param(bd, a);
        }
        put(bd, ")");
    }
    if (!any)
        put(bd, "1 = 0");
    put(bd, ")");
}

static void put_target(builder *bd)
{
    const char *t = bd->coll->target;
    if (!t || !*t) {
        fail(bd, RG_ERR_CONFIG, "collection has no target table%s", NULL);
        return;
    }
    /* "schema.table": each part is its own identifier. */
    const char *dot = strchr(t, '.');
    if (dot) {
        put_ident(bd, t, (size_t)(dot - t));
        put(bd, ".");
        put_ident(bd, dot + 1, strlen(dot + 1));
    } else {
        put_ident(bd, t, strlen(t));
    }
}

rg_status rg_sql_build_select(const rg_sql_dialect *d, const rg_query_plan *plan,
                              rg_sql_query *q, rg_error *err)
{
    builder bd = {.d = d, .plan = plan, .q = q, .b = &q->sql, .err = err, .st = RG_OK};
    if (!plan || plan->struct_size < sizeof(rg_query_plan) || !plan->collection ||
        plan->collection->struct_size < sizeof(rg_collection_desc)) {
        fail(&bd, RG_ERR_CONFIG, "query plan or collection description is malformed%s", NULL);
        return bd.st;
    }
    bd.coll = plan->collection;
    if (plan->ncolumns == 0) {
        fail(&bd, RG_ERR_CONFIG, "query plan selects no columns%s", NULL);
        return bd.st;
    }

    put(&bd, "SELECT ");
    for (size_t i = 0; i < plan->ncolumns && bd.st == RG_OK; i++) {
        if (!field_ok(&bd, plan->columns[i]))
            break;
        if (i)
            put(&bd, ", ");
        put_column(&bd, plan->columns[i]);
    }
    put(&bd, " FROM ");
    put_target(&bd);

    int nconds = 0;
#define NEXT_COND() put(&bd, nconds++ ? " AND " : " WHERE ")
    for (size_t i = 0; i < plan->nfilters && bd.st == RG_OK; i++) {
        NEXT_COND();
        put_filter(&bd, rg_filter_at(plan->filters, i));
    }
    for (size_t i = 0; i < plan->nsearch_words && bd.st == RG_OK; i++) {
        NEXT_COND();
        put_search(&bd, i);
    }
    if (plan->after && plan->nsort && bd.st == RG_OK) {
        NEXT_COND();
        put_after(&bd);
    }
#undef NEXT_COND

    for (size_t i = 0; i < plan->nsort && bd.st == RG_OK; i++) {
        const rg_sort_key *k = rg_sort_key_at(plan->sort, i);
        if (!field_ok(&bd, k->field))
            break;
        put(&bd, i ? ", " : " ORDER BY ");
        if (d->nulls_by_is_null) {
            /* false (0) sorts first: NULLs last ascending, first descending */
            if (!d->not_null || !d->not_null(d->not_null_ctx, plan->collection, k->field)) {
                put_column(&bd, k->field);
                put(&bd, k->desc ? " IS NULL DESC, " : " IS NULL, ");
            }
            put_ordered_column(&bd, k->field);
            put(&bd, k->desc ? " DESC" : " ASC");
        } else {
            put_ordered_column(&bd, k->field);
            put(&bd, k->desc ? " DESC NULLS FIRST" : " ASC NULLS LAST");
        }
    }

    rg_value lim = {.type = RG_TYPE_INTEGER, .is_null = 0};
    lim.u.i = plan->limit > (size_t)INT64_MAX ? INT64_MAX : (int64_t)plan->limit;
    put(&bd, " LIMIT ");
    put_param(&bd, &lim);

    if (bd.st == RG_OK && q->sql.oom)
        fail(&bd, RG_ERR_INTERNAL, "out of memory%s", NULL);
    return bd.st;
}

void rg_sql_query_free(rg_sql_query *q)
{
    rg_sql_buf_free(&q->sql);
    free(q->params);
    for (size_t i = 0; i < q->nowned; i++)
        free(q->owned[i]);
    free(q->owned);
    memset(q, 0, sizeof *q);
}

char *rg_sql_like_pattern(const char *s, size_t len, int anywhere)
{
    if (len > (SIZE_MAX - 3) / 2)
        return NULL;
    char *out = malloc(len * 2 + 3);
    if (!out)
        return NULL;
    size_t o = 0;
    if (anywhere)
        out[o++] = '%';
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%' || c == '_' || c == '\\')
            out[o++] = '\\';
        else if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        out[o++] = c;
    }
    out[o++] = '%';
    out[o] = '\0';
    return out;
}

/* ---- datetimes ------------------------------------------------------------ */

size_t rg_sql_datetime_from_unix(long long secs, char *out, size_t outsz)
{
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return 0;
    size_t n = strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return n;
}

size_t rg_sql_datetime_canon(const char *s, size_t len, char *out, size_t outsz)
{
    int Y, M, D, h, m, sec;
    if (outsz < 32 || len < 19 || s[4] != '-' || s[7] != '-' ||
        (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':')
        return 0;
    if (rg_civil_digits(s, 4, &Y) || rg_civil_digits(s + 5, 2, &M) ||
        rg_civil_digits(s + 8, 2, &D) || rg_civil_digits(s + 11, 2, &h) ||
        rg_civil_digits(s + 14, 2, &m) || rg_civil_digits(s + 17, 2, &sec))
        return 0;
    size_t i = 19;
    char frac[7] = "000000";
    int nonzero_frac = 0;
    if (i < len && s[i] == '.') {
        size_t nd = 0;
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, nd++) {
            if (nd < 6)
                frac[nd] = s[i];
        }
        if (nd == 0)
            return 0;
    }
    for (int k = 0; k < 6; k++)
        nonzero_frac |= frac[k] != '0';

    /* Offset: none (taken as UTC), Z, or +hh[[:]mm] / -hh[[:]mm]. */
    int off_min = 0;
    if (i < len) {
        if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == len) {
            i++;
        } else if (s[i] == '+' || s[i] == '-') {
            int sign = s[i] == '-' ? -1 : 1, oh, om = 0;
            size_t rest = len - i - 1;
            const char *o = s + i + 1;
            if (rest == 2 && !rg_civil_digits(o, 2, &oh)) {
            } else if (rest == 5 && o[2] == ':' && !rg_civil_digits(o, 2, &oh) &&
                       !rg_civil_digits(o + 3, 2, &om)) {
            } else if (rest == 4 && !rg_civil_digits(o, 2, &oh) &&
                       !rg_civil_digits(o + 2, 2, &om)) {
            } else {
                return 0;
            }
            off_min = sign * (oh * 60 + om);
            i = len;
        } else {
            return 0;
        }
    }
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return 0;
    if (off_min != 0) {
        struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D,
                        .tm_hour = h, .tm_min = m, .tm_sec = sec};
        time_t t = timegm(&tm);
        t -= (time_t)off_min * 60;
        struct tm u;
        if (!gmtime_r(&t, &u))
            return 0;
        Y = u.tm_year + 1900, M = u.tm_mon + 1, D = u.tm_mday;
        h = u.tm_hour, m = u.tm_min, sec = u.tm_sec;
    }
    if (Y < 0 || Y > 9999)
        return 0;
    int n;
    if (nonzero_frac)
        n = snprintf(out, outsz, "%04d-%02d-%02dT%02d:%02d:%02d.%sZ", Y, M, D, h, m, sec, frac);
    else
        n = snprintf(out, outsz, "%04d-%02d-%02dT%02d:%02d:%02dZ", Y, M, D, h, m, sec);
    if (n < 0 || (size_t)n >= outsz)
        return 0;
    return (size_t)n;
}

int rg_sql_number_from_text(const char *s, rg_type type, rg_value *v)
{
    char *end;
    errno = 0;
    if (type == RG_TYPE_INTEGER) {
        v->u.i = strtoll(s, &end, 10);
        return end == s || errno || (*end && *end != '.') ? -1 : 0;
    }
    v->u.n = strtod(s, &end);
    return end == s || *end ? -1 : 0;
}
