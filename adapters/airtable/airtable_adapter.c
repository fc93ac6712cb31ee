/*
 * readgate-adapter-airtable: reads an Airtable table through the Web API's
 * listRecords (POST /v0/{base}/{table}/listRecords).
 *
 * Options: base_id (required), access_token (an OAuth access token, injected
 * by the core for sources with an oauth block, or a personal access token),
 * base_url (default https://api.airtable.com), requests_per_second (default
 * 5, Airtable's documented limit per base), checkbox_absent_is_false
 * (default true), max_records (default 10000). The collection's target is the
 * table name or id; each field's column is the Airtable field name.
 *
 * How a query runs. Airtable's formula language cannot state readgate's
 * semantics exactly (text order is locale-aware, LOWER folds every letter,
 * blanks compare as 0 or ""), so the adapter asks Airtable for a SUPERSET of
 * the answer with filterByFormula and evaluates the plan again in memory
 * (memfilter.c), which decides. Formulas are built from typed values only:
 * string literals in single quotes with \ and ' backslash-escaped, numbers
 * printed from their binary value, field references {Name} only from the
 * configured columns (a name containing '}' cannot be referenced, and is
 * refused when the plan is run: check_options does not see the fields).
 *
 * Paging. Airtable pages with an opaque `offset`, 100 records at a time.
 * When the plan is ordered by the key alone and the key is numeric, Airtable
 * is asked to sort by it (numbers sort exactly) with the `after` position as
 * a formula condition, and reading stops as soon as `limit` rows passed the
 * exact filter. Any other order needs every matching record: the adapter
 * pages through all of them (at most max_records), then sorts and cuts in
 * memory.
 *
 * Budget. At most requests_per_second calls per base in any second (plus a
 * margin), shared by every connection of the process, and at most
 * requests_per_second_per_token calls per access token across every base
 * (Airtable's 50 requests/s per user); a call waits for a slot within the
 * query's deadline. After a 429 Airtable refuses the base for
 * 30 s, so the adapter makes no call to that base for 30 s and answers
 * RG_ERR_UNAVAILABLE at once meanwhile.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <readgate/adapter.h>

#include "memfilter.h"
#include "adapter_err.h"
#include "saas_http.h"

#define ADAPTER_NAME "airtable"
#define DEFAULT_BASE_URL "https://api.airtable.com"
#define PAGE_SIZE 100
/* Airtable: "5 requests per second per base"; a 429 locks the base for 30 s. */
#define DEFAULT_RPS 5
/* Airtable: "50 requests per second for all traffic using tokens from a
   given user", whatever the base. */
#define DEFAULT_TOKEN_RPS 50
#define PENALTY_MS 30000
/* The provider counts requests by arrival; leave room for network jitter. */
#define WINDOW_MS 1100
#define DEFAULT_MAX_RECORDS 10000

static const rg_host_api *host;

#define logf_(lvl, ...) rg_adapter_log(host, ADAPTER_NAME, lvl, __VA_ARGS__)

/* ---- options ---------------------------------------------------------------------- */

typedef struct at_options {
    const char *base_id, *base_url, *access_token;
    unsigned long rps, token_rps, max_records;
    int checkbox_absent_is_false;
} at_options;

