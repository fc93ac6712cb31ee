/*
 * Request body -> typed query plan. The body is parsed with jansson, then each
 * top-level member is checked in turn; the first problem found is reported
 * with the JSON path of the offending part. Everything the plan points to
 * lives in one arena so a plan is released with a single call.
 */
#include "query/plan.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cursor.h"
#include "query/json_scratch.h"
#include "query/plan_internal.h"

/* ---- names for messages ------------------------------------------------------ */

/* Client-supplied names are echoed at most 64 bytes long, cut on a UTF-8 boundary. */
static int clip(const char *s)
{
    size_t n = strlen(s);
    if (n <= 64)
        return (int)n;
    n = 64;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return (int)n;
}

enum role { ROLE_ANY, ROLE_FILTER, ROLE_SEARCH, ROLE_SORT, ROLE_DISPLAY };

static bool has_role(const rg_field *f, enum role r)
{
    switch (r) {
    case ROLE_ANY: return f->display || f->searchable || f->sortable || f->ops != 0;
    case ROLE_FILTER: return f->ops != 0;
    case ROLE_SEARCH: return f->searchable;
    case ROLE_SORT: return f->sortable;
    case ROLE_DISPLAY: return f->display;
    }
    return false;
}

/* Append "a, b, c" to buf; "none" if nothing was added. */
typedef struct list_buf {
    char text[320];
    size_t len;
    size_t count;
} list_buf;

static void list_add(list_buf *l, const char *name)
{
    if (l->len >= sizeof l->text - 1)
        return;
    int n = snprintf(l->text + l->len, sizeof l->text - l->len, "%s%s", l->count ? ", " : "", name);
    if (n > 0)
        l->len += (size_t)n < sizeof l->text - l->len ? (size_t)n : sizeof l->text - 1 - l->len;
    l->count++;
}

static const char *list_done(list_buf *l)
{
    if (l->count == 0)
        snprintf(l->text, sizeof l->text, "none");
    return l->text;
}

static const char *role_list(const rg_collection *c, enum role r, list_buf *l)
{
    memset(l, 0, sizeof *l);
    for (size_t i = 0; i < c->nfields; i++)
        if (has_role(&c->fields[i], r))
            list_add(l, c->fields[i].name);
    return list_done(l);
}

static const char *op_list(const rg_field *f, list_buf *l)
{
    memset(l, 0, sizeof *l);
    for (int op = RG_OP_EQ; op <= RG_OP_CONTAINS; op++)
        if (f->ops & RG_OP_MASK(op)) {
            const char *n = rg_op_name((rg_op)op);
            list_add(l, n ? n : "?");
        }
    return list_done(l);
}

static const char *role_word(enum role r)
{
    switch (r) {
    case ROLE_FILTER: return "filterable";
    case ROLE_SORT: return "sortable";
    case ROLE_DISPLAY: return "display fields";
    case ROLE_SEARCH: return "searchable";
    case ROLE_ANY: break;
    }
    return "fields";
}

/* ---- builder ------------------------------------------------------------------- */

#define MAX_SEARCH_WORDS 16

typedef struct builder {
    rg_plan_ctx x;
    const rg_site *site;
    const rg_collection *c;
    json_t *root;
    rg_filter *filters;
    size_t nfilters;
    const char **words;
    size_t nwords;
    size_t *search_fields;
    size_t nsearch_fields;
    rg_sort_key sort[RG_CURSOR_MAX_VALUES];
    size_t nsort;
    size_t *display;
    size_t ndisplay;
    size_t limit;
    uint8_t digest[16];
} builder;

