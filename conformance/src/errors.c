/*
 * Error cases: conformance/errors/<name>.json.
 *
 * Each file names one way to make an adapter fail (a plan value typed
 * differently from its field, a backend column that does not hold the type
 * the collection declares, a backend that is down, too slow, silent, or that
 * refuses the credentials), the status connect or the query must return
 * then, and, per first-party adapter, where its backend genuinely differs and
 * why. Whatever the case, the adapter must not crash, must not pass rows that
 * are not the backend's data, must fail within its time budget, and its
 * message must name no secret and no value of the plan or of the data: the
 * gateway logs it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conformance.h"

/* Beyond the budget, how long an adapter may take to notice: the same
   allowances the gateway's callers can live with. */
#define QUERY_GRACE_MS 5000
#define CONNECT_GRACE_MS 10000
/* Shorter texts are too likely to occur in a message by chance. */
#define MIN_NEEDLE 4
#define MAX_NEEDLES 256

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void say(char *msg, size_t msgsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *msg, size_t msgsz, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msgsz, fmt, ap);
    va_end(ap);
}

/* ---- the silent backend ------------------------------------------------- */

/*
 * A loopback port that accepts TCP connections and never answers. It never
 * calls accept(): the kernel completes the handshakes of the listen backlog
 * by itself, and whatever the client sends stays unread, which is exactly a
 * hung server. Closing the socket resets the pending connections.
 */
int rg_conf_stall_open(rg_conf_stall *s, char *err, size_t errsz)
{
    if (s->fd > 0)
        return 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errsz, "cannot create the silent listener: %s", strerror(errno));
        return -1;
    }
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t alen = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
        snprintf(err, errsz, "cannot listen on loopback: %s", strerror(errno));
        close(fd);
        return -1;
    }
    s->fd = fd;
    s->port = ntohs(a.sin_port);
    return 0;
}

void rg_conf_stall_close(rg_conf_stall *s)
{
    if (s->fd > 0)
        close(s->fd);
    s->fd = -1;
    s->port = 0;
}

/* `in` with {stalled} (host:port) and {stalled_port} replaced; NULL when out
   of memory. */
static char *substitute(const char *in, const rg_conf_stall *s)
{
    char hostport[32], port[8];
    snprintf(hostport, sizeof hostport, "127.0.0.1:%d", s->port);
    snprintf(port, sizeof port, "%d", s->port);
    size_t cap = strlen(in) * 2 + 64, n = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    for (const char *p = in; *p;) {
        const char *rep = NULL;
        size_t skip = 0;
        if (!strncmp(p, "{stalled}", 9))
            rep = hostport, skip = 9;
        else if (!strncmp(p, "{stalled_port}", 14))
            rep = port, skip = 14;
        size_t add = rep ? strlen(rep) : 1;
        if (n + add + 1 > cap) {
            cap = (n + add + 1) * 2;
            char *grown = realloc(out, cap);
            if (!grown) {
                free(out);
                return NULL;
            }
            out = grown;
        }
        if (rep) {
            memcpy(out + n, rep, add);
            p += skip;
        } else {
            out[n] = *p++;
        }
        n += add;
    }
    out[n] = '\0';
    return out;
}

static int has_placeholder(const rg_conf_source *s)
{
    for (size_t i = 0; i < s->noptions; i++)
        if (strstr(s->options[i].value, "{stalled}") || strstr(s->options[i].value, "{stalled_port}"))
            return 1;
    return 0;
}

/* ---- loading a file ------------------------------------------------------ */

static const struct {
    const char *name;
    rg_conf_error_kind kind;
} kind_names[] = {
    {"plan", RG_CONF_ERR_PLAN},         {"column_type", RG_CONF_ERR_COLUMN},
    {"unreachable", RG_CONF_ERR_UNREACHABLE}, {"timeout", RG_CONF_ERR_TIMEOUT},
    {"stalled", RG_CONF_ERR_STALLED},   {"auth", RG_CONF_ERR_AUTH},
};

static const struct {
    const char *name;
    rg_op op;
} op_names[] = {
    {"eq", RG_OP_EQ}, {"ne", RG_OP_NE}, {"lt", RG_OP_LT}, {"lte", RG_OP_LTE},
    {"gt", RG_OP_GT}, {"gte", RG_OP_GTE}, {"in", RG_OP_IN}, {"between", RG_OP_BETWEEN},
    {"prefix", RG_OP_PREFIX}, {"contains", RG_OP_CONTAINS},
};

