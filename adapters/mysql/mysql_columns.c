/*
 * Which columns of a target are declared NOT NULL, read from
 * information_schema once per connection and target (the schema and table
 * names travel as parameters of a prepared statement). ORDER BY then leaves
 * out the "col IS NULL" term that puts NULLs last for those columns: with it,
 * MySQL can never take the order from an index and sorts every matching row
 * for each page. A column made nullable later is seen by the next connection
 * (a failed query reconnects; so does a restart).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mysql_internal.h"

#define NAME_MAX_LEN 64 /* MySQL identifiers */

static void entry_clear(rg_my_columns *e)
{
    free(e->target);
    free(e->names);
    memset(e, 0, sizeof *e);
}

void rg_my_columns_free(my_conn *c)
{
    for (size_t i = 0; i < COLUMNS_CACHE_SIZE; i++)
        entry_clear(&c->columns[i]);
}

/* Append one name (len bytes) to a growing list; -1 when out of memory. */
static int names_add(char **list, size_t *len, size_t *cap, const char *name, size_t n)
{
    if (*len + n + 2 > *cap) {
        size_t ncap = (*len + n + 2) * 2;
        char *p = realloc(*list, ncap);
        if (!p)
            return -1;
        *list = p;
        *cap = ncap;
    }
    memcpy(*list + *len, name, n);
    (*list)[*len + n] = '\0';
    *len += n + 1;
    (*list)[*len] = '\0';
    return 0;
}

/* The NOT NULL columns of target, or NULL (unknown: every column may be NULL). */
static char *read_not_null(my_conn *c, const char *target)
{
    const char *dot = strchr(target, '.');
    char schema[NAME_MAX_LEN + 1] = "";
    const char *table = target;
    if (dot) {
        size_t n = (size_t)(dot - target);
        if (n > NAME_MAX_LEN)
            return NULL;
        memcpy(schema, target, n);
        schema[n] = '\0';
        table = dot + 1;
    }
    static const char sql[] =
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
        "COALESCE(?, DATABASE()) AND TABLE_NAME = ? AND IS_NULLABLE = 'NO'";
    MYSQL_STMT *stmt = mysql_stmt_init(c->db);
    if (!stmt)
        return NULL;
    char *list = NULL;
    size_t len = 0, cap = 0;
    my_bool null_schema = dot ? 0 : 1;
    unsigned long schema_len = (unsigned long)strlen(schema), table_len = (unsigned long)strlen(table);
    MYSQL_BIND in[2];
    memset(in, 0, sizeof in);
    in[0].buffer_type = MYSQL_TYPE_STRING;
    in[0].buffer = schema;
    in[0].buffer_length = schema_len;
    in[0].length = &schema_len;
    in[0].is_null = &null_schema;
    in[1].buffer_type = MYSQL_TYPE_STRING;
    in[1].buffer = (char *)table;
    in[1].buffer_length = table_len;
    in[1].length = &table_len;
    char name[NAME_MAX_LEN * 4 + 1];
    unsigned long name_len = 0;
    my_bool name_null = 0;
    MYSQL_BIND out;
    memset(&out, 0, sizeof out);
    out.buffer_type = MYSQL_TYPE_STRING;
    out.buffer = name;
    out.buffer_length = sizeof name;
    out.length = &name_len;
    out.is_null = &name_null;
    int ok = mysql_stmt_prepare(stmt, sql, sizeof sql - 1) == 0 &&
             mysql_stmt_bind_param(stmt, in) == 0 && mysql_stmt_execute(stmt) == 0 &&
             mysql_stmt_bind_result(stmt, &out) == 0;
    /* An empty list still means "known": a table with no NOT NULL column. */
    if (ok && names_add(&list, &len, &cap, "", 0) == 0)
        len = 0;
    else
        ok = 0;
    int r;
    while (ok && (r = mysql_stmt_fetch(stmt)) == 0)
        if (!name_null && name_len < sizeof name && names_add(&list, &len, &cap, name, name_len) != 0)
            ok = 0;
    if (ok && r != MYSQL_NO_DATA)
        ok = 0;
    mysql_stmt_close(stmt);
    if (!ok) {
        free(list);
        return NULL;
    }
    return list;
}

static const char *not_null_list(my_conn *c, const char *target)
{
    rg_my_columns *victim = &c->columns[0];
    for (size_t i = 0; i < COLUMNS_CACHE_SIZE; i++) {
        rg_my_columns *e = &c->columns[i];
        if (e->target && !strcmp(e->target, target)) {
            e->used = ++c->clock;
            return e->names;
        }
        if (!e->target || e->used < victim->used)
            victim = e;
    }
    char *names = read_not_null(c, target);
    char *t = names ? strdup(target) : NULL;
    if (!t) {
        /* Unknown: asked again next time (a lost connection reconnects). */
        free(names);
        return NULL;
    }
    entry_clear(victim);
    victim->target = t;
    victim->names = names;
    victim->used = ++c->clock;
    return names;
}

int rg_my_not_null(void *ctx, const rg_collection_desc *coll, size_t field)
{
    my_conn *c = ctx;
    if (!coll->target || field >= coll->nfields)
        return 0;
    const rg_field_desc *f = rg_field_at(coll->fields, field);
    const char *col = f->column ? f->column : f->name;
    const char *list = col ? not_null_list(c, coll->target) : NULL;
    for (const char *p = list; p && *p; p += strlen(p) + 1)
        if (!strcasecmp(p, col)) /* MySQL column names compare case-insensitively */
            return 1;
    return 0;
}