static int fail(builder *b, rg_err_code code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(builder *b, rg_err_code code, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rg_api_verr(b->x.err, code, field, fmt, ap);
    va_end(ap);
    return -1;
}

static int oom(builder *b)
{
    rg_api_err_default(b->x.err, RG_E_INTERNAL);
    return -1;
}

/* A field known to the outside world (it has at least one role), or NULL. */
static const rg_field *lookup(const rg_collection *c, const char *name, size_t *idx)
{
    int i = rg_collection_find_field(c, name);
    if (i < 0 || (size_t)i >= c->nfields || !has_role(&c->fields[i], ROLE_ANY))
        return NULL;
    *idx = (size_t)i;
    return &c->fields[i];
}

/* Unknown field in `role` context: names it and lists what the role allows. */
static int unknown_field(builder *b, const char *path, const char *name, enum role r)
{
    list_buf l;
    return fail(b, RG_E_UNKNOWN_FIELD, path,
                "field '%.*s' does not exist in collection '%s'; %s: %s", clip(name), name,
                b->c->name, role_word(r), role_list(b->c, r, &l));
}

static const char *const top_keys[] = {"collection", "filters", "search", "sort",
                                       "fields",     "limit",   "cursor"};

static int too_deep(json_t *j, int depth, int max)
{
    if (!json_is_object(j) && !json_is_array(j))
        return 0;
    if (depth > max)
        return 1;
    if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) {
            if (too_deep(v, depth + 1, max))
                return 1;
        }
    } else {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) {
            if (too_deep(v, depth + 1, max))
                return 1;
        }
    }
    return 0;
}

static int check_top_keys(builder *b)
{
    const char *k;
    json_t *v;
    json_object_foreach(b->root, k, v) {
        bool known = false;
        for (size_t i = 0; i < sizeof top_keys / sizeof top_keys[0]; i++)
            known |= strcmp(k, top_keys[i]) == 0;
        if (!known)
            return fail(b, RG_E_UNKNOWN_PROPERTY, k,
                        "unknown property '%.*s'; allowed: collection, filters, search, sort, "
                        "fields, limit, cursor",
                        clip(k), k);
    }
    return 0;
}

static int parse_collection(builder *b)
{
    json_t *j = json_object_get(b->root, "collection");
    list_buf l;
    memset(&l, 0, sizeof l);
    for (size_t i = 0; i < b->site->ncollections; i++)
        list_add(&l, b->site->collections[i].name);
    list_done(&l);
    if (!j)
        return fail(b, RG_E_UNKNOWN_COLLECTION, "collection",
                    "collection is required; available: %s", l.text);
    if (!json_is_string(j))
        return fail(b, RG_E_UNKNOWN_COLLECTION, "collection",
                    "collection must be a string naming a collection; available: %s", l.text);
    const char *name = json_string_value(j);
    b->c = rg_site_find_collection(b->site, name);
    if (!b->c)
        return fail(b, RG_E_UNKNOWN_COLLECTION, "collection",
                    "collection '%.*s' does not exist; available: %s", clip(name), name, l.text);
    b->x.coll = b->c;
    return 0;
}

/* "name[i]suffix" into out (cap > 24 + the names): the JSON path an error
   names. Every element of every request gets its paths, and most requests
   have no error, so this is a few copies rather than a printf each. */
static void elem_path(char *out, size_t cap, const char *name, size_t i, const char *suffix)
{
    char digits[24];
    size_t nd = 0;
    do {
        digits[nd++] = (char)('0' + i % 10);
        i /= 10;
    } while (i && nd < sizeof digits);
    size_t nl = strlen(name), ns = strlen(suffix);
    if (nl + nd + ns + 3 > cap) {
        out[0] = '\0';
        return;
    }
    char *w = out;
    memcpy(w, name, nl);
    w += nl;
    *w++ = '[';
    while (nd)
        *w++ = digits[--nd];
    *w++ = ']';
    memcpy(w, suffix, ns + 1);
}