/* The statuses an error case may expect: never RG_OK or RG_ERR_ABORTED. */
static int parse_status(const char *s, rg_status *out)
{
    static const rg_status errs[] = {RG_ERR_UNAVAILABLE, RG_ERR_TIMEOUT, RG_ERR_UPSTREAM,
                                     RG_ERR_AUTH,        RG_ERR_CONFIG,  RG_ERR_INTERNAL};
    for (size_t i = 0; s && i < sizeof errs / sizeof errs[0]; i++)
        if (!strcmp(rg_conf_status_name(errs[i]), s)) {
            *out = errs[i];
            return 0;
        }
    return -1;
}

static int parse_type(const char *s, rg_type *out)
{
    for (int t = RG_TYPE_STRING; s && t <= RG_TYPE_ENUM; t++)
        if (!strcmp(rg_conf_type_name((rg_type)t), s)) {
            *out = (rg_type)t;
            return 0;
        }
    return -1;
}

/* Every key of `obj` one of the NULL-terminated `known`. */
static int only_keys(json_t *obj, const char *const *known, const char *where, char *err,
                     size_t errsz)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        size_t i = 0;
        while (known[i] && strcmp(known[i], key))
            i++;
        if (!known[i]) {
            snprintf(err, errsz, "%s: unknown key \"%s\"", where, key);
            return -1;
        }
    }
    return 0;
}

/* {"connect": STATUS?, "query": STATUS?}, at least one. */
static int parse_expect(json_t *j, rg_conf_expect *e, const char *where, char *err, size_t errsz)
{
    static const char *const keys[] = {"connect", "query", NULL};
    memset(e, 0, sizeof *e);
    if (!json_is_object(j) || only_keys(j, keys, where, err, errsz) != 0) {
        if (!json_is_object(j))
            snprintf(err, errsz, "%s: expected {\"connect\": STATUS, \"query\": STATUS}", where);
        return -1;
    }
    json_t *c = json_object_get(j, "connect"), *q = json_object_get(j, "query");
    if ((c && parse_status(json_string_value(c), &e->connect) != 0) ||
        (q && parse_status(json_string_value(q), &e->query) != 0)) {
        snprintf(err, errsz, "%s: a status is one of RG_ERR_UNAVAILABLE, RG_ERR_TIMEOUT, "
                 "RG_ERR_UPSTREAM, RG_ERR_AUTH, RG_ERR_CONFIG, RG_ERR_INTERNAL", where);
        return -1;
    }
    if (!c && !q) {
        snprintf(err, errsz, "%s: name the status of \"connect\", of \"query\" or both", where);
        return -1;
    }
    return 0;
}

/* "adapters": {NAME: {"expect": {...}, "reason": TEXT} | {"not_applicable": TEXT}}.
   Checked when the file loads, so a typo fails for every adapter. */
static int check_adapters(json_t *j, char *err, size_t errsz)
{
    static const char *const keys[] = {"expect", "reason", "not_applicable", NULL};
    if (!j)
        return 0;
    if (!json_is_object(j)) {
        snprintf(err, errsz, "\"adapters\" must be an object keyed by adapter name");
        return -1;
    }
    const char *name;
    json_t *entry;
    json_object_foreach(j, name, entry) {
        char where[96];
        snprintf(where, sizeof where, "adapters.%s", name);
        if (!json_is_object(entry) || only_keys(entry, keys, where, err, errsz) != 0) {
            if (!json_is_object(entry))
                snprintf(err, errsz, "%s must be an object", where);
            return -1;
        }
        json_t *na = json_object_get(entry, "not_applicable");
        json_t *expect = json_object_get(entry, "expect");
        const char *reason = json_string_value(json_object_get(entry, "reason"));
        if (na) {
            if (!json_string_value(na) || !*json_string_value(na) || expect) {
                snprintf(err, errsz, "%s: \"not_applicable\" is the reason, alone", where);
                return -1;
            }
            continue;
        }
        rg_conf_expect e;
        if (parse_expect(expect, &e, where, err, errsz) != 0)
            return -1;
        if (!reason || !*reason) {
            snprintf(err, errsz, "%s: an adapter's own expectation needs its \"reason\"", where);
            return -1;
        }
    }
    return 0;
}

/* One plan value: typed as `t` (the field's type unless the file says
   otherwise). {"type": T, "value": V} forces a type for an `after` entry. */
static int load_value(json_t *j, rg_type t, int allow_null, rg_value *out, char *err, size_t errsz)
{
    if (json_is_object(j)) {
        if (parse_type(json_string_value(json_object_get(j, "type")), &t) != 0) {
            snprintf(err, errsz, "a typed value is {\"type\": TYPE, \"value\": V}");
            return -1;
        }
        j = json_object_get(j, "value");
    }
    if (!j) {
        snprintf(err, errsz, "a value is missing");
        return -1;
    }
    return rg_conf_value_from_json(j, t, allow_null, out, err, errsz);
}