static int valid_base_id(const char *s)
{
    if (!s || !*s || strlen(s) > 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
            return 0;
    return 1;
}

static rg_status parse_options(const rg_source_info *src, at_options *o, rg_error *err)
{
    memset(o, 0, sizeof *o);
    o->base_url = DEFAULT_BASE_URL;
    o->rps = DEFAULT_RPS;
    o->token_rps = DEFAULT_TOKEN_RPS;
    o->max_records = DEFAULT_MAX_RECORDS;
    o->checkbox_absent_is_false = 1;
    for (size_t i = 0; i < src->noptions; i++) {
        const rg_option *opt = rg_option_at(src->options, i);
        const char *k = opt->key, *v = opt->value;
        if (!strcmp(k, "base_id")) {
            o->base_id = v;
        } else if (!strcmp(k, "base_url")) {
            if (rg_saas_opt_base_url(k, v, err) != 0)
                return RG_ERR_CONFIG;
            o->base_url = v;
        } else if (!strcmp(k, "access_token")) {
            o->access_token = v;
        } else if (!strcmp(k, "requests_per_second")) {
            if (rg_saas_opt_uint(k, v, 1, 1000, &o->rps, err) != 0)
                return RG_ERR_CONFIG;
        } else if (!strcmp(k, "requests_per_second_per_token")) {
            if (rg_saas_opt_uint(k, v, 1, 1000, &o->token_rps, err) != 0)
                return RG_ERR_CONFIG;
        } else if (!strcmp(k, "max_records")) {
            if (rg_saas_opt_uint(k, v, 1, 1000000, &o->max_records, err) != 0)
                return RG_ERR_CONFIG;
        } else if (!strcmp(k, "checkbox_absent_is_false")) {
            if (rg_saas_opt_bool(k, v, &o->checkbox_absent_is_false, err) != 0)
                return RG_ERR_CONFIG;
        } else {
            return rg_saas_fail(err, RG_ERR_CONFIG,
                                "unknown option '%s' for the airtable adapter; expected: base_id, "
                                "access_token, base_url, requests_per_second, "
                                "requests_per_second_per_token, max_records, "
                                "checkbox_absent_is_false",
                                k);
        }
    }
    if (!valid_base_id(o->base_id))
        return rg_saas_fail(err, RG_ERR_CONFIG,
                            "option 'base_id' is required: the Airtable base id (app..., letters "
                            "and digits)");
    /* The core adds access_token when it opens a connection; `readgate
       check` sees the options without it. An encrypted value is checked
       once decrypted. */
    if (o->access_token && strncmp(o->access_token, "enc:", 4) &&
        rg_saas_opt_token("access_token", o->access_token, err) != 0)
        return RG_ERR_CONFIG;
    return RG_OK;
}

static rg_status check_options(const rg_source_info *src, rg_error *err)
{
    at_options o;
    return parse_options(src, &o, err);
}

/* ---- connections --------------------------------------------------------------------- */

typedef struct at_conn {
    rg_http http;
    char *base_id, *base_url, *auth_header;
    char *quota_key; /* base_url + base id: one budget per base and provider */
    char *token_quota_key; /* base_url + a digest of the token: one budget per token */
    unsigned long rps, token_rps, max_records;
    int checkbox_absent_is_false;
} at_conn;

static void close_conn(at_conn *c)
{
    rg_http_close(&c->http);
    free(c->base_id);
    free(c->base_url);
    free(c->auth_header);
    free(c->quota_key);
    free(c->token_quota_key);
    free(c);
}

static uint64_t fnv1a64(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

static rg_status connect_(const rg_source_info *src, void **out, rg_error *err)
{
    *out = NULL;
    at_options o;
    rg_status st = parse_options(src, &o, err);
    if (st != RG_OK)
        return st;
    st = rg_saas_check_access_token(o.access_token,
                            "no Airtable access token: give the source an oauth block (and run "
                            "readgate oauth import) or an access_token option", err);
    if (st != RG_OK)
        return st;
    at_conn *c = calloc(1, sizeof *c);
    if (!c)
        return rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
    c->rps = o.rps;
    c->token_rps = o.token_rps;
    c->max_records = o.max_records;
    c->checkbox_absent_is_false = o.checkbox_absent_is_false;
    c->base_id = strdup(o.base_id);
    c->base_url = strdup(o.base_url);
    c->auth_header = rg_saas_concat3("Authorization: Bearer ", o.access_token, "");
    c->quota_key = rg_saas_concat3(o.base_url, "|", o.base_id);
    /* The budget table is keyed by text; a digest keeps the token itself out
       of it. Every connection with the same token shares one budget. */
    char digest[40];
    snprintf(digest, sizeof digest, "|token|%016llx", (unsigned long long)fnv1a64(o.access_token));
    c->token_quota_key = rg_saas_concat3(o.base_url, digest, "");
    if (!c->base_id || !c->base_url || !c->auth_header || !c->quota_key || !c->token_quota_key) {
        close_conn(c);
        return rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
    }
    st = rg_http_open(&c->http, "Airtable", src->connect_timeout_ms, err);
    if (st != RG_OK) {
        close_conn(c);
        return st;
    }
    *out = c;
    return RG_OK;
}

static void disconnect_(void *conn)
{
    close_conn(conn);
}

static rg_status penalty_error(const at_conn *c, int64_t left_ms, rg_error *err)
{
    return rg_saas_fail(err, RG_ERR_UNAVAILABLE,
                        "Airtable's rate limit for base %s was exceeded (HTTP 429): no call to it "
                        "for 30 s after that, as Airtable requires (%lld s left)",
                        c->base_id, (long long)((left_ms + 999) / 1000));
}

static rg_status ping_(void *conn, rg_error *err)
{
    at_conn *c = conn;
    int64_t left = rg_quota_penalty_left(c->quota_key);
    if (left > 0)
        return penalty_error(c, left, err);
    return rg_http_ping(&c->http, c->base_url, rg_saas_deadline(5000), err);
}

/* ---- formulas ------------------------------------------------------------------------- */

/* {Name}: the name comes from the site file; Airtable has no escape inside
   braces, so a name with '}' cannot be referenced at all. */
static rg_status put_field(rg_sbuf *b, const rg_field_desc *f, rg_error *err)
{
    const char *col = f->column ? f->column : f->name;
    if (!*col || strchr(col, '}'))
        return rg_saas_fail(err, RG_ERR_CONFIG,
                            "field '%s': an Airtable field name that is empty or contains '}' "
                            "cannot be used in a formula",
                            f->name);
    rg_sbuf_puts(b, "{");
    rg_sbuf_puts(b, col);
    rg_sbuf_puts(b, "}");
    return RG_OK;
}

/* A string literal: single quotes, \ and ' escaped with a backslash. */
static void put_string(rg_sbuf *b, const char *s, size_t len)
{
    rg_sbuf_puts(b, "'");
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\\' || s[i] == '\'') {
            rg_sbuf_append(b, s + start, i - start);
            rg_sbuf_append(b, "\\", 1);
            start = i;
        }
    }
    rg_sbuf_append(b, s + start, len - start);
    rg_sbuf_puts(b, "'");
}

