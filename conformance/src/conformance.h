/*
 * readgate-conformance: shared types of the adapter conformance harness.
 *
 * The harness depends only on the public adapter ABI (readgate/adapter.h),
 * jansson and libc: it is what a customer runs against their own adapter, so
 * it must not need the gateway's core.
 */
#ifndef RG_CONFORMANCE_H
#define RG_CONFORMANCE_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include <readgate/adapter.h>
#include <readgate/token_provider.h>

/* readgate-conformance --provider ... (provider.c). */
int rg_conf_provider_main(int argc, char **argv);

/* ---- source configuration (source.c) ------------------------------------ */

/* Connection options handed to the adapter, all strings owned. */
typedef struct rg_conf_source {
    rg_option *options;
    size_t noptions;
    char *base_dir; /* relative paths in options resolve against it */
} rg_conf_source;

/* Set `key` to `value`, replacing an existing entry. 0, or -1 out of memory. */
int rg_conf_source_set(rg_conf_source *s, const char *key, const char *value);
/* Parse "key=value" and set it. 0, or -1 when there is no '=' or no key. */
int rg_conf_source_set_pair(rg_conf_source *s, const char *pair);
/* Merge a JSON object of options (strings, numbers, booleans) into s. */
int rg_conf_source_set_json(rg_conf_source *s, json_t *obj, char *err, size_t errsz);
int rg_conf_source_copy(rg_conf_source *dst, const rg_conf_source *src);
void rg_conf_source_free(rg_conf_source *s);
/* Fill `info` to describe s; valid while s is. */
void rg_conf_source_info(const rg_conf_source *s, rg_source_info *info,
                         uint32_t connect_timeout_ms);

/* ---- collection description (collection.c) ------------------------------ */

typedef struct rg_conf_collection {
    rg_collection_desc desc;
    rg_field_desc *fields; /* names and columns owned */
    char *name;
    char *target;
} rg_conf_collection;

/* Load collection.json; `target` (may be NULL) overrides its target. */
int rg_conf_collection_load(const char *path, const char *target, rg_conf_collection *c,
                            char *err, size_t errsz);
void rg_conf_collection_free(rg_conf_collection *c);
/* Index of the field named `name`, or -1. */
long rg_conf_field_index(const rg_conf_collection *c, const char *name);
const char *rg_conf_type_name(rg_type t);

/* ---- cases (cases.c) ------------------------------------------------------ */

typedef struct rg_conf_case {
    char *name;
    char *description;
    json_t *doc;      /* the parsed file; plan strings point into it */
    json_t *expected; /* borrowed from doc: array of row objects */
    size_t page_size; /* 0: the harness picks one */
    rg_query_plan plan;
    size_t nout;      /* the case's own columns: plan.columns[0..nout) */
    /* storage behind plan's pointers */
    rg_filter *filters;
    rg_value *values;
    const char **words;
    size_t *search_fields;
    rg_sort_key *sort;
    rg_value *after;
    size_t *columns;
} rg_conf_case;

/* Load one case file. With a storage profile key (see
   rg_conf_stored_as_key; "" for none) a case that carries an answer for that
   profile in "expected_stored" checks that answer. On failure returns -1 with
   a reason in err. */
int rg_conf_case_load(const char *path, const rg_conf_collection *coll, uint32_t timeout_ms,
                      const char *stored_as, rg_conf_case *out, char *err, size_t errsz);

/* A comma-separated list of storage profile names ("empty-text-is-null",
   "integers-are-doubles") as the key the case files use: known names only,
   each once, joined by "+" in a fixed order. 0, or -1 with a reason. */
int rg_conf_stored_as_key(const char *list, char *key, size_t keysz, char *err, size_t errsz);
void rg_conf_case_free(rg_conf_case *c);

/* A typed value from JSON. Strings point into `j`. null is accepted only when
   allow_null is set. 0, or -1 with a reason. */