static long field_of(const rg_collection_desc *coll, json_t *j, char *err, size_t errsz)
{
    const char *name = json_string_value(j);
    for (size_t i = 0; name && i < coll->nfields; i++)
        if (!strcmp(coll->fields[i].name, name))
            return (long)i;
    snprintf(err, errsz, "unknown field '%s'", name ? name : "(not a string)");
    return -1;
}

static int load_filters(rg_conf_error_case *c, json_t *filters, char *err, size_t errsz)
{
    size_t n = json_array_size(filters), used = 0;
    if (filters && !json_is_array(filters)) {
        snprintf(err, errsz, "plan: \"filters\" must be an array");
        return -1;
    }
    if (n > RG_CONF_ERR_MAX_FILTERS) {
        snprintf(err, errsz, "plan: at most %d filters", RG_CONF_ERR_MAX_FILTERS);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *f = json_array_get(filters, i);
        rg_filter *out = &c->filters[i];
        long field = field_of(&c->coll, json_object_get(f, "field"), err, errsz);
        if (field < 0)
            return -1;
        const char *op = json_string_value(json_object_get(f, "op"));
        size_t k = 0;
        while (op && k < sizeof op_names / sizeof op_names[0] && strcmp(op_names[k].name, op))
            k++;
        if (!op || k == sizeof op_names / sizeof op_names[0]) {
            snprintf(err, errsz, "filter %zu: unknown operator '%s'", i, op ? op : "");
            return -1;
        }
        out->struct_size = sizeof *out;
        out->field = (size_t)field;
        out->op = op_names[k].op;
        /* The point of a plan case: "type" makes the values differ from the field. */
        rg_type t = c->coll.fields[field].type;
        json_t *type = json_object_get(f, "type");
        if (type && parse_type(json_string_value(type), &t) != 0) {
            snprintf(err, errsz, "filter %zu: unknown type", i);
            return -1;
        }
        json_t *many = json_object_get(f, "values");
        size_t nv = many ? json_array_size(many) : 1;
        if (nv == 0 || used + nv > RG_CONF_ERR_MAX_VALUES) {
            snprintf(err, errsz, "filter %zu: 1 to %d values in all", i, RG_CONF_ERR_MAX_VALUES);
            return -1;
        }
        out->values = &c->values[used];
        for (size_t v = 0; v < nv; v++) {
            json_t *j = many ? json_array_get(many, v) : json_object_get(f, "value");
            if (load_value(j, t, 0, &c->values[used + v], err, errsz) != 0)
                return -1;
        }
        out->nvalues = nv;
        used += nv;
    }
    c->plan.filters = n ? c->filters : NULL;
    c->plan.nfilters = n;
    return 0;
}

/* Sort (the key appended), columns (sort fields appended), after. */
static int load_order(rg_conf_error_case *c, json_t *plan, char *err, size_t errsz)
{
    json_t *sort = json_object_get(plan, "sort");
    size_t n = json_array_size(sort);
    if (n + 1 > RG_CONF_ERR_MAX_SORT) {
        snprintf(err, errsz, "plan: at most %d sort keys before the key", RG_CONF_ERR_MAX_SORT - 1);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *k = json_array_get(sort, i);
        long f = field_of(&c->coll, json_object_get(k, "field"), err, errsz);
        const char *dir = json_string_value(json_object_get(k, "dir"));
        if (f < 0)
            return -1;
        if (!dir || (strcmp(dir, "asc") && strcmp(dir, "desc"))) {
            snprintf(err, errsz, "sort key %zu: dir must be \"asc\" or \"desc\"", i);
            return -1;
        }
        c->sort[i].struct_size = sizeof c->sort[i];
        c->sort[i].field = (size_t)f;
        c->sort[i].desc = !strcmp(dir, "desc");
    }
    size_t key = c->coll.key_field;
    if (n == 0 || c->sort[n - 1].field != key || c->sort[n - 1].desc) {
        c->sort[n].struct_size = sizeof c->sort[n];
        c->sort[n].field = key;
        c->sort[n].desc = 0;
        n++;
    }
    c->plan.sort = c->sort;
    c->plan.nsort = n;

    json_t *cols = json_object_get(plan, "columns");
    size_t nc = cols ? json_array_size(cols) : c->coll.nfields;
    if (cols && nc == 0) {
        snprintf(err, errsz, "plan: \"columns\" must not be empty");
        return -1;
    }
    c->columns = calloc(nc + n, sizeof *c->columns);
    if (!c->columns) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < nc; i++) {
        long f = cols ? field_of(&c->coll, json_array_get(cols, i), err, errsz) : (long)i;
        if (f < 0)
            return -1;
        c->columns[i] = (size_t)f;
    }
    size_t total = nc;
    for (size_t s = 0; s < n; s++) {
        size_t k;
        for (k = 0; k < total && c->columns[k] != c->sort[s].field; k++)
            ;
        if (k == total)
            c->columns[total++] = c->sort[s].field;
    }
    c->plan.columns = c->columns;
    c->plan.ncolumns = total;

    json_t *after = json_object_get(plan, "after");
    if (!after)
        return 0;
    if (json_array_size(after) != n) {
        snprintf(err, errsz, "plan: \"after\" needs one value per sort key (%zu, key included)", n);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (load_value(json_array_get(after, i), c->coll.fields[c->sort[i].field].type, 1,
                       &c->after[i], err, errsz) != 0)
            return -1;
    c->plan.after = c->after;
    return 0;
}

