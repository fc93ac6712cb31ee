/*
 * The mongo adapter's aggregate pipeline for a plan: $match, $addFields for
 * the sort keys' NULL order, $sort, $limit and $project.
 */
#include <stdio.h>
#include <string.h>

#include "mongo_internal.h"

static void sort_key_names(size_t i, char *flag, char *value, size_t sz)
{
    snprintf(flag, sz, RESERVED_PREFIX "null%zu", i);
    snprintf(value, sz, RESERVED_PREFIX "sort%zu", i);
}

/*
 * Whether columns[i] is already covered by another projected column: the
 * same field earlier in the list, or (dotted paths) an enclosing document
 * such as "details" for "details.color". MongoDB refuses a projection that
 * names both a path and its parent.
 */
static int column_covered(const rg_query_plan *p, size_t i)
{
    const char *col = rg_mg_column_of(rg_field_at(p->collection->fields, p->columns[i]));
    size_t len = strlen(col);
    for (size_t j = 0; j < p->ncolumns; j++) {
        if (j == i)
            continue;
        const char *other = rg_mg_column_of(rg_field_at(p->collection->fields, p->columns[j]));
        size_t olen = strlen(other);
        if (j < i && !strcmp(other, col))
            return 1;
        if (olen < len && col[olen] == '.' && !strncmp(col, other, olen))
            return 1;
    }
    return 0;
}

/* {$ifNull: ["$column", null]}: the value, with missing made null. */
static void append_if_null(builder *b, bson_t *parent, const char *key, const char *path)
{
    bson_t e, args;
    if (rg_mg_open_doc(b, parent, key, &e)) {
        if (rg_mg_open_array(b, &e, "$ifNull", &args)) {
            rg_mg_check(b, bson_append_utf8(&args, "0", 1, path, -1));
            rg_mg_check(b, bson_append_null(&args, "1", 1));
            rg_mg_close_array(b, &e, &args);
        }
        rg_mg_close_doc(b, parent, &e);
    }
}

/* $match: filters, search words and the keyset position, AND-ed. */
static void append_match(builder *b, bson_t *stage)
{
    const rg_query_plan *p = b->plan;
    bson_t body, and, cond;
    uint32_t n = 0;
    idx_key k;
    if (!rg_mg_open_doc(b, stage, "$match", &body))
        return;
    if (rg_mg_open_array(b, &body, "$and", &and)) {
        for (size_t i = 0; i < p->nfilters && b->st == RG_OK; i++) {
            if (rg_mg_open_doc(b, &and, rg_mg_index_key(&k, n++), &cond)) {
                rg_mg_append_filter(b, &cond, rg_filter_at(p->filters, i));
                rg_mg_close_doc(b, &and, &cond);
            }
        }
        for (size_t i = 0; i < p->nsearch_words && b->st == RG_OK; i++) {
            if (rg_mg_open_doc(b, &and, rg_mg_index_key(&k, n++), &cond)) {
                rg_mg_append_search(b, &cond, p->search_words ? p->search_words[i] : NULL);
                rg_mg_close_doc(b, &and, &cond);
            }
        }
        if (p->after && p->nsort && rg_mg_open_doc(b, &and, rg_mg_index_key(&k, n++), &cond)) {
            rg_mg_append_after(b, &cond);
            rg_mg_close_doc(b, &and, &cond);
        }
        rg_mg_close_array(b, &body, &and);
    }
    rg_mg_close_doc(b, stage, &body);
}

/* $addFields: per sort key i, __rg_sorti = the value with missing made null
   (so missing and NULL tie, as SQL's NULLs do) and __rg_nulli = 1 when it is
   NULL, else 0: {$cond: [{$eq: [{$ifNull: ["$col", null]}, null]}, 1, 0]}. */