int rg_conf_value_from_json(json_t *j, rg_type type, int allow_null, rg_value *out, char *err,
                            size_t errsz);

/* ---- running plans and comparing rows (rows.c) ---------------------------- */

typedef struct rg_conf_result {
    rg_status status;
    rg_error err;
    json_t *rows;       /* array of objects over every column of the plan */
    size_t calls;       /* sink calls */
    size_t stop_after;  /* ask the adapter to stop after this many rows (0: never) */
    char problem[512];  /* first ABI violation seen by the sink, "" if none */
} rg_conf_result;

/* Run `plan` on `conn`; res->rows is always an array afterwards. */
/* The same through the adapter's non-blocking entries (query_start,
   query_resume, socket), which it must have. */
void rg_conf_run_nonblocking(const rg_adapter *ad, void *conn, const rg_query_plan *plan,
                             rg_conf_result *res);
void rg_conf_run(const rg_adapter *ad, void *conn, const rg_query_plan *plan,
                 rg_conf_result *res);
void rg_conf_result_free(rg_conf_result *res);

/* The rows restricted to the case's own columns (new reference). */
json_t *rg_conf_project(const rg_conf_case *c, json_t *rows);
/* 1 when both arrays hold equal rows in the same order (numbers with a
   relative tolerance of 1e-9). */
int rg_conf_rows_equal(const rg_conf_case *c, json_t *expected, json_t *actual);
/* A readable line diff of expected (-) against actual (+). */
void rg_conf_print_diff(FILE *out, const rg_conf_case *c, json_t *expected, json_t *actual);
/* One row as compact JSON text (caller frees), for messages. */
char *rg_conf_row_text(json_t *row);
const char *rg_conf_status_name(rg_status st);

/* Page through the case with `page_size` rows per query using `after`; the
   concatenation (projected) goes to *rows. 0, or -1 with the reason in why. */
int rg_conf_run_paged(const rg_adapter *ad, void *conn, const rg_conf_case *c, size_t page_size,
                      json_t **rows, char *why, size_t whysz);

/* ---- built-in behaviour cases (behaviour.c) ------------------------------- */

/* NA: the run gave no configuration for the case; SKIP: the case's file says
   it does not apply to this adapter, and why. */
typedef enum rg_conf_verdict { RG_CONF_PASS, RG_CONF_FAIL, RG_CONF_NA, RG_CONF_SKIP } rg_conf_verdict;

/* The silent backend of the error cases (errors.c): fd -1 until opened. */
typedef struct rg_conf_stall {
    int fd;
    int port;
} rg_conf_stall;

typedef struct rg_conf_env {
    const rg_adapter *ad;
    const rg_conf_collection *coll;
    const rg_conf_source *source;        /* the working configuration */
    const rg_conf_source *unreachable;   /* NULL: not applicable */
    const rg_conf_source *slow;          /* NULL with slow_target NULL: not applicable */
    const rg_conf_source *auth;          /* wrong credentials; NULL: not applicable */
    const rg_conf_source *stalled;       /* pointed at the silent listener; NULL: n/a */
    const char *const *secrets;          /* --secret: texts no message may contain */
    size_t nsecrets;
    rg_conf_stall *stall;
    const char *slow_target;
    uint32_t slow_timeout_ms;
    uint32_t timeout_ms;
    uint32_t connect_timeout_ms;
    unsigned nthreads;
    rg_conf_case *cases; /* every loaded case (the concurrency case runs them all) */
    size_t ncases;
} rg_conf_env;

/* An operator's name in a case file ("eq", "between", ...) into *out; 0, or
   -1 for an unknown name. */
int rg_conf_parse_op(const char *s, rg_op *out);

/* A plan file's "sort" into out[0..*n) (out has room for one more key than
   the file gives): the collection key ascending is appended unless the file
   ends with it. 0, or -1 with the reason in err. */