/* "declare": {FIELD: TYPE}: the collection the plan runs on declares the
   field with that type, whatever its backend column holds. */
static int load_declare(rg_conf_error_case *c, json_t *declare, char *err, size_t errsz)
{
    if (!json_is_object(declare) || json_object_size(declare) != 1) {
        snprintf(err, errsz, "a column_type case needs \"declare\": {FIELD: TYPE}, one field");
        return -1;
    }
    const char *name;
    json_t *type;
    json_object_foreach(declare, name, type) {
        json_t *jn = json_string(name);
        long f = jn ? field_of(&c->coll, jn, err, errsz) : -1;
        json_decref(jn);
        rg_type t;
        if (f < 0)
            return -1;
        if (parse_type(json_string_value(type), &t) != 0 || t == c->coll.fields[f].type ||
            t == RG_TYPE_STRING || t == RG_TYPE_ENUM) {
            snprintf(err, errsz, "declare: '%s' needs a type its column cannot hold (integer, "
                     "number, boolean, date, datetime), other than its own", name);
            return -1;
        }
        if ((size_t)f == c->coll.key_field) {
            snprintf(err, errsz, "declare: not the key, which orders every plan");
            return -1;
        }
        c->fields[f].type = t;
        c->declared = f;
    }
    return 0;
}

int rg_conf_error_load(const char *path, const rg_conf_collection *coll, uint32_t timeout_ms,
                       rg_conf_error_case *c, char *err, size_t errsz)
{
    static const char *const keys[] = {"description", "provoke", "kind", "declare", "plan",
                                       "expect", "adapters", NULL};
    memset(c, 0, sizeof *c);
    c->declared = -1;
    char *tmp = strdup(path);
    if (!tmp) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    const char *base = basename(tmp);
    size_t len = strlen(base);
    if (len > 5 && !strcmp(base + len - 5, ".json"))
        len -= 5;
    c->name = malloc(len + 7);
    if (c->name)
        snprintf(c->name, len + 7, "error/%.*s", (int)len, base);
    free(tmp);
    json_error_t jerr;
    memset(&jerr, 0, sizeof jerr);
    c->doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!c->name || !c->doc) {
        snprintf(err, errsz, "line %d: %s", jerr.line, jerr.text);
        return -1;
    }
    if (only_keys(c->doc, keys, "error case", err, errsz) != 0)
        return -1;
    c->description = json_string_value(json_object_get(c->doc, "description"));
    const char *provoke = json_string_value(json_object_get(c->doc, "provoke"));
    const char *kind = json_string_value(json_object_get(c->doc, "kind"));
    if (!c->description || !provoke) {
        snprintf(err, errsz, "\"description\" and \"provoke\" (how the case makes the adapter "
                 "fail) are required");
        return -1;
    }
    size_t k = 0;
    while (kind && k < sizeof kind_names / sizeof kind_names[0] && strcmp(kind_names[k].name, kind))
        k++;
    if (!kind || k == sizeof kind_names / sizeof kind_names[0]) {
        snprintf(err, errsz, "\"kind\" is one of plan, column_type, unreachable, timeout, "
                 "stalled, auth");
        return -1;
    }
    c->kind = kind_names[k].kind;
    if (parse_expect(json_object_get(c->doc, "expect"), &c->expect, "expect", err, errsz) != 0 ||
        check_adapters(json_object_get(c->doc, "adapters"), err, errsz) != 0)
        return -1;

    /* A private copy of the collection: a column_type case changes a type. */
    c->coll = coll->desc;
    c->fields = calloc(coll->desc.nfields ? coll->desc.nfields : 1, sizeof *c->fields);
    if (!c->fields) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    memcpy(c->fields, coll->desc.fields, coll->desc.nfields * sizeof *c->fields);
    c->coll.fields = c->fields;

    json_t *plan = json_object_get(c->doc, "plan");
    if (!json_is_object(plan)) {
        snprintf(err, errsz, "\"plan\" is required (at least {\"limit\": N})");
        return -1;
    }
    static const char *const plan_keys[] = {"filters", "sort", "columns", "after", "limit", NULL};
    if (only_keys(plan, plan_keys, "plan", err, errsz) != 0)
        return -1;
    json_t *limit = json_object_get(plan, "limit");
    if (!json_is_integer(limit) || json_integer_value(limit) < 1) {
        snprintf(err, errsz, "plan: \"limit\" must be a positive integer");
        return -1;
    }
    c->plan.struct_size = sizeof c->plan;
    c->plan.collection = &c->coll;
    c->plan.limit = (size_t)json_integer_value(limit);
    c->plan.timeout_ms = timeout_ms;
    if (load_filters(c, json_object_get(plan, "filters"), err, errsz) != 0 ||
        load_order(c, plan, err, errsz) != 0)
        return -1;
    json_t *declare = json_object_get(c->doc, "declare");
    if (c->kind == RG_CONF_ERR_COLUMN) {
        if (load_declare(c, declare, err, errsz) != 0)
            return -1;
        size_t i;
        for (i = 0; i < c->plan.ncolumns && c->plan.columns[i] != (size_t)c->declared; i++)
            ;
        if (i == c->plan.ncolumns || c->plan.nfilters || c->plan.after) {
            snprintf(err, errsz, "a column_type case reads the declared field and filters nothing");
            return -1;
        }
    } else if (declare) {
        snprintf(err, errsz, "\"declare\" belongs to column_type cases only");
        return -1;
    }
    if (c->kind == RG_CONF_ERR_PLAN && !c->plan.nfilters && !c->plan.after) {
        snprintf(err, errsz, "a plan case needs a filter or an 'after' of the wrong type");
        return -1;
    }
    return 0;
}