static int parse_filter(builder *b, json_t *el, size_t i, rg_filter *out)
{
    char path[64], fpath[80], opath[80], vpath[80];
    elem_path(path, sizeof path, "filters", i, "");
    elem_path(fpath, sizeof fpath, "filters", i, ".field");
    elem_path(opath, sizeof opath, "filters", i, ".op");
    elem_path(vpath, sizeof vpath, "filters", i, ".value");
    static const char shape[] = "a filter is an object with exactly the keys field, op and value";
    list_buf l;
    out->struct_size = sizeof *out;

    if (!json_is_object(el))
        return fail(b, RG_E_INVALID_FILTER, path, "%s must be an object; %s", path, shape);
    const char *k;
    json_t *v;
    json_object_foreach(el, k, v) {
        if (strcmp(k, "field") != 0 && strcmp(k, "op") != 0 && strcmp(k, "value") != 0)
            return fail(b, RG_E_INVALID_FILTER, path, "%s has unknown key '%.*s'; %s", path,
                        clip(k), k, shape);
    }
    static const char *const need[] = {"field", "op", "value"};
    for (size_t n = 0; n < 3; n++)
        if (!json_object_get(el, need[n]))
            return fail(b, RG_E_INVALID_FILTER, path, "%s is missing '%s'; %s", path, need[n],
                        shape);

    json_t *jf = json_object_get(el, "field");
    if (!json_is_string(jf))
        return fail(b, RG_E_INVALID_FILTER, fpath,
                    "%s must be a string naming a filterable field of collection '%s'; "
                    "filterable: %s",
                    fpath, b->c->name, role_list(b->c, ROLE_FILTER, &l));
    const char *fname = json_string_value(jf);
    const rg_field *f = lookup(b->c, fname, &out->field);
    if (!f)
        return unknown_field(b, fpath, fname, ROLE_FILTER);
    if (!f->ops)
        return fail(b, RG_E_FIELD_NOT_FILTERABLE, fpath,
                    "field '%s' is not filterable in collection '%s'; filterable: %s", f->name,
                    b->c->name, role_list(b->c, ROLE_FILTER, &l));

    json_t *jo = json_object_get(el, "op");
    if (!json_is_string(jo))
        return fail(b, RG_E_INVALID_FILTER, opath,
                    "%s must be a string; operators allowed for field '%s': %s", opath, f->name,
                    op_list(f, &l));
    const char *oname = json_string_value(jo);
    rg_op op = rg_op_from_name(oname);
    if ((int)op < RG_OP_EQ || (int)op > RG_OP_CONTAINS || !(f->ops & RG_OP_MASK(op)))
        return fail(b, RG_E_OPERATOR_NOT_ALLOWED, opath,
                    "operator '%.*s' is not allowed for field '%s'; allowed: %s", clip(oname),
                    oname, f->name, op_list(f, &l));
    out->op = op;

    rg_value *vals;
    size_t nvals;
    if (rg_plan_filter_values(&b->x, f, op, json_object_get(el, "value"), vpath, &vals, &nvals))
        return -1;
    out->values = vals;
    out->nvalues = nvals;
    return 0;
}