/* LOWER() in a formula also folds non-ASCII letters, which keeps FIND of a
   lowered needle a superset of the ASCII-only match, except where lowering
   depends on context: Greek capital sigma lowers to a final or a medial
   form. Such needles are left to the in-memory filter. */
static int fold_safe(const char *s, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++)
        if ((unsigned char)s[i] == 0xCE && (unsigned char)s[i + 1] == 0xA3)
            return 0;
    return 1;
}

/* FIND(LOWER('needle'), LOWER({Field})) */
static rg_status put_find(rg_sbuf *b, const rg_field_desc *f, const char *s, size_t len,
                          rg_error *err)
{
    rg_sbuf_puts(b, "FIND(LOWER(");
    put_string(b, s, len);
    rg_sbuf_puts(b, "),LOWER(");
    rg_status st = put_field(b, f, err);
    rg_sbuf_puts(b, "))");
    return st;
}

static int is_text(rg_type t)
{
    return t == RG_TYPE_STRING || t == RG_TYPE_ENUM;
}

static int is_num(rg_type t)
{
    return t == RG_TYPE_INTEGER || t == RG_TYPE_NUMBER;
}

/*
 * One filter as a formula condition that holds for every row the filter
 * selects (and maybe others). *pushed = 0 when nothing useful can be said.
 */