void rg_conf_error_free(rg_conf_error_case *c)
{
    free(c->name);
    free(c->fields);
    free(c->columns);
    json_decref(c->doc);
    memset(c, 0, sizeof *c);
}

/* ---- what the message must not say ----------------------------------------- */

typedef struct needles {
    char *text[MAX_NEEDLES];
    const char *what[MAX_NEEDLES]; /* static descriptions */
    size_t n;
} needles;

static void needles_free(needles *nd)
{
    for (size_t i = 0; i < nd->n; i++)
        free(nd->text[i]);
    nd->n = 0;
}

/* 0, or -1 out of memory; short texts are left out (see MIN_NEEDLE). */
static int add_needle(needles *nd, const char *s, size_t len, const char *what)
{
    if (len < MIN_NEEDLE || nd->n == MAX_NEEDLES)
        return 0;
    for (size_t i = 0; i < nd->n; i++)
        if (strlen(nd->text[i]) == len && !memcmp(nd->text[i], s, len))
            return 0;
    if (!(nd->text[nd->n] = strndup(s, len)))
        return -1;
    nd->what[nd->n++] = what;
    return 0;
}

static int secret_key(const char *key)
{
    static const char *const parts[] = {"password", "passwd", "secret", "token", "key",
                                        "credential"};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (strcasestr(key, parts[i]))
            return 1;
    return 0;
}

/*
 * The secrets in a source's options: whole values of options whose name says
 * secret (password, access_token, api_key, ...), a password=... inside a
 * connection string, and the password of a URI's user:password@.
 */
static int add_secrets(needles *nd, const rg_conf_source *s)
{
    for (size_t i = 0; i < s->noptions; i++) {
        const char *v = s->options[i].value;
        if (secret_key(s->options[i].key) &&
            add_needle(nd, v, strlen(v), "a secret option's value") != 0)
            return -1;
        for (const char *p = v; (p = strstr(p, "password")); p += 8) {
            const char *q = p + 8;
            while (*q == ' ')
                q++;
            if (*q++ != '=')
                continue;
            while (*q == ' ')
                q++;
            char quote = (*q == '\'' || *q == '"') ? *q++ : 0;
            size_t len = quote ? strcspn(q, quote == '\'' ? "'" : "\"") : strcspn(q, " &;");
            if (add_needle(nd, q, len, "the password in a connection string") != 0)
                return -1;
        }
        const char *scheme = strstr(v, "://");
        if (scheme) {
            const char *auth = scheme + 3;
            size_t alen = strcspn(auth, "/?#");
            const char *at = memchr(auth, '@', alen);
            const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
            if (colon && add_needle(nd, colon + 1, (size_t)(at - colon - 1),
                                    "the password in a URI") != 0)
                return -1;
        }
    }
    return 0;
}