static int parse_filters(builder *b)
{
    json_t *j = json_object_get(b->root, "filters");
    if (!j || json_is_null(j))
        return 0;
    if (!json_is_array(j))
        return fail(b, RG_E_INVALID_FILTER, "filters",
                    "filters must be an array of {\"field\", \"op\", \"value\"} objects");
    size_t n = json_array_size(j);
    if (n > b->x.limits->max_filters)
        return fail(b, RG_E_INVALID_FILTER, "filters", "at most %zu filters are allowed; got %zu",
                    b->x.limits->max_filters, n);
    if (n == 0)
        return 0;
    b->filters = rg_arena_alloc(b->x.arena, n * sizeof *b->filters);
    if (!b->filters)
        return oom(b);
    for (size_t i = 0; i < n; i++)
        if (parse_filter(b, json_array_get(j, i), i, &b->filters[i]) != 0)
            return -1;
    b->nfilters = n;
    return 0;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int parse_search(builder *b)
{
    json_t *j = json_object_get(b->root, "search");
    if (!j || json_is_null(j))
        return 0;
    if (!json_is_string(j))
        return fail(b, RG_E_INVALID_SEARCH, "search", "search must be a string of words or null");
    const char *s = json_string_value(j);
    size_t n = json_string_length(j);
    if (rg_plan_check_text(&b->x, s, n, b->x.limits->max_search_bytes, 1, RG_E_INVALID_SEARCH,
                           "search") != 0)
        return -1;
    size_t words = 0;
    for (size_t i = 0; i < n;) {
        while (i < n && is_space(s[i]))
            i++;
        if (i < n)
            words++;
        while (i < n && !is_space(s[i]))
            i++;
    }
    if (words == 0)
        return 0; /* only white space: no search */
    if (words > MAX_SEARCH_WORDS)
        return fail(b, RG_E_INVALID_SEARCH, "search",
                    "search has %zu words; at most %d are allowed", words, MAX_SEARCH_WORDS);
    if (b->nsearch_fields == 0)
        return fail(b, RG_E_INVALID_SEARCH, "search",
                    "collection '%s' has no searchable fields; use filters instead", b->c->name);
    b->words = rg_arena_alloc(b->x.arena, words * sizeof *b->words);
    if (!b->words)
        return oom(b);
    for (size_t i = 0; i < n;) {
        while (i < n && is_space(s[i]))
            i++;
        size_t start = i;
        while (i < n && !is_space(s[i]))
            i++;
        if (i > start) {
            b->words[b->nwords] = rg_arena_strndup(b->x.arena, s + start, i - start);
            if (!b->words[b->nwords])
                return oom(b);
            b->nwords++;
        }
    }
    return 0;
}

static int parse_sort(builder *b)
{
    json_t *j = json_object_get(b->root, "sort");
    size_t max = b->x.limits->max_sort;
    list_buf l;
    if (max > RG_CURSOR_MAX_VALUES - 1)
        max = RG_CURSOR_MAX_VALUES - 1; /* room for the key in every cursor */
    if (j && !json_is_null(j)) {
        if (!json_is_array(j))
            return fail(b, RG_E_INVALID_SORT, "sort",
                        "sort must be an array of {\"field\", \"dir\"} objects; sortable: %s",
                        role_list(b->c, ROLE_SORT, &l));
        size_t n = json_array_size(j);
        if (n > max)
            return fail(b, RG_E_INVALID_SORT, "sort", "at most %zu sort keys are allowed; got %zu",
                        max, n);
        for (size_t i = 0; i < n; i++) {
            json_t *el = json_array_get(j, i);
            char path[64], fpath[80], dpath[80];
            elem_path(path, sizeof path, "sort", i, "");
            elem_path(fpath, sizeof fpath, "sort", i, ".field");
            elem_path(dpath, sizeof dpath, "sort", i, ".dir");
            if (!json_is_object(el))
                return fail(b, RG_E_INVALID_SORT, path,
                            "%s must be an object with the keys field and dir", path);
            const char *k;
            json_t *v;
            json_object_foreach(el, k, v) {
                if (strcmp(k, "field") != 0 && strcmp(k, "dir") != 0)
                    return fail(b, RG_E_INVALID_SORT, path,
                                "%s has unknown key '%.*s'; a sort key has the keys field and dir",
                                path, clip(k), k);
            }
            json_t *jf = json_object_get(el, "field");
            if (!json_is_string(jf))
                return fail(b, RG_E_INVALID_SORT, fpath,
                            "%s must be a string naming a sortable field; sortable: %s", fpath,
                            role_list(b->c, ROLE_SORT, &l));
            const char *name = json_string_value(jf);
            size_t idx;
            const rg_field *f = lookup(b->c, name, &idx);
            if (!f)
                return unknown_field(b, fpath, name, ROLE_SORT);
            if (!f->sortable)
                return fail(b, RG_E_INVALID_SORT, fpath,
                            "field '%s' is not sortable in collection '%s'; sortable: %s", f->name,
                            b->c->name, role_list(b->c, ROLE_SORT, &l));
            for (size_t s = 0; s < b->nsort; s++)
                if (b->sort[s].field == idx)
                    return fail(b, RG_E_INVALID_SORT, fpath,
                                "field '%s' appears more than once in sort", f->name);
            json_t *jd = json_object_get(el, "dir");
            int desc = 0;
            if (jd && !json_is_null(jd)) {
                const char *d = json_is_string(jd) ? json_string_value(jd) : "";
                if (strcmp(d, "asc") == 0)
                    desc = 0;
                else if (strcmp(d, "desc") == 0)
                    desc = 1;
                else
                    return fail(b, RG_E_INVALID_SORT, dpath, "%s must be \"asc\" or \"desc\"",
                                dpath);
            }
            b->sort[b->nsort].struct_size = sizeof b->sort[b->nsort];
            b->sort[b->nsort].field = idx;
            b->sort[b->nsort].desc = desc;
            b->nsort++;
        }
    }
    /* The unique key as the last tie breaker makes the order total, so keyset
       paging neither skips nor repeats rows. */
    for (size_t s = 0; s < b->nsort; s++)
        if (b->sort[s].field == b->c->key_index)
            return 0;
    b->sort[b->nsort].struct_size = sizeof b->sort[b->nsort];
    b->sort[b->nsort].field = b->c->key_index;
    b->sort[b->nsort].desc = 0;
    b->nsort++;
    return 0;
}

static int parse_fields(builder *b)
{
    json_t *j = json_object_get(b->root, "fields");
    list_buf l;
    size_t total = 0;
    for (size_t i = 0; i < b->c->nfields; i++)
        total += b->c->fields[i].display;
    if (!j || json_is_null(j)) {
        b->display = rg_arena_alloc(b->x.arena, (total ? total : 1) * sizeof *b->display);
        if (!b->display)
            return oom(b);
        for (size_t i = 0; i < b->c->nfields; i++)
            if (b->c->fields[i].display)
                b->display[b->ndisplay++] = i;
        return 0;
    }
    if (!json_is_array(j))
        return fail(b, RG_E_INVALID_FIELDS, "fields",
                    "fields must be an array of display field names; display fields: %s",
                    role_list(b->c, ROLE_DISPLAY, &l));
    size_t n = json_array_size(j);
    if (n == 0 || n > total)
        return fail(b, RG_E_INVALID_FIELDS, "fields",
                    "fields must list 1 to %zu distinct display fields; display fields: %s", total,
                    role_list(b->c, ROLE_DISPLAY, &l));
    b->display = rg_arena_alloc(b->x.arena, n * sizeof *b->display);
    if (!b->display)
        return oom(b);
    for (size_t i = 0; i < n; i++) {
        char path[64];
        elem_path(path, sizeof path, "fields", i, "");
        json_t *el = json_array_get(j, i);
        if (!json_is_string(el))
            return fail(b, RG_E_INVALID_FIELDS, path, "%s must be a string; display fields: %s",
                        path, role_list(b->c, ROLE_DISPLAY, &l));
        const char *name = json_string_value(el);
        size_t idx;
        const rg_field *f = lookup(b->c, name, &idx);
        if (!f)
            return unknown_field(b, path, name, ROLE_DISPLAY);
        if (!f->display)
            return fail(b, RG_E_INVALID_FIELDS, path,
                        "field '%s' is not a display field of collection '%s'; display fields: %s",
                        f->name, b->c->name, role_list(b->c, ROLE_DISPLAY, &l));
        for (size_t k = 0; k < b->ndisplay; k++)
            if (b->display[k] == idx)
                return fail(b, RG_E_INVALID_FIELDS, path,
                            "field '%s' appears more than once in fields", f->name);
        b->display[b->ndisplay++] = idx;
    }
    return 0;
}

static int parse_limit(builder *b)
{
    json_t *j = json_object_get(b->root, "limit");
    uint32_t max = b->c->limit_max;
    if (!j || json_is_null(j)) {
        b->limit = b->c->limit_default;
        return 0;
    }
    if (!json_is_integer(j) || json_integer_value(j) < 1 || json_integer_value(j) > (json_int_t)max)
        return fail(b, RG_E_INVALID_LIMIT, "limit",
                    "limit must be an integer from 1 to %u (default %u)", max, b->c->limit_default);
    b->limit = (size_t)json_integer_value(j);
    return 0;
}

/* ---- assembly ------------------------------------------------------------------------ */

static int assemble(builder *b, const rg_keyring *kr, rg_request_plan *out)
{
    rg_arena *a = b->x.arena;
    size_t cap = b->ndisplay + b->nsort;
    size_t *cols = rg_arena_alloc(a, cap * sizeof *cols);
    unsigned char *vis = rg_arena_alloc(a, cap);
    size_t *sort_col = rg_arena_alloc(a, b->nsort * sizeof *sort_col);
    rg_sort_key *sort = rg_arena_alloc(a, b->nsort * sizeof *sort);
    if (!cols || !vis || !sort_col || !sort)
        return oom(b);
    size_t n = 0;
    for (size_t i = 0; i < b->ndisplay; i++) {
        cols[n] = b->display[i];
        vis[n++] = 1;
    }
    /* Sort fields ride along hidden when not asked for: the next cursor needs them. */
    for (size_t s = 0; s < b->nsort; s++) {
        size_t k = 0;
        while (k < n && cols[k] != b->sort[s].field)
            k++;
        if (k == n) {
            cols[n] = b->sort[s].field;
            vis[n++] = 0;
        }
        sort_col[s] = k;
        sort[s] = b->sort[s];
    }

    if (rg_plan_digest(b->site->site_id, b->c, b->filters, b->nfilters,
                       (const char *const *)b->words, b->nwords, sort, b->nsort, b->digest) != 0)
        return oom(b);
    const rg_value *after = NULL;
    json_t *jc = json_object_get(b->root, "cursor");
    if (jc && !json_is_null(jc)) {
        if (!json_is_string(jc))
            return fail(b, RG_E_INVALID_CURSOR, "cursor",
                        "cursor must be the next_cursor string of the previous page, or null");
        int rc = rg_plan_decode_cursor(kr, json_string_value(jc), b->digest, b->c, sort, b->nsort,
                                       b->x.arena, &after);
        if (rc == -2)
            return oom(b);
        if (rc != 0)
            return fail(b, RG_E_INVALID_CURSOR, "cursor", "cursor is not valid for this query");
    }

    const rg_collection *c = b->c;
    rg_query_plan *p = &out->plan;
    out->collection = c;
    p->struct_size = sizeof *p;
    p->collection = &c->desc;
    p->filters = b->filters;
    p->nfilters = b->nfilters;
    p->search_words = (const char *const *)b->words;
    p->nsearch_words = b->nwords;
    p->search_fields = b->search_fields;
    p->nsearch_fields = b->nsearch_fields;
    p->sort = sort;
    p->nsort = b->nsort;
    p->after = after;
    p->columns = cols;
    p->ncolumns = n;
    p->limit = b->limit + 1;
    p->timeout_ms = c->source && c->source->timeout_ms ? c->source->timeout_ms
                                                       : b->x.limits->request_timeout_ms;
    out->client_limit = b->limit;
    out->column_visible = vis;
    out->sort_column = sort_col;
    memcpy(out->query_digest, b->digest, sizeof out->query_digest);
    out->arena = a;
    return 0;
}

static int build(builder *b, const rg_keyring *kr, const char *body, size_t len,
                 rg_request_plan *out)
{
    if (memchr(body, '\0', len))
        return fail(b, RG_E_INVALID_JSON, NULL, "request body contains a NUL byte");
    json_error_t je;
    /* Duplicate keys are refused: two readers of one body must never disagree. */
    b->root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!b->root)
        return fail(b, RG_E_INVALID_JSON, NULL,
                    "request body is not a valid JSON object: %s (line %d, column %d)", je.text,
                    je.line, je.column);
    if (!json_is_object(b->root))
        return fail(b, RG_E_INVALID_JSON, NULL, "request body must be a JSON object");
    if (too_deep(b->root, 1, b->x.limits->max_json_depth))
        return fail(b, RG_E_INVALID_JSON, NULL, "request body nests deeper than %d levels",
                    b->x.limits->max_json_depth);
    if (check_top_keys(b) || parse_collection(b))
        return -1;
    b->x.arena = rg_arena_new();
    if (!b->x.arena)
        return oom(b);
    size_t ns = 0;
    for (size_t i = 0; i < b->c->nfields; i++)
        ns += b->c->fields[i].searchable;
    if (ns) {
        b->search_fields = rg_arena_alloc(b->x.arena, ns * sizeof *b->search_fields);
        if (!b->search_fields)
            return oom(b);
        for (size_t i = 0; i < b->c->nfields; i++)
            if (b->c->fields[i].searchable)
                b->search_fields[b->nsearch_fields++] = i;
    }
    if (parse_filters(b) || parse_search(b) || parse_sort(b) || parse_fields(b) || parse_limit(b))
        return -1;
    return assemble(b, kr, out);
}

int rg_plan_build(const rg_site *site, const rg_limits *limits, const rg_keyring *kr,
                  const char *body, size_t len, rg_request_plan *out, rg_api_error *err)
{
    builder b;
    memset(&b, 0, sizeof b);
    memset(out, 0, sizeof *out);
    b.site = site;
    b.x.limits = limits;
    b.x.err = err;
    rg_json_scratch_begin();
    int rc = build(&b, kr, body ? body : "", body ? len : 0, out);
    json_decref(b.root);
    rg_json_scratch_end(); /* the tree is gone; the plan holds copies */
    if (rc != 0) {
        rg_arena_free(b.x.arena);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

void rg_request_plan_free(rg_request_plan *p)
{
    if (!p)
        return;
    rg_arena_free(p->arena);
    memset(p, 0, sizeof *p);
}