static rg_status put_filter(rg_sbuf *b, const rg_field_desc *f, const rg_filter *flt, int *pushed,
                            rg_error *err)
{
    static const char *cmp[] = {[RG_OP_EQ] = "=",  [RG_OP_NE] = "!=", [RG_OP_LT] = "<",
                                [RG_OP_LTE] = "<=", [RG_OP_GT] = ">",  [RG_OP_GTE] = ">="};
    const rg_value *v = flt->values;
    rg_status st = RG_OK;
    *pushed = 1;
    if (is_text(f->type)) {
        switch (flt->op) {
        case RG_OP_EQ:
            st = put_field(b, f, err);
            rg_sbuf_puts(b, "=");
            put_string(b, rg_value_at(v, 0)->u.str.ptr, rg_value_at(v, 0)->u.str.len);
            return st;
        case RG_OP_IN:
            rg_sbuf_puts(b, "OR(");
            for (size_t i = 0; i < flt->nvalues && st == RG_OK; i++) {
                if (i)
                    rg_sbuf_puts(b, ",");
                st = put_field(b, f, err);
                rg_sbuf_puts(b, "=");
                put_string(b, rg_value_at(v, i)->u.str.ptr, rg_value_at(v, i)->u.str.len);
            }
            rg_sbuf_puts(b, ")");
            return st;
        case RG_OP_PREFIX:
        case RG_OP_CONTAINS:
            if (!fold_safe(rg_value_at(v, 0)->u.str.ptr, rg_value_at(v, 0)->u.str.len))
                break;
            st = put_find(b, f, rg_value_at(v, 0)->u.str.ptr, rg_value_at(v, 0)->u.str.len, err);
            if (flt->op == RG_OP_PREFIX)
                rg_sbuf_puts(b, "=1");
            return st;
        default:
            /* ne: Airtable's text equality may differ from ours, so its
               negation is not a superset; ordering of text is locale-aware. */
            break;
        }
    } else if (is_num(f->type)) {
        switch (flt->op) {
        case RG_OP_EQ:
        case RG_OP_NE:
        case RG_OP_LT:
        case RG_OP_LTE:
        case RG_OP_GT:
        case RG_OP_GTE:
            st = put_field(b, f, err);
            rg_sbuf_puts(b, cmp[flt->op]);
            rg_sbuf_put_number(b, rg_value_at(v, 0));
            return st;
        case RG_OP_BETWEEN:
            rg_sbuf_puts(b, "AND(");
            st = put_field(b, f, err);
            rg_sbuf_puts(b, ">=");
            rg_sbuf_put_number(b, rg_value_at(v, 0));
            rg_sbuf_puts(b, ",");
            if (st == RG_OK)
                st = put_field(b, f, err);
            rg_sbuf_puts(b, "<=");
            rg_sbuf_put_number(b, rg_value_at(v, 1));
            rg_sbuf_puts(b, ")");
            return st;
        case RG_OP_IN:
            rg_sbuf_puts(b, "OR(");
            for (size_t i = 0; i < flt->nvalues && st == RG_OK; i++) {
                if (i)
                    rg_sbuf_puts(b, ",");
                st = put_field(b, f, err);
                rg_sbuf_puts(b, "=");
                rg_sbuf_put_number(b, rg_value_at(v, i));
            }
            rg_sbuf_puts(b, ")");
            return st;
        default:
            break;
        }
    } else if (f->type == RG_TYPE_BOOLEAN) {
        if (flt->op == RG_OP_EQ || flt->op == RG_OP_NE) {
            /* A checkbox is 1 or 0 (a blank one 0) in formulas. */
            st = put_field(b, f, err);
            rg_sbuf_puts(b, flt->op == RG_OP_EQ ? "=" : "!=");
            rg_sbuf_puts(b, rg_value_at(v, 0)->u.b ? "1" : "0");
            return st;
        }
    } else if (f->type == RG_TYPE_DATE || f->type == RG_TYPE_DATETIME) {
        /* Each bound moved one day outwards, so that however Airtable reads
           it (the base's time zone, millisecond precision) the formula keeps
           a superset. */
        const rg_value *lo, *hi;
        rg_mf_bounds(flt, &lo, &hi);
        char los[16], his[16];
        if ((lo && rg_mf_day_bound(lo, -1, los, sizeof los) != 0) ||
            (hi && rg_mf_day_bound(hi, 1, his, sizeof his) != 0))
            lo = hi = NULL; /* a year outside 0..9999: the memory filter decides */
        if (lo || hi) {
            rg_sbuf_puts(b, "AND(");
            if (lo) {
                rg_sbuf_puts(b, "IS_AFTER(");
                st = put_field(b, f, err);
                rg_sbuf_puts(b, ",");
                put_string(b, los, strlen(los));
                rg_sbuf_puts(b, ")");
            }
            if (hi && st == RG_OK) {
                rg_sbuf_puts(b, lo ? ",IS_BEFORE(" : "IS_BEFORE(");
                st = put_field(b, f, err);
                rg_sbuf_puts(b, ",");
                put_string(b, his, strlen(his));
                rg_sbuf_puts(b, ")");
            }
            rg_sbuf_puts(b, ")");
            return st;
        }
    }
    *pushed = 0;
    return RG_OK;
}