static int add_plan_value(needles *nd, const rg_value *v)
{
    char num[32];
    if (v->is_null)
        return 0;
    switch (v->type) {
    case RG_TYPE_INTEGER:
        snprintf(num, sizeof num, "%lld", (long long)v->u.i);
        return add_needle(nd, num, strlen(num), "a value of the plan");
    case RG_TYPE_NUMBER:
        snprintf(num, sizeof num, "%g", v->u.n);
        return add_needle(nd, num, strlen(num), "a value of the plan");
    case RG_TYPE_BOOLEAN:
        return 0;
    default:
        return add_needle(nd, v->u.str.ptr ? v->u.str.ptr : "", v->u.str.len,
                          "a value of the plan");
    }
}

static int add_plan_values(needles *nd, const rg_query_plan *p)
{
    for (size_t i = 0; i < p->nfilters; i++)
        for (size_t k = 0; k < p->filters[i].nvalues; k++)
            if (add_plan_value(nd, &p->filters[i].values[k]) != 0)
                return -1;
    for (size_t i = 0; p->after && i < p->nsort; i++)
        if (add_plan_value(nd, &p->after[i]) != 0)
            return -1;
    return 0;
}

/* The message names none of the needles; else why, in `why`, and the
   message with what it quotes masked, in `shown`: the run's output must not
   repeat the secret either. */
static int message_clean(const char *message, const needles *nd, char *why, size_t whysz,
                         char *shown, size_t shownsz)
{
    for (size_t i = 0; i < nd->n; i++) {
        const char *hit = strstr(message, nd->text[i]);
        if (!hit)
            continue;
        snprintf(why, whysz, "the message quotes %s", nd->what[i]);
        size_t n = 0, len = strlen(nd->text[i]);
        for (const char *p = message; *p && n + 4 < shownsz;) {
            if (!strncmp(p, nd->text[i], len)) {
                memcpy(shown + n, "***", 3);
                n += 3;
                p += len;
            } else {
                shown[n++] = *p++;
            }
        }
        shown[n] = '\0';
        return 0;
    }
    return 1;
}

/* ---- running a case ---------------------------------------------------------- */

/* The expectation for this adapter: its own entry in "adapters", or the
   file's. Returns the not-applicable reason when the entry says so. */
static const char *expectation(const rg_conf_error_case *c, const char *adapter, rg_conf_expect *e,
                               const char **reason)
{
    *e = c->expect;
    *reason = NULL;
    json_t *entry = json_object_get(json_object_get(c->doc, "adapters"), adapter);
    if (!entry)
        return NULL;
    const char *na = json_string_value(json_object_get(entry, "not_applicable"));
    if (na)
        return na;
    char ignored[256];
    /* Validated when the file loaded. */
    if (parse_expect(json_object_get(entry, "expect"), e, "adapters", ignored, sizeof ignored) != 0)
        *e = c->expect;
    *reason = json_string_value(json_object_get(entry, "reason"));
    return NULL;
}

static const rg_conf_source *source_for(const rg_conf_env *env, const rg_conf_error_case *c,
                                        const char **missing)
{
    switch (c->kind) {
    case RG_CONF_ERR_PLAN:
    case RG_CONF_ERR_COLUMN:
        return env->source;
    case RG_CONF_ERR_UNREACHABLE:
        *missing = "no --unreachable-option given";
        return env->unreachable;
    case RG_CONF_ERR_TIMEOUT:
        *missing = "no --slow-target or --slow-option given";
        return env->slow ? env->slow : env->slow_target ? env->source : NULL;
    case RG_CONF_ERR_STALLED:
        *missing = "no --stalled-option given";
        return env->stalled;
    case RG_CONF_ERR_AUTH:
        *missing = "no --auth-option given";
        return env->auth;
    }
    return NULL;
}

/* A copy of `base` with the silent listener's address filled in. */
static int prepare_source(const rg_conf_env *env, const rg_conf_source *base, rg_conf_source *out,
                          char *msg, size_t msgsz)
{
    if (rg_conf_source_copy(out, base) != 0) {
        say(msg, msgsz, "out of memory");
        return -1;
    }
    if (!has_placeholder(out))
        return 0;
    char err[256];
    if (rg_conf_stall_open(env->stall, err, sizeof err) != 0) {
        say(msg, msgsz, "%s", err);
        rg_conf_source_free(out);
        return -1;
    }
    for (size_t i = 0; i < out->noptions; i++) {
        char *v = substitute(out->options[i].value, env->stall);
        if (!v) {
            say(msg, msgsz, "out of memory");
            rg_conf_source_free(out);
            return -1;
        }
        free((char *)out->options[i].value);
        out->options[i].value = v;
    }
    return 0;
}

