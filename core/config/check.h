/*
 * Private to core/config: the checked reads the loaders validate documents
 * with. Every failure becomes one "file:line: message" naming the key and
 * what was expected, and loading carries on to find the rest.
 *
 * The rg_cfg_key_* reads take the key's row of a key table (keys.h): its
 * name, type, bounds, allowed values, whether it is required and its default
 * all come from there, so a loader cannot accept what the table (and so the
 * schema and the documentation) does not say.
 */
#ifndef RG_CONFIG_CHECK_H
#define RG_CONFIG_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "keys.h"
#include "node.h"

typedef struct rg_cfgctx {
    rg_diags *d;
    const char *file;
    int errors;
} rg_cfgctx;

/* A mapping of a document read against a key table. */
typedef struct rg_cfgmap {
    const rg_node *node;       /* the mapping; NULL (or not a mapping): every key is absent */
    const char *where;         /* its path in messages: "" for the top level, "sources.db" */
    int line;                  /* of its key, for "missing required key"; 0 at the top level */
    const rg_key_table *table;
    const rg_key *key;         /* its row (MAP, or NAMED for an element); NULL: the top level */
} rg_cfgmap;

void rg_cfg_error(rg_cfgctx *c, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- reads of the keys of a table ------------------------------------------ */

/* Report every key of m that has no row below m->key, with the keys allowed
   there ("unknown key 'x' in where; allowed: a, b"). */
void rg_cfg_check_keys(rg_cfgctx *c, const rg_cfgmap *m);
/* The pair of key k in m, or NULL; a required key that is missing is
   reported ("where: missing required key 'k'"). */
const rg_node_pair *rg_cfg_key_find(rg_cfgctx *c, const rg_cfgmap *m, const rg_key *k);
/* "missing required key" for k unless m has it, whatever the table says:
   for keys that are required only together with others. */
const rg_node_pair *rg_cfg_key_require(rg_cfgctx *c, const rg_cfgmap *m, const rg_key *k);
/* The line of k's value in m, or 0. */
int rg_cfg_key_line(const rg_cfgmap *m, const rg_key *k);
/* "where.k" (or "k" at the top level), the key's path in messages. */
void rg_cfg_key_path(const rg_cfgmap *m, const rg_key *k, char *buf, size_t len);

/*
 * Typed reads of k in m. Each sets *out to k's default first (0, false or
 * NULL without one), then returns 1 when k is absent, 0 when its value is
 * valid (and in *out), -1 after reporting why it is not.
 */
int rg_cfg_key_int(rg_cfgctx *c, const rg_cfgmap *m, const rg_key *k, long long *out);
int rg_cfg_key_bool(rg_cfgctx *c, const rg_cfgmap *m, const rg_key *k, bool *out);
/* Strings: "must not be empty" when the row says so. */
int rg_cfg_key_string(rg_cfgctx *c, const rg_cfgmap *m, const rg_key *k, const char **out);
/* One of k->values: *index is its index, or -1 for a string that is none of
   them (which the caller reports in its own words; the return is then 0). */
int rg_cfg_key_enum(rg_cfgctx *c, const rg_cfgmap *m, const rg_key *k, const char **out,
                    int *index);
/* A list (elements are the caller's to read); *out is the list node. */
int rg_cfg_key_list(rg_cfgctx *c, const rg_cfgmap *m, const rg_key *k, const rg_node **out);
/* A mapping of names (NAMED, OPTIONS); *out is the pair. */
int rg_cfg_key_names(rg_cfgctx *c, const rg_cfgmap *m, const rg_key *k,
                     const rg_node_pair **out);
/* A MAP or BLOCK: its kind checked and its unknown keys reported; *sub
   describes it, with `where` (of wlen bytes) holding its path. */
int rg_cfg_key_map(rg_cfgctx *c, const rg_cfgmap *m, const rg_key *k, char *where, size_t wlen,
                   rg_cfgmap *sub);
/* One element `p` of the NAMED mapping `named` (read as `named_where`): a
   mapping, with its unknown keys reported. 0, or -1 when it is no mapping. */
int rg_cfg_key_element(rg_cfgctx *c, const rg_key_table *t, const rg_key *named,
                       const char *named_where, const rg_node_pair *p, char *where, size_t wlen,
                       rg_cfgmap *sub);
/* Every INT and BOOL key of m that has a storage place: its value, when
   present and valid, into the struct at `base` (defaults: rg_key_defaults). */
void rg_cfg_key_values(rg_cfgctx *c, const rg_cfgmap *m, void *base);

/* ---- reads of single nodes ---------------------------------------------------- */

/* Each returns 0, or reports "<path>: expected ..." and returns -1 leaving
   *out alone. */
int rg_cfg_kind(rg_cfgctx *c, const rg_node *n, const char *path, rg_node_kind kind);
int rg_cfg_int(rg_cfgctx *c, const rg_node *n, const char *path, long long min, long long max,
               long long *out);
int rg_cfg_bool(rg_cfgctx *c, const rg_node *n, const char *path, bool *out);
int rg_cfg_string(rg_cfgctx *c, const rg_node *n, const char *path, bool nonempty,
                  const char **out);

/* Does `s` match [first][rest]{0,maxrest}? first/rest are character-class
   predicates used for names (fields, collections, sources, option keys). */
bool rg_cfg_name_ok(const char *s, bool (*first)(int), bool (*rest)(int), size_t maxlen);
bool rg_cfg_is_lower_alpha(int ch);
bool rg_cfg_is_lower_alnum_us(int ch);
bool rg_cfg_is_ident_first(int ch);
bool rg_cfg_is_ident_rest(int ch);

/* An http(s) URL a secret may be sent to: https, or http to 127.0.0.1,
   localhost or [::1] only; no user info, nothing a header could split on. */
bool rg_cfg_url_ok(const char *u);

#endif