/* Is the plan ordered by the key alone, and can Airtable sort by it exactly? */
static int key_order(const rg_query_plan *p)
{
    const rg_collection_desc *coll = p->collection;
    return p->nsort == 1 && rg_sort_key_at(p->sort, 0)->field == coll->key_field &&
           is_num(rg_field_at(coll->fields, coll->key_field)->type);
}

/* The whole filterByFormula (empty when nothing can be pushed). */
static rg_status build_formula(const rg_query_plan *p, rg_sbuf *out, rg_error *err)
{
    const rg_collection_desc *coll = p->collection;
    size_t nclauses = 0;
    rg_sbuf body = {0};
    rg_status st = RG_OK;
    for (size_t i = 0; i < p->nfilters && st == RG_OK; i++) {
        const rg_filter *flt = rg_filter_at(p->filters, i);
        size_t mark = body.len;
        if (nclauses)
            rg_sbuf_puts(&body, ",");
        int pushed = 0;
        st = put_filter(&body, rg_field_at(coll->fields, flt->field), flt, &pushed, err);
        if (pushed) {
            nclauses++;
        } else if (!body.oom) {
            body.len = mark; /* drop the comma */
            if (body.data)
                body.data[mark] = '\0';
        }
    }
    /* search: every word in at least one search field. */
    for (size_t w = 0; w < p->nsearch_words && st == RG_OK && p->nsearch_fields; w++) {
        const char *word = p->search_words[w];
        if (!fold_safe(word, strlen(word)))
            continue;
        if (nclauses)
            rg_sbuf_puts(&body, ",");
        rg_sbuf_puts(&body, "OR(");
        for (size_t i = 0; i < p->nsearch_fields && st == RG_OK; i++) {
            if (i)
                rg_sbuf_puts(&body, ",");
            const rg_field_desc *fd = rg_field_at(coll->fields, p->search_fields[i]);
            st = put_find(&body, fd, word, strlen(word), err);
        }
        rg_sbuf_puts(&body, ")");
        nclauses++;
    }
    /* keyset position on a numeric key ordered by Airtable */
    if (st == RG_OK && p->after && key_order(p) && !rg_value_at(p->after, 0)->is_null) {
        if (nclauses)
            rg_sbuf_puts(&body, ",");
        st = put_field(&body, rg_field_at(coll->fields, coll->key_field), err);
        rg_sbuf_puts(&body, rg_sort_key_at(p->sort, 0)->desc ? "<" : ">");
        rg_sbuf_put_number(&body, rg_value_at(p->after, 0));
        nclauses++;
    }
    if (st == RG_OK && nclauses) {
        if (nclauses > 1)
            rg_sbuf_puts(out, "AND(");
        rg_sbuf_append(out, body.data, body.len);
        if (nclauses > 1)
            rg_sbuf_puts(out, ")");
    }
    if (st == RG_OK && (body.oom || out->oom))
        st = rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
    rg_sbuf_free(&body);
    return st;
}