/*
 * Column cases: the same plan on the collection as configured must work and
 * return data in the field, or the case could not fail; those values are
 * what the error message must not quote.
 */
static int reference_run(const rg_conf_env *env, void *conn, const rg_conf_error_case *c,
                         needles *nd, char *msg, size_t msgsz)
{
    rg_query_plan p = c->plan;
    p.collection = &env->coll->desc;
    rg_conf_result res = {0};
    rg_conf_run(env->ad, conn, &p, &res);
    int rc = -1;
    const char *name = env->coll->desc.fields[c->declared].name;
    size_t nonnull = 0, i;
    json_t *row;
    if (res.status != RG_OK || res.problem[0]) {
        say(msg, msgsz, "the same plan with '%s' declared %s failed: %s %s%s", name,
            rg_conf_type_name(env->coll->desc.fields[c->declared].type),
            rg_conf_status_name(res.status), res.err.message, res.problem);
        goto out;
    }
    json_array_foreach(res.rows, i, row) {
        json_t *v = json_object_get(row, name);
        if (!json_is_string(v))
            continue;
        nonnull++;
        if (add_needle(nd, json_string_value(v), json_string_length(v), "a value of the data") != 0) {
            say(msg, msgsz, "out of memory");
            goto out;
        }
    }
    if (!nonnull) {
        say(msg, msgsz, "the plan reads no value of '%s': the case proves nothing", name);
        goto out;
    }
    rc = 0;
out:
    rg_conf_result_free(&res);
    return rc;
}

/* After a refused plan the gateway keeps the connection: it must still answer. */
static int still_answers(const rg_conf_env *env, void *conn, char *msg, size_t msgsz)
{
    const rg_collection_desc *coll = &env->coll->desc;
    rg_sort_key key = {.struct_size = sizeof key, .field = coll->key_field, .desc = 0};
    size_t col = coll->key_field;
    rg_query_plan p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.collection = coll;
    p.sort = &key;
    p.nsort = 1;
    p.columns = &col;
    p.ncolumns = 1;
    p.limit = 1;
    p.timeout_ms = env->timeout_ms;
    rg_conf_result res = {0};
    rg_conf_run(env->ad, conn, &p, &res);
    int ok = res.status == RG_OK && !res.problem[0] && json_array_size(res.rows) == 1;
    if (!ok)
        say(msg, msgsz, "after the error the same connection returned %s (%s) with %zu rows for a "
            "valid plan; expected RG_OK with 1 row", rg_conf_status_name(res.status),
            res.err.message, json_array_size(res.rows));
    rg_conf_result_free(&res);
    return ok ? 0 : -1;
}

/* Rows that reached the sink before the error: what each kind allows. */
static int rows_ok(const rg_conf_error_case *c, const rg_conf_result *res, char *msg, size_t msgsz)
{
    if (res->problem[0]) {
        say(msg, msgsz, "a row broke the ABI: %s", res->problem);
        return 0;
    }
    if (c->kind == RG_CONF_ERR_PLAN && json_array_size(res->rows)) {
        say(msg, msgsz, "%zu rows reached the sink for a plan the adapter must refuse",
            json_array_size(res->rows));
        return 0;
    }
    if (c->kind == RG_CONF_ERR_COLUMN) {
        const char *name = c->coll.fields[c->declared].name;
        size_t i;
        json_t *row;
        json_array_foreach(res->rows, i, row) {
            json_t *v = json_object_get(row, name);
            if (v && !json_is_null(v)) {
                char *text = rg_conf_row_text(row);
                say(msg, msgsz, "a row reached the sink with a value typed %s for '%s', whose "
                    "column holds none: %s", rg_conf_type_name(c->coll.fields[c->declared].type),
                    name, text ? text : "?");
                free(text);
                return 0;
            }
        }
    }
    return 1;
}