static void append_sort_fields(builder *b, bson_t *stage)
{
    const rg_query_plan *p = b->plan;
    bson_t body, e_cond, c_args, e_eq, eq_args;
    if (!rg_mg_open_doc(b, stage, "$addFields", &body))
        return;
    for (size_t i = 0; i < p->nsort && b->st == RG_OK; i++) {
        if (!rg_mg_field_ok(b, rg_sort_key_at(p->sort, i)->field))
            break;
        size_t field = rg_sort_key_at(p->sort, i)->field;
        const char *col = rg_mg_column_of(rg_field_at(b->coll->fields, field));
        char path[1024], flag[32], value[32];
        if ((size_t)snprintf(path, sizeof path, "$%s", col) >= sizeof path) {
            rg_mg_fail(b, RG_ERR_CONFIG, "column name too long");
            break;
        }
        sort_key_names(i, flag, value, sizeof flag);
        append_if_null(b, &body, value, path);
        if (!rg_mg_open_doc(b, &body, flag, &e_cond))
            break;
        if (rg_mg_open_array(b, &e_cond, "$cond", &c_args)) {
            if (rg_mg_open_doc(b, &c_args, "0", &e_eq)) {
                if (rg_mg_open_array(b, &e_eq, "$eq", &eq_args)) {
                    append_if_null(b, &eq_args, "0", path);
                    rg_mg_check(b, bson_append_null(&eq_args, "1", 1));
                    rg_mg_close_array(b, &e_eq, &eq_args);
                }
                rg_mg_close_doc(b, &c_args, &e_eq);
            }
            rg_mg_check(b, bson_append_int32(&c_args, "1", 1, 1));
            rg_mg_check(b, bson_append_int32(&c_args, "2", 1, 0));
            rg_mg_close_array(b, &e_cond, &c_args);
        }
        rg_mg_close_doc(b, &body, &e_cond);
    }
    rg_mg_close_doc(b, stage, &body);
}

/* $sort: flag then value per key. Ascending puts flag 0 (values) before 1
   (NULLs); descending the reverse: NULLs first. */
static void append_sort(builder *b, bson_t *stage)
{
    const rg_query_plan *p = b->plan;
    bson_t body;
    if (!rg_mg_open_doc(b, stage, "$sort", &body))
        return;
    for (size_t i = 0; i < p->nsort && b->st == RG_OK; i++) {
        char flag[32], value[32];
        sort_key_names(i, flag, value, sizeof flag);
        int dir = rg_sort_key_at(p->sort, i)->desc ? -1 : 1;
        rg_mg_check(b, bson_append_int32(&body, flag, -1, dir));
        rg_mg_check(b, bson_append_int32(&body, value, -1, dir));
    }
    rg_mg_close_doc(b, stage, &body);
}

/* $project: the requested columns only (and _id only if requested). */
static void append_project(builder *b, bson_t *stage)
{
    const rg_query_plan *p = b->plan;
    bson_t body;
    int want_id = 0;
    if (!rg_mg_open_doc(b, stage, "$project", &body))
        return;
    for (size_t i = 0; i < p->ncolumns && b->st == RG_OK; i++) {
        if (!rg_mg_field_ok(b, p->columns[i]))
            break;
        const char *col = rg_mg_column_of(rg_field_at(b->coll->fields, p->columns[i]));
        if (!strcmp(col, "_id"))
            want_id = 1;
        if (!column_covered(p, i))
            rg_mg_check(b, bson_append_int32(&body, col, -1, 1));
    }
    if (!want_id)
        rg_mg_check(b, bson_append_int32(&body, "_id", 3, 0));
    rg_mg_close_doc(b, stage, &body);
}

void rg_mg_build_pipeline(builder *b, bson_t *pipeline)
{
    const rg_query_plan *p = b->plan;
    uint32_t nstage = 0;
    idx_key k;
    bson_t stage;

    if (p->nfilters || p->nsearch_words || (p->after && p->nsort)) {
        if (rg_mg_open_doc(b, pipeline, rg_mg_index_key(&k, nstage++), &stage)) {
            append_match(b, &stage);
            rg_mg_close_doc(b, pipeline, &stage);
        }
    }
    if (p->nsort) {
        if (rg_mg_open_doc(b, pipeline, rg_mg_index_key(&k, nstage++), &stage)) {
            append_sort_fields(b, &stage);
            rg_mg_close_doc(b, pipeline, &stage);
        }
        if (rg_mg_open_doc(b, pipeline, rg_mg_index_key(&k, nstage++), &stage)) {
            append_sort(b, &stage);
            rg_mg_close_doc(b, pipeline, &stage);
        }
    }
    if (rg_mg_open_doc(b, pipeline, rg_mg_index_key(&k, nstage++), &stage)) {
        int64_t limit = p->limit > (size_t)INT64_MAX ? INT64_MAX : (int64_t)p->limit;
        rg_mg_check(b, bson_append_int64(&stage, "$limit", 6, limit));
        rg_mg_close_doc(b, pipeline, &stage);
    }
    if (rg_mg_open_doc(b, pipeline, rg_mg_index_key(&k, nstage++), &stage)) {
        append_project(b, &stage);
        rg_mg_close_doc(b, pipeline, &stage);
    }
}