/* ---- the request ---------------------------------------------------------------------- */

static rg_status build_body(const rg_query_plan *p, const rg_mf_plan *mp, const char *formula,
                            json_t **out, rg_error *err)
{
    const rg_collection_desc *coll = p->collection;
    json_t *body = json_object(), *fields = json_array();
    int ok = body && fields && !json_object_set_new(body, "pageSize", json_integer(PAGE_SIZE));
    /* Only the fields the plan reads travel. */
    for (size_t i = 0; ok && i < coll->nfields; i++) {
        if (!mp->needed[i])
            continue;
        const rg_field_desc *fd = rg_field_at(coll->fields, i);
        const char *col = fd->column ? fd->column : fd->name;
        ok = !json_array_append_new(fields, json_string(col));
    }
    if (ok) {
        ok = !json_object_set(body, "fields", fields);
    }
    if (ok && formula && *formula)
        ok = !json_object_set_new(body, "filterByFormula", json_string(formula));
    if (ok && key_order(p)) {
        const rg_field_desc *kf = rg_field_at(coll->fields, coll->key_field);
        json_t *sort = json_pack("[{s:s, s:s}]", "field", kf->column ? kf->column : kf->name,
                                 "direction", rg_sort_key_at(p->sort, 0)->desc ? "desc" : "asc");
        ok = sort && !json_object_set_new(body, "sort", sort);
    }
    json_decref(fields);
    if (!ok) {
        json_decref(body);
        return rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
    }
    *out = body;
    return RG_OK;
}

/* The error type of an Airtable error body: {"error":{"type":..}},
   {"error":"NOT_FOUND"} or {"errors":[{"error":..}]} (429). */
static const char *error_type(const json_t *j)
{
    json_t *e = json_object_get(j, "error");
    if (json_is_string(e))
        return json_string_value(e);
    if (json_is_object(e) && json_is_string(json_object_get(e, "type")))
        return json_string_value(json_object_get(e, "type"));
    json_t *list = json_object_get(j, "errors");
    json_t *first = json_array_get(list, 0);
    if (json_is_string(json_object_get(first, "error")))
        return json_string_value(json_object_get(first, "error"));
    return NULL;
}

static rg_status answer_error(at_conn *c, const rg_http_resp *r, const char *table, rg_error *err)
{
    const char *type = error_type(r->json);
    if (r->status == 429) {
        rg_quota_penalize(c->quota_key, PENALTY_MS);
        logf_(RG_LOG_WARN, "HTTP 429 from Airtable for base %s: pausing calls to it for 30 s",
              c->base_id);
        return penalty_error(c, PENALTY_MS, err);
    }
    if (type && r->status == 403 && !strcmp(type, "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND"))
        return rg_saas_fail(err, RG_ERR_CONFIG,
                            "Airtable: base %s or table '%s' does not exist, or the token may not "
                            "read it (HTTP 403 %s); the token needs scope data.records:read",
                            c->base_id, table, type);
    if (type && r->status == 422 && !strcmp(type, "UNKNOWN_FIELD_NAME")) {
        /* This message quotes a field name from the site file, never a value. */
        json_t *m = json_object_get(json_object_get(r->json, "error"), "message");
        return rg_saas_fail(err, RG_ERR_CONFIG,
                            "Airtable table '%s' has no field named as a configured column (%s); "
                            "check the fields' column names",
                            table, json_is_string(m) ? json_string_value(m) : type);
    }
    if (type && r->status == 422 && !strcmp(type, "INVALID_FILTER_BY_FORMULA"))
        return rg_saas_fail(err, RG_ERR_UPSTREAM,
                            "Airtable refused the filter formula (HTTP 422 %s): check that each "
                            "field's type matches its Airtable field type",
                            type);
    if (type && r->status == 422 && !strcmp(type, "LIST_RECORDS_ITERATOR_NOT_AVAILABLE"))
        return rg_saas_fail(err, RG_ERR_UPSTREAM,
                            "Airtable expired the paging offset (HTTP 422 %s); retry the query",
                            type);
    return rg_http_status_error(&c->http, r->status, type, err);
}