int rg_conf_sort_keys(const rg_collection_desc *d, json_t *sort, rg_sort_key *out, size_t *n,
                      char *err, size_t errsz);

/* A verdict's explanation into msg (printf-style; cut to msgsz). */
void rg_conf_say(char *msg, size_t msgsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Each writes its explanation (one or more lines) to `msg`. */
rg_conf_verdict rg_conf_check_concurrent(const rg_conf_env *env, char *msg, size_t msgsz);
rg_conf_verdict rg_conf_check_sink_abort(const rg_conf_env *env, void *conn, char *msg,
                                         size_t msgsz);
rg_conf_verdict rg_conf_check_ping(const rg_conf_env *env, void *conn, char *msg, size_t msgsz);
rg_conf_verdict rg_conf_check_nonblocking(const rg_conf_env *env, void *conn, char *msg,
                                          size_t msgsz);

/* ---- error cases (errors.c) ------------------------------------------------ */

typedef enum rg_conf_error_kind {
    RG_CONF_ERR_PLAN,        /* a plan value typed differently from its field */
    RG_CONF_ERR_COLUMN,      /* a column that does not hold the declared type */
    RG_CONF_ERR_UNREACHABLE, /* --unreachable-option: nothing listens */
    RG_CONF_ERR_TIMEOUT,     /* --slow-target / --slow-option: past plan->timeout_ms */
    RG_CONF_ERR_STALLED,     /* --stalled-option: a backend that accepts and never answers */
    RG_CONF_ERR_AUTH         /* --auth-option: wrong credentials */
} rg_conf_error_kind;

/* The status connect and the query must fail with; 0 (RG_OK): that call
   must succeed. */
typedef struct rg_conf_expect {
    rg_status connect;
    rg_status query;
} rg_conf_expect;

#define RG_CONF_ERR_MAX_FILTERS 4
#define RG_CONF_ERR_MAX_VALUES 8
#define RG_CONF_ERR_MAX_SORT 4

typedef struct rg_conf_error_case {
    char *name;              /* "error/<file name>" */
    json_t *doc;             /* the parsed file; plan strings point into it */
    const char *description; /* borrowed from doc */
    rg_conf_error_kind kind;
    rg_conf_expect expect;   /* the file's; "adapters" entries are applied at run time */
    rg_collection_desc coll; /* the fixture's, with "declare" applied */
    rg_field_desc *fields;
    long declared;           /* the redeclared field, or -1 */
    rg_query_plan plan;
    rg_filter filters[RG_CONF_ERR_MAX_FILTERS];
    rg_value values[RG_CONF_ERR_MAX_VALUES];
    rg_sort_key sort[RG_CONF_ERR_MAX_SORT];
    rg_value after[RG_CONF_ERR_MAX_SORT];
    size_t *columns;
} rg_conf_error_case;

/* Load errors/<name>.json. 0, or -1 with a reason in err. */
int rg_conf_error_load(const char *path, const rg_conf_collection *coll, uint32_t timeout_ms,
                       rg_conf_error_case *c, char *err, size_t errsz);
void rg_conf_error_free(rg_conf_error_case *c);
/* Run one error case; `conn` is the run's working connection. */
/* {"connect": STATUS?, "query": STATUS?}, at least one (errors_load.c). */
int rg_conf_parse_expect(json_t *j, rg_conf_expect *e, const char *where, char *err, size_t errsz);
rg_conf_verdict rg_conf_error_run(const rg_conf_env *env, void *conn, const rg_conf_error_case *c,
                                  char *msg, size_t msgsz);
/* The silent listener: opened on first use by a {stalled} option, closed
   at the end of the run. */
int rg_conf_stall_open(rg_conf_stall *s, char *err, size_t errsz);
void rg_conf_stall_close(rg_conf_stall *s);

/* ---- host services given to the adapter (main.c) ------------------------- */

extern const rg_host_api rg_conf_host;

#endif