rg_conf_verdict rg_conf_error_run(const rg_conf_env *env, void *conn, const rg_conf_error_case *c,
                                  char *msg, size_t msgsz)
{
    rg_conf_expect want;
    const char *reason;
    const char *na = expectation(c, env->ad->name, &want, &reason);
    if (na) {
        say(msg, msgsz, "%s: %s", env->ad->name, na);
        return RG_CONF_SKIP;
    }
    const char *missing = "";
    const rg_conf_source *base = source_for(env, c, &missing);
    if (!base) {
        say(msg, msgsz, "%s", missing);
        return RG_CONF_NA;
    }
    rg_conf_source src;
    if (prepare_source(env, base, &src, msg, msgsz) != 0)
        return RG_CONF_FAIL;

    rg_conf_verdict v = RG_CONF_FAIL;
    needles nd = {0};
    rg_query_plan plan = c->plan;
    rg_collection_desc slow_coll = c->coll;
    rg_conf_result res = {0};
    void *own = NULL;
    const char *as = reason ? " (as this adapter's entry expects)" : "";
    char why[300] = "";
    if (add_secrets(&nd, &src) != 0 || add_secrets(&nd, env->source) != 0 ||
        add_plan_values(&nd, &plan) != 0) {
        say(msg, msgsz, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < env->nsecrets; i++)
        if (add_needle(&nd, env->secrets[i], strlen(env->secrets[i]), "a --secret") != 0) {
            say(msg, msgsz, "out of memory");
            goto out;
        }
    if (c->kind == RG_CONF_ERR_TIMEOUT || c->kind == RG_CONF_ERR_STALLED)
        plan.timeout_ms = env->slow_timeout_ms;
    if (c->kind == RG_CONF_ERR_TIMEOUT && env->slow_target) {
        slow_coll.target = env->slow_target;
        plan.collection = &slow_coll;
    }

    /* Connect: plan and column cases use the run's connection, whose
       connect has already passed (adapter/connect). */
    const char *phase = "query";
    rg_status got;
    rg_error err = {.struct_size = sizeof err};
    long long took = 0;
    if (c->kind == RG_CONF_ERR_COLUMN && reference_run(env, conn, c, &nd, msg, msgsz) != 0)
        goto out;
    if (c->kind != RG_CONF_ERR_PLAN && c->kind != RG_CONF_ERR_COLUMN) {
        rg_source_info info;
        rg_conf_source_info(&src, &info, env->connect_timeout_ms);
        long long t0 = now_ms();
        got = env->ad->connect(&info, &own, &err);
        took = now_ms() - t0;
        err.message[sizeof err.message - 1] = '\0';
        if (got != RG_OK) {
            own = NULL;
            phase = "connect";
            if (took > (long long)env->connect_timeout_ms + CONNECT_GRACE_MS) {
                say(msg, msgsz, "connect returned %s only after %lld ms (connect timeout %u ms)",
                    rg_conf_status_name(got), took, env->connect_timeout_ms);
                goto out;
            }
            goto judge;
        }
        if (!own) {
            say(msg, msgsz, "connect returned RG_OK without a connection");
            goto out;
        }
        conn = own;
    }
    long long t0 = now_ms();
    rg_conf_run(env->ad, conn, &plan, &res);
    took = now_ms() - t0;
    got = res.status;
    err = res.err;
    if (took > (long long)plan.timeout_ms + QUERY_GRACE_MS) {
        say(msg, msgsz, "the query returned %s only after %lld ms for a budget of %u ms",
            rg_conf_status_name(got), took, plan.timeout_ms);
        goto out;
    }
    if (!rows_ok(c, &res, msg, msgsz))
        goto out;

judge:;
    rg_status expected = !strcmp(phase, "connect") ? want.connect : want.query;
    if (got == RG_OK) {
        if (want.query)
            say(msg, msgsz, "the query returned RG_OK with %zu rows; expected %s",
                json_array_size(res.rows), rg_conf_status_name(want.query));
        else
            say(msg, msgsz, "connect returned RG_OK; expected %s from connect%s",
                rg_conf_status_name(want.connect), as);
        goto out;
    }
    if (!expected) {
        say(msg, msgsz, "%s returned %s (%s); expected %s to succeed and the query to return %s%s",
            phase, rg_conf_status_name(got), err.message, phase, rg_conf_status_name(want.query), as);
        goto out;
    }
    if (got != expected) {
        say(msg, msgsz, "%s returned %s (%s); expected %s%s", phase, rg_conf_status_name(got),
            err.message, rg_conf_status_name(expected), as);
        goto out;
    }
    if (!err.message[0]) {
        say(msg, msgsz, "%s returned %s with an empty message: the log would not say what failed",
            phase, rg_conf_status_name(got));
        goto out;
    }
    char shown[sizeof err.message + 64];
    if (!message_clean(err.message, &nd, why, sizeof why, shown, sizeof shown)) {
        say(msg, msgsz, "%s returned %s, but %s: %s", phase, rg_conf_status_name(got), why, shown);
        goto out;
    }
    if ((c->kind == RG_CONF_ERR_PLAN || c->kind == RG_CONF_ERR_COLUMN) &&
        still_answers(env, conn, msg, msgsz) != 0)
        goto out;
    say(msg, msgsz, "%s: %s after %lld ms%s: %s", phase, rg_conf_status_name(got), took, as,
        err.message);
    v = RG_CONF_PASS;
out:
    if (own)
        env->ad->disconnect(own);
    rg_conf_result_free(&res);
    needles_free(&nd);
    rg_conf_source_free(&src);
    return v;
}