/* Records of one answer into rows. */
static rg_status read_records(at_conn *c, const rg_query_plan *p, const rg_mf_plan *mp,
                              const json_t *records, rg_mf_rows *rows, rg_error *err)
{
    const rg_collection_desc *coll = p->collection;
    size_t i;
    json_t *rec;
    json_array_foreach(records, i, rec) {
        json_t *fields = json_object_get(rec, "fields");
        if (!json_is_object(fields))
            return rg_saas_fail(err, RG_ERR_UPSTREAM, "Airtable answered a record without fields");
        rg_mf_cell *row = rg_mf_rows_add(rows);
        if (!row)
            return rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
        for (size_t f = 0; f < coll->nfields; f++) {
            if (!mp->needed[f])
                continue;
            const rg_field_desc *fd = rg_field_at(coll->fields, f);
            json_t *j = json_object_get(fields, fd->column ? fd->column : fd->name);
            /* Airtable leaves an unchecked checkbox out of `fields`. */
            if (!j && fd->type == RG_TYPE_BOOLEAN && c->checkbox_absent_is_false)
                j = json_false();
            int rc = rg_mf_set_json(rows, &row[f], fd->type, j, RG_MF_DATE_FROM_DATETIME);
            if (rc == -2)
                return rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
            if (rc != 0)
                return rg_saas_fail(err, RG_ERR_UPSTREAM,
                                    "Airtable field '%s' holds a value that is not a %s as "
                                    "configured for field '%s'",
                                    fd->column ? fd->column : fd->name,
                                    rg_mf_type_name(fd->type), fd->name);
        }
    }
    return RG_OK;
}

static rg_status query_(void *conn, const rg_query_plan *plan, const rg_row_sink *sink,
                        rg_error *err)
{
    at_conn *c = conn;
    int64_t deadline = rg_saas_deadline(plan->timeout_ms);
    const char *table = plan->collection->target;
    rg_mf_plan mp;
    rg_mf_rows rows;
    rg_sbuf formula = {0};
    json_t *body = NULL;
    CURLU *url = NULL;
    char *offset = NULL;
    rg_mf_rows_init(&rows, plan->collection);
    rg_status st = rg_mf_plan_init(&mp, plan, err);
    if (st != RG_OK)
        goto out;
    if (!table || !*table) {
        st = rg_saas_fail(err, RG_ERR_CONFIG, "collection '%s' needs a target: the Airtable table "
                          "name or id", plan->collection->name);
        goto out;
    }
    int64_t left = rg_quota_penalty_left(c->quota_key);
    if (left > 0) {
        st = penalty_error(c, left, err);
        goto out;
    }
    if ((st = build_formula(plan, &formula, err)) != RG_OK ||
        (st = build_body(plan, &mp, formula.data, &body, err)) != RG_OK)
        goto out;
    const char *segs[] = {"v0", c->base_id, table, "listRecords"};
    url = rg_http_url(c->base_url, segs, 4, 1u | 2u | 8u, err);
    if (!url) {
        st = err->status;
        goto out;
    }
    int early = key_order(plan);
    const char *headers[] = {c->auth_header};
    for (;;) {
        int64_t wait = 0;
        rg_quota_result q =
            rg_quota_take(c->quota_key, (unsigned)c->rps, WINDOW_MS, deadline, 1, &wait);
        if (q == RG_QUOTA_PENALTY) {
            st = penalty_error(c, wait, err);
            goto out;
        }
        if (q == RG_QUOTA_BUSY) {
            st = rg_saas_fail(err, RG_ERR_UNAVAILABLE,
                              "Airtable allows %lu requests per second for base %s and the "
                              "budget is spent; no slot frees within the query's time budget",
                              c->rps, c->base_id);
            goto out;
        }
        if (q == RG_QUOTA_NOMEM) {
            st = rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
            goto out;
        }
        q = rg_quota_take(c->token_quota_key, (unsigned)c->token_rps, WINDOW_MS, deadline, 1,
                          &wait);
        if (q == RG_QUOTA_BUSY || q == RG_QUOTA_PENALTY) {
            st = rg_saas_fail(err, RG_ERR_UNAVAILABLE,
                              "Airtable allows %lu requests per second per access token and "
                              "the budget is spent; no slot frees within the query's time budget",
                              c->token_rps);
            goto out;
        }
        if (q == RG_QUOTA_NOMEM) {
            st = rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
            goto out;
        }
        if (offset && json_object_set_new(body, "offset", json_string(offset)) != 0) {
            st = rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
            goto out;
        }
        rg_http_resp r;
        st = rg_http_send(&c->http, "POST", url, headers, 1, body, deadline, &r, err);
        if (st == RG_OK && (r.status < 200 || r.status > 299))
            st = answer_error(c, &r, table, err);
        json_t *records = st == RG_OK ? json_object_get(r.json, "records") : NULL;
        if (st == RG_OK && !json_is_array(records))
            st = rg_saas_fail(err, RG_ERR_UPSTREAM, "Airtable answered without a records list");
        if (st == RG_OK)
            st = read_records(c, plan, &mp, records, &rows, err);
        free(offset);
        offset = NULL;
        json_t *next = st == RG_OK ? json_object_get(r.json, "offset") : NULL;
        if (json_is_string(next) && !(offset = strdup(json_string_value(next))))
            st = rg_saas_fail(err, RG_ERR_INTERNAL, "out of memory");
        rg_http_resp_free(&r);
        if (st != RG_OK)
            goto out;
        if (!offset)
            break;
        /* In the key order Airtable pages exactly as we do: stop once the
           page is full. */
        if (early && rg_mf_count_selected(&mp, &rows) >= plan->limit)
            break;
        if (rows.nrows >= c->max_records) {
            st = rg_saas_fail(err, RG_ERR_UPSTREAM,
                              "more than %lu Airtable records match the query and it must be "
                              "sorted in memory; narrow it or raise option max_records",
                              c->max_records);
            goto out;
        }
    }
    st = rg_mf_emit(&mp, &rows, sink, err);
out:
    free(offset);
    curl_url_cleanup(url);
    json_decref(body);
    rg_sbuf_free(&formula);
    rg_mf_rows_free(&rows);
    rg_mf_plan_free(&mp);
    if (st != RG_OK && st != RG_ERR_ABORTED)
        logf_(RG_LOG_DEBUG, "query on '%s' failed: %s", plan->collection->name, err->message);
    return st;
}

static const rg_adapter airtable_adapter = {
    .struct_size = sizeof(rg_adapter),
    .abi_major = RG_ADAPTER_ABI_MAJOR,
    .abi_minor = RG_ADAPTER_ABI_MINOR,
    .name = ADAPTER_NAME,
    .version = "1.0.0",
    .check_options = check_options,
    .connect = connect_,
    .query = query_,
    .ping = ping_,
    .disconnect = disconnect_,
};

__attribute__((visibility("default"))) const rg_adapter *rg_adapter_entry(const rg_host_api *h)
{
    host = h;
    return &airtable_adapter;
}
