/*
 * readgate-adapter-mongo: reads MongoDB through mongo-c-driver (libmongoc 1.x).
 *
 * Options: uri (required; mongodb:// or mongodb+srv://, usually stored as an
 * enc: secret), database (required), read_preference (primary,
 * primaryPreferred, secondary, secondaryPreferred or nearest; default: the
 * URI's, else primary), allow_dotted_fields (true/false, default false: a
 * column "a.b" then reads the embedded field b of a), max_time_ms (optional
 * cap on every query's budget). The core's own source options (timeout_ms,
 * connect_timeout_ms, workers) are accepted and ignored here.
 *
 * A plan becomes one `aggregate` command:
 *   $match   filters, search words and the keyset position, as BSON built from
 *            typed values (never parsed from text); prefix/contains/search are
 *            $regex patterns in which every metacharacter is escaped;
 *   $addFields  per sort key a NULL flag and the value with "missing" turned
 *            into null (MongoDB sorts null and missing lowest; readgate wants
 *            them last ascending and first descending, with missing == null);
 *   $sort, $limit, $project (only the requested columns).
 * The server sorts, limits and projects; the adapter only streams rows.
 * aggregate rather than find: find cannot sort on computed fields, and a
 * $sort after $addFields still lets MongoDB keep only the top `limit` rows.
 *
 * Storage conventions (those of conformance/fixtures/products.mongo.json):
 * integer = int32/int64 (also an integral double, as the mongo shell writes
 * numbers), number = double/int32/int64, boolean = bool, string and enum =
 * UTF-8 string, date = the string "YYYY-MM-DD", datetime = BSON date (UTC,
 * millisecond precision). NULL, undefined and a missing field are NULL.
 *
 * Timeouts: every command carries maxTimeMS (the plan's budget, capped by
 * max_time_ms). The client's socketTimeoutMS is set to the budget plus a
 * grace period, so a server that ignores maxTimeMS, or a stalled network,
 * still ends in RG_ERR_TIMEOUT instead of a hung worker. serverSelection- and
 * connectTimeoutMS are capped by the source's connect timeout.
 *
 * Threads: one mongoc_client_t (single-threaded API) per connection; the
 * gateway uses a connection from one thread at a time. mongoc_init runs once;
 * mongoc_cleanup never runs, since other connections may still be in use
 * when an adapter could be unloaded.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mongoc/mongoc.h>

#include <readgate/adapter.h>
#include "adapter_err.h"

#define ADAPTER_NAME "mongo"
#define MAX_TIME_CAP_MS 86400000UL
/* How much longer than the budget a socket read may wait (see
   socket_timeout_for). */
#define CLIENT_GRACE_MS 1000
/* Computed fields used for sorting; columns may not start with this. */
#define RESERVED_PREFIX "__rg_"

static const rg_host_api *host;

#define logf_(lvl, ...) rg_adapter_log(host, ADAPTER_NAME, lvl, __VA_ARGS__)

/* The driver's own log lines (URI warnings, topology changes) go to the
   gateway's log instead of stderr; chatter below warnings is dropped. */
static void driver_log(mongoc_log_level_t level, const char *domain, const char *message,
                       void *user_data)
{
    (void)user_data;
    if (level > MONGOC_LOG_LEVEL_WARNING)
        return;
    logf_(RG_LOG_WARN, "libmongoc %s: %s", domain ? domain : "", message ? message : "");
}

/* mongoc_init must run before any other libmongoc call, once per process. */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static void init_driver(void)
{
    mongoc_init();
    mongoc_log_set_handler(driver_log, NULL);
}

/* ---- options ------------------------------------------------------------ */

typedef struct mongo_options {
    const char *uri;
    const char *database;
    const char *read_preference; /* NULL: the URI's */
    mongoc_read_mode_t read_mode;
    int allow_dotted;
    unsigned long max_time_ms; /* 0: no cap */
} mongo_options;

static const struct {
    const char *name;
    mongoc_read_mode_t mode;
} read_modes[] = {
    {"primary", MONGOC_READ_PRIMARY},
    {"primaryPreferred", MONGOC_READ_PRIMARY_PREFERRED},
    {"secondary", MONGOC_READ_SECONDARY},
    {"secondaryPreferred", MONGOC_READ_SECONDARY_PREFERRED},
    {"nearest", MONGOC_READ_NEAREST},
};

static int is_core_option(const char *key)
{
    return !strcmp(key, "timeout_ms") || !strcmp(key, "connect_timeout_ms") ||
           !strcmp(key, "workers");
}

/* MongoDB's rules for database names (on every platform it supports). */
static int database_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63)
        return 0;
    return strpbrk(s, "/\\. \"$*<>:|?") == NULL;
}

static rg_status parse_options(const rg_source_info *src, mongo_options *o, rg_error *err)
{
    memset(o, 0, sizeof *o);
    for (size_t i = 0; i < src->noptions; i++) {
        const rg_option *opt = &src->options[i];
        const char *v = opt->value ? opt->value : "";
        if (!strcmp(opt->key, "uri")) {
            o->uri = v;
        } else if (!strcmp(opt->key, "database")) {
            if (!database_name_ok(v))
                return rg_adapter_fail(err, RG_ERR_CONFIG,
                               "option 'database' must be a MongoDB database name: 1 to 63 "
                               "characters, none of / \\ . space \" $ * < > : | ?");
            o->database = v;
        } else if (!strcmp(opt->key, "read_preference")) {
            size_t k;
            for (k = 0; k < sizeof read_modes / sizeof read_modes[0]; k++)
                if (!strcmp(v, read_modes[k].name))
                    break;
            if (k == sizeof read_modes / sizeof read_modes[0])
                return rg_adapter_fail(err, RG_ERR_CONFIG,
                               "option 'read_preference' must be one of primary, "
                               "primaryPreferred, secondary, secondaryPreferred, nearest");
            o->read_preference = read_modes[k].name;
            o->read_mode = read_modes[k].mode;
        } else if (!strcmp(opt->key, "allow_dotted_fields")) {
            if (!strcmp(v, "true"))
                o->allow_dotted = 1;
            else if (!strcmp(v, "false"))
                o->allow_dotted = 0;
            else
                return rg_adapter_fail(err, RG_ERR_CONFIG,
                               "option 'allow_dotted_fields' must be true or false");
        } else if (!strcmp(opt->key, "max_time_ms")) {
            char *end;
            errno = 0;
            unsigned long ms = strtoul(v, &end, 10);
            if (!*v || *v == '-' || *end || errno || ms == 0 || ms > MAX_TIME_CAP_MS)
                return rg_adapter_fail(err, RG_ERR_CONFIG,
                               "option 'max_time_ms' must be an integer from 1 to %lu",
                               MAX_TIME_CAP_MS);
            o->max_time_ms = ms;
        } else if (!is_core_option(opt->key)) {
            return rg_adapter_fail(err, RG_ERR_CONFIG,
                           "unknown option '%s' for the mongo adapter; expected: uri, database, "
                           "read_preference, allow_dotted_fields, max_time_ms",
                           opt->key);
        }
    }
    if (!o->uri || !*o->uri)
        return rg_adapter_fail(err, RG_ERR_CONFIG,
                       "option 'uri' is required: a mongodb:// or mongodb+srv:// connection "
                       "string");
    if (!o->database)
        return rg_adapter_fail(err, RG_ERR_CONFIG,
                       "option 'database' is required: the database that holds the collections");
    /* An encrypted value is checked once it has been decrypted, at connect. */
    if (strncmp(o->uri, "enc:", 4) != 0) {
        if (strncmp(o->uri, "mongodb://", 10) != 0 && strncmp(o->uri, "mongodb+srv://", 14) != 0)
            return rg_adapter_fail(err, RG_ERR_CONFIG,
                           "option 'uri' must start with mongodb:// or mongodb+srv://");
        pthread_once(&init_once, init_driver);
        bson_error_t e;
        mongoc_uri_t *uri = mongoc_uri_new_with_error(o->uri, &e);
        /* The driver's reason may quote the URI, password included. */
        if (!uri)
            return rg_adapter_fail(err, RG_ERR_CONFIG,
                           "option 'uri' is not a valid MongoDB connection string");
        mongoc_uri_destroy(uri);
    }
    return RG_OK;
}

static rg_status check_options(const rg_source_info *src, rg_error *err)
{
    mongo_options o;
    return parse_options(src, &o, err);
}

/* ---- connection ------------------------------------------------------------ */

typedef struct mongo_conn {
    mongoc_client_t *client;
    mongoc_uri_t *uri;          /* kept to rebuild the client with another socket timeout */
    int32_t uri_socket_timeout; /* socketTimeoutMS the URI itself set, 0 if none */
    int32_t socket_timeout;     /* socketTimeoutMS the current client was built with */
    mongoc_read_prefs_t *read_prefs;
    char *database;
    int allow_dotted;
    unsigned long max_time_ms;
    int64_t deadline_us; /* monotonic: when the running command's socket timeout expires */
} mongo_conn;

static void close_conn(mongo_conn *c)
{
    if (c->client)
        mongoc_client_destroy(c->client);
    if (c->uri)
        mongoc_uri_destroy(c->uri);
    if (c->read_prefs)
        mongoc_read_prefs_destroy(c->read_prefs);
    free(c->database);
    free(c);
}

static int has_text(const char *msg, const char *needle)
{
    return msg && strcasestr(msg, needle) != NULL;
}

/* Server error codes (src/mongo/base/error_codes.yml) that mean the node cannot
   serve us right now: retrying later, or elsewhere, may succeed. */
static int is_unavailable_code(uint32_t code)
{
    switch (code) {
    case 6:     /* HostUnreachable */
    case 7:     /* HostNotFound */
    case 91:    /* ShutdownInProgress */
    case 133:   /* FailedToSatisfyReadPreference */
    case 189:   /* PrimarySteppedDown */
    case 9001:  /* SocketException */
    case 10107: /* NotWritablePrimary */
    case 11600: /* InterruptedAtShutdown */
    case 11602: /* InterruptedDueToReplStateChange */
    case 13435: /* NotPrimaryNoSecondaryOk */
    case 13436: /* NotPrimaryOrSecondary */
        return 1;
    default:
        return 0;
    }
}

/*
 * Map a driver error to the gateway's classes. `in_query` tells a socket
 * timeout of a running query (RG_ERR_TIMEOUT) from one while connecting
 * (RG_ERR_UNAVAILABLE). Server messages are not copied for command errors:
 * some quote parts of the query (a regex, a value); the code is enough.
 */
static rg_status map_error(const mongo_conn *c, const bson_error_t *e, const bson_t *reply,
                           const char *what, int in_query, rg_error *err)
{
    const char *code_name = NULL;
    bson_iter_t it;
    if (reply && bson_iter_init_find(&it, reply, "codeName") && BSON_ITER_HOLDS_UTF8(&it))
        code_name = bson_iter_utf8(&it, NULL);

    if (e->domain == MONGOC_ERROR_SERVER || e->domain == MONGOC_ERROR_QUERY ||
        e->domain == MONGOC_ERROR_WRITE_CONCERN) {
        if (e->code == 50 || e->code == 262) /* MaxTimeMSExpired, ExceededTimeLimit */
            return rg_adapter_fail(err, RG_ERR_TIMEOUT, "%s: the server ended the query at its time limit "
                           "(maxTimeMS, code %u)", what, e->code);
        if (e->code == 18 || e->code == 13) /* AuthenticationFailed, Unauthorized */
            return rg_adapter_fail(err, RG_ERR_AUTH, "%s: MongoDB refused the credentials or their "
                           "rights (code %u %s)", what, e->code, code_name ? code_name : "");
        if (is_unavailable_code(e->code))
            return rg_adapter_fail(err, RG_ERR_UNAVAILABLE, "%s: MongoDB cannot serve the read now "
                           "(code %u %s)", what, e->code, code_name ? code_name : "");
        return rg_adapter_fail(err, RG_ERR_UPSTREAM, "%s: MongoDB error code %u %s", what, e->code,
                       code_name ? code_name : "");
    }
    if (e->domain == MONGOC_ERROR_CLIENT && e->code == MONGOC_ERROR_CLIENT_AUTHENTICATE)
        return rg_adapter_fail(err, RG_ERR_AUTH, "%s: authentication failed: %s", what, e->message);
    if (e->domain == MONGOC_ERROR_SERVER_SELECTION) {
        /* With one try, a failed handshake's reason ends up here too. */
        if (has_text(e->message, "authentication failed") || has_text(e->message, "auth failed"))
            return rg_adapter_fail(err, RG_ERR_AUTH, "%s: %s", what, e->message);
        return rg_adapter_fail(err, RG_ERR_UNAVAILABLE, "%s: no MongoDB server available: %s", what,
                       e->message);
    }
    /* Network errors: from an open connection (STREAM), or while opening one
       for the command (CLIENT with a STREAM_* code, e.g. "socket timeout
       calling hello"). */
    if (e->domain == MONGOC_ERROR_STREAM ||
        (e->domain == MONGOC_ERROR_CLIENT && e->code >= MONGOC_ERROR_STREAM_INVALID_TYPE &&
         e->code <= MONGOC_ERROR_STREAM_NOT_ESTABLISHED)) {
        /* A failed read says "socket error or timeout" either way; the clock
           tells which: it failed once the socket timeout had run out. */
        int timed_out = c && c->deadline_us &&
                        bson_get_monotonic_time() >= c->deadline_us - 50 * 1000;
        if (!strstr(e->message, "socket error or timeout"))
            timed_out |= has_text(e->message, "timeout") || has_text(e->message, "timed out");
        if (in_query && timed_out)
            return rg_adapter_fail(err, RG_ERR_TIMEOUT, "%s: no answer from MongoDB within the time "
                           "budget (%s)", what, e->message);
        return rg_adapter_fail(err, RG_ERR_UNAVAILABLE, "%s: connection to MongoDB failed: %s", what,
                       e->message);
    }
    return rg_adapter_fail(err, RG_ERR_UPSTREAM, "%s: %s (domain %u, code %u)", what, e->message,
                   e->domain, e->code);
}

/*
 * (Re)build the client so that no socket read or write waits longer than
 * `socket_timeout` ms. libmongoc 1.x fixes socketTimeoutMS per client (from
 * the URI), while the budget comes with each plan; a source's budget is the
 * same for every query, so this happens once per connection in practice.
 * The new client connects lazily, on its first command.
 */
static rg_status make_client(mongo_conn *c, int32_t socket_timeout, rg_error *err)
{
    if (c->uri_socket_timeout > 0 && c->uri_socket_timeout < socket_timeout)
        socket_timeout = c->uri_socket_timeout;
    if (c->client && c->socket_timeout == socket_timeout)
        return RG_OK;
    if (c->client) {
        mongoc_client_destroy(c->client);
        c->client = NULL;
    }
    if (!mongoc_uri_set_option_as_int32(c->uri, MONGOC_URI_SOCKETTIMEOUTMS, socket_timeout))
        return rg_adapter_fail(err, RG_ERR_CONFIG, "cannot set the socket timeout on 'uri'");
    bson_error_t e;
    c->client = mongoc_client_new_from_uri_with_error(c->uri, &e);
    if (!c->client)
        /* A valid URI that cannot become a client: a mongodb+srv:// name that
           does not resolve, or TLS files that cannot be read. */
        return rg_adapter_fail(err, RG_ERR_UNAVAILABLE, "cannot create the MongoDB client: %s",
                       e.message);
    /* Version 2 reports server errors in MONGOC_ERROR_SERVER with the
       server's own code, and server selection in its own domain. */
    if (!mongoc_client_set_error_api(c->client, MONGOC_ERROR_API_VERSION_2)) {
        mongoc_client_destroy(c->client);
        c->client = NULL;
        return rg_adapter_fail(err, RG_ERR_INTERNAL, "cannot select the driver's error API");
    }
    mongoc_client_set_read_prefs(c->client, c->read_prefs);
    c->socket_timeout = socket_timeout;
    return RG_OK;
}

/* The socket timeout for a budget: the server's maxTimeMS should fire first
   (a clean error, and the connection survives), so allow a grace period. */
static int32_t socket_timeout_for(unsigned long budget_ms)
{
    unsigned long ms = budget_ms + CLIENT_GRACE_MS;
    return ms > INT32_MAX ? INT32_MAX : (int32_t)ms;
}

static void start_deadline(mongo_conn *c)
{
    c->deadline_us = bson_get_monotonic_time() + (int64_t)c->socket_timeout * 1000;
}

static rg_status ping_conn(mongo_conn *c, uint32_t budget_ms, int in_query, rg_error *err)
{
    bson_t cmd = BSON_INITIALIZER, reply;
    bson_error_t e;
    bool ok = BSON_APPEND_INT32(&cmd, "ping", 1) &&
              BSON_APPEND_INT64(&cmd, "maxTimeMS", (int64_t)budget_ms);
    if (!ok) {
        bson_destroy(&cmd);
        return rg_adapter_fail(err, RG_ERR_INTERNAL, "cannot build the ping command");
    }
    start_deadline(c);
    ok = mongoc_client_command_simple(c->client, "admin", &cmd, c->read_prefs, &reply, &e);
    rg_status st = ok ? RG_OK : map_error(c, &e, &reply, "ping failed", in_query, err);
    c->deadline_us = 0;
    bson_destroy(&reply);
    bson_destroy(&cmd);
    return st;
}

/* min(what the URI says, limit) for a timeout option; unset counts as above. */
static int cap_uri_timeout(mongoc_uri_t *uri, const char *option, int32_t limit)
{
    int32_t v = mongoc_uri_get_option_as_int32(uri, option, 0);
    if (v > 0 && v <= limit)
        return 1;
    return mongoc_uri_set_option_as_int32(uri, option, limit);
}

static rg_status connect_(const rg_source_info *src, void **out, rg_error *err)
{
    *out = NULL;
    mongo_options o;
    rg_status st = parse_options(src, &o, err);
    if (st != RG_OK)
        return st;
    if (!strncmp(o.uri, "enc:", 4))
        return rg_adapter_fail(err, RG_ERR_CONFIG, "option 'uri' is still encrypted");
    pthread_once(&init_once, init_driver);

    mongo_conn *c = calloc(1, sizeof *c);
    if (!c)
        return rg_adapter_fail(err, RG_ERR_INTERNAL, "out of memory");
    bson_error_t e;
    c->uri = mongoc_uri_new_with_error(o.uri, &e);
    if (!c->uri) {
        close_conn(c);
        return rg_adapter_fail(err, RG_ERR_CONFIG, "option 'uri' is not a valid MongoDB connection string");
    }
    /* The host's connect budget bounds both the TCP/TLS connect and server
       selection, so an unreachable server fails within it. */
    int32_t ct = src->connect_timeout_ms == 0 ? 2000
                 : src->connect_timeout_ms > INT32_MAX ? INT32_MAX
                                                       : (int32_t)src->connect_timeout_ms;
    if (!cap_uri_timeout(c->uri, MONGOC_URI_CONNECTTIMEOUTMS, ct) ||
        !cap_uri_timeout(c->uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, ct) ||
        (!mongoc_uri_get_appname(c->uri) && !mongoc_uri_set_appname(c->uri, "readgate"))) {
        close_conn(c);
        return rg_adapter_fail(err, RG_ERR_CONFIG, "cannot apply the connection timeouts to 'uri'");
    }
    /* A retried read starts the clock again: after a socket timeout the
       budget is already spent. The gateway reconnects and the next query
       tries afresh, so no retry unless the URI asks for it. */
    if (!mongoc_uri_has_option(c->uri, MONGOC_URI_RETRYREADS) &&
        !mongoc_uri_set_option_as_bool(c->uri, MONGOC_URI_RETRYREADS, false)) {
        close_conn(c);
        return rg_adapter_fail(err, RG_ERR_CONFIG, "cannot set retryReads on 'uri'");
    }
    c->uri_socket_timeout = mongoc_uri_get_option_as_int32(c->uri, MONGOC_URI_SOCKETTIMEOUTMS, 0);
    c->allow_dotted = o.allow_dotted;
    c->max_time_ms = o.max_time_ms;
    c->database = strdup(o.database);
    /* The URI's read preference (tags, maxStalenessSeconds) with the mode
       from the option, if given. */
    c->read_prefs = mongoc_read_prefs_copy(mongoc_uri_get_read_prefs_t(c->uri));
    if (!c->database || !c->read_prefs) {
        close_conn(c);
        return rg_adapter_fail(err, RG_ERR_INTERNAL, "out of memory");
    }
    if (o.read_preference)
        mongoc_read_prefs_set_mode(c->read_prefs, o.read_mode);
    if (!mongoc_read_prefs_is_valid(c->read_prefs)) {
        close_conn(c);
        return rg_adapter_fail(err, RG_ERR_CONFIG,
                       "the read preference is not valid (tags or maxStalenessSeconds in 'uri' "
                       "need a mode other than primary)");
    }
    st = make_client(c, socket_timeout_for((unsigned long)ct), err);
    if (st != RG_OK) {
        close_conn(c);
        return st;
    }

    /* The client connects lazily: ping so an unreachable server or bad
       credentials show up here, within the connect budget. */
    st = ping_conn(c, (uint32_t)ct, 0, err);
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

static rg_status ping_(void *conn, rg_error *err)
{
    mongo_conn *c = conn;
    return ping_conn(c, c->max_time_ms ? (uint32_t)c->max_time_ms : 5000, 1, err);
}

/* ---- plan to pipeline ------------------------------------------------------ */

/* Builds BSON; after the first failure everything is a no-op and `st` says why. */
typedef struct builder {
    const rg_query_plan *plan;
    const rg_collection_desc *coll;
    rg_error *err;
    rg_status st;
} builder;

static void fail(builder *b, rg_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(builder *b, rg_status st, const char *fmt, ...)
{
    if (b->st != RG_OK)
        return;
    b->st = st;
    b->err->status = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->err->message, sizeof b->err->message, fmt, ap);
    va_end(ap);
}

/* bson_append_* fail only when a document would exceed the BSON size limit. */
static void check(builder *b, bool ok)
{
    if (!ok)
        fail(b, RG_ERR_CONFIG, "query too large for one BSON document");
}

static const char *column_of(const rg_field_desc *f)
{
    return f->column ? f->column : f->name;
}

/*
 * Whether `name` may be used as a document field. '$' at the start of a name
 * (or of a path segment) would turn it into an operator; '.' makes it a path
 * into embedded documents, allowed only when the source says so.
 */
static const char *field_name_problem(const char *name, int allow_dotted)
{
    if (!name || !*name)
        return "is empty";
    if (!strncmp(name, RESERVED_PREFIX, strlen(RESERVED_PREFIX)))
        return "starts with " RESERVED_PREFIX ", which the adapter reserves for sort keys";
    if (name[0] == '$')
        return "starts with '$'";
    if (strchr(name, '.')) {
        if (!allow_dotted)
            return "contains '.' (set allow_dotted_fields: true to read embedded fields)";
        /* every segment of the path non-empty and not an operator */
        for (const char *seg = name;;) {
            const char *dot = strchr(seg, '.');
            size_t n = dot ? (size_t)(dot - seg) : strlen(seg);
            if (n == 0 || seg[0] == '$')
                return "has an empty path segment or one starting with '$'";
            if (!dot)
                break;
            seg = dot + 1;
        }
    }
    return NULL;
}

/* The collection description comes from the site config; refuse names that
   could change the meaning of the query. */
static rg_status check_collection(const mongo_conn *c, const rg_collection_desc *coll,
                                  rg_error *err)
{
    const char *t = coll->target;
    if (!t || !*t)
        return rg_adapter_fail(err, RG_ERR_CONFIG, "collection '%s' has no target collection",
                       coll->name ? coll->name : "");
    if (strchr(t, '$') || !strncmp(t, "system.", 7) || strlen(t) > 255)
        return rg_adapter_fail(err, RG_ERR_CONFIG,
                       "target '%s' of collection '%s' is not a readable MongoDB collection name "
                       "(no '$', not system.*)",
                       t, coll->name ? coll->name : "");
    if (coll->key_field >= coll->nfields)
        return rg_adapter_fail(err, RG_ERR_CONFIG, "collection key index out of range");
    for (size_t i = 0; i < coll->nfields; i++) {
        const char *col = column_of(&coll->fields[i]);
        const char *why = field_name_problem(col, c->allow_dotted);
        if (why)
            return rg_adapter_fail(err, RG_ERR_CONFIG, "column '%s' of field '%s' %s", col ? col : "",
                           coll->fields[i].name ? coll->fields[i].name : "", why);
    }
    return RG_OK;
}

static int field_ok(builder *b, size_t field)
{
    if (field >= b->coll->nfields) {
        fail(b, RG_ERR_CONFIG, "plan refers to a field index out of range");
        return 0;
    }
    return 1;
}

/* ---- datetimes ---- */

static int digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/*
 * "YYYY-MM-DDTHH:MM:SS[.f…]Z" (the gateway's canonical UTC form) to
 * milliseconds since the epoch; *sub_ms is set when the fraction goes below a
 * millisecond, which a BSON date cannot hold. 0, or -1 if malformed.
 */
static int parse_datetime(const char *s, size_t len, int64_t *ms, int *sub_ms)
{
    int Y, M, D, h, m, sec;
    if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
        s[13] != ':' || s[16] != ':' || digits(s, 4, &Y) || digits(s + 5, 2, &M) ||
        digits(s + 8, 2, &D) || digits(s + 11, 2, &h) || digits(s + 14, 2, &m) ||
        digits(s + 17, 2, &sec))
        return -1;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return -1;
    size_t i = 19;
    int frac_ms = 0;
    *sub_ms = 0;
    if (s[i] == '.') {
        size_t nd = 0;
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, nd++) {
            if (nd < 3)
                frac_ms = frac_ms * 10 + (s[i] - '0');
            else if (s[i] != '0')
                *sub_ms = 1;
        }
        if (nd == 0)
            return -1;
        for (; nd < 3; nd++)
            frac_ms *= 10;
    }
    if (i + 1 != len || (s[i] != 'Z' && s[i] != 'z'))
        return -1;
    struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D,
                    .tm_hour = h, .tm_min = m, .tm_sec = sec};
    time_t t = timegm(&tm);
    *ms = (int64_t)t * 1000 + frac_ms;
    return 0;
}

/* Milliseconds since the epoch to "YYYY-MM-DDTHH:MM:SS[.ffffff]Z"; 0 if the
   year is outside 0000-9999. */
static size_t format_datetime(int64_t ms, char *out, size_t outsz)
{
    int64_t secs = ms / 1000, frac = ms % 1000;
    if (frac < 0) {
        frac += 1000;
        secs -= 1;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
        return 0;
    int n;
    if (frac)
        n = snprintf(out, outsz, "%04d-%02d-%02dT%02d:%02d:%02d.%03d000Z", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
    else
        n = snprintf(out, outsz, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return n > 0 && (size_t)n < outsz ? (size_t)n : 0;
}

/* ---- values ---- */

/*
 * A filter or keyset value as BSON, typed by the value itself: int64, double,
 * bool, UTF-8 string, or a BSON date for datetimes (whole milliseconds;
 * append_cmp adjusts operators for finer values).
 */
static void append_value(builder *b, bson_t *doc, const char *key, const rg_value *v)
{
    if (b->st != RG_OK)
        return;
    if (v->is_null) {
        fail(b, RG_ERR_CONFIG, "NULL value in a comparison");
        return;
    }
    switch (v->type) {
    case RG_TYPE_INTEGER:
        check(b, bson_append_int64(doc, key, -1, v->u.i));
        break;
    case RG_TYPE_NUMBER:
        check(b, bson_append_double(doc, key, -1, v->u.n));
        break;
    case RG_TYPE_BOOLEAN:
        check(b, bson_append_bool(doc, key, -1, v->u.b != 0));
        break;
    case RG_TYPE_DATETIME: {
        int64_t ms;
        int sub;
        if (parse_datetime(v->u.str.ptr, v->u.str.len, &ms, &sub) != 0) {
            fail(b, RG_ERR_CONFIG, "datetime value is not in the form YYYY-MM-DDTHH:MM:SS[.f]Z");
            return;
        }
        check(b, bson_append_date_time(doc, key, -1, ms));
        break;
    }
    case RG_TYPE_STRING:
    case RG_TYPE_ENUM:
    case RG_TYPE_DATE:
        if (!v->u.str.ptr || v->u.str.len > INT_MAX) {
            fail(b, RG_ERR_CONFIG, "string value missing or too long");
            return;
        }
        check(b, bson_append_utf8(doc, key, -1, v->u.str.ptr, (int)v->u.str.len));
        break;
    default:
        fail(b, RG_ERR_CONFIG, "value of unknown type %d", (int)v->type);
        break;
    }
}

/*
 * Opening and closing embedded documents and arrays. A child that could not
 * be opened (the builder has failed) is neither filled nor closed; one that
 * was opened is always closed, whatever happens inside, so the parent stays
 * well-formed until it is destroyed.
 */
static int open_doc(builder *b, bson_t *parent, const char *key, bson_t *child)
{
    if (b->st != RG_OK)
        return 0;
    if (!bson_append_document_begin(parent, key, -1, child)) {
        check(b, false);
        return 0;
    }
    return 1;
}

static int open_array(builder *b, bson_t *parent, const char *key, bson_t *child)
{
    if (b->st != RG_OK)
        return 0;
    if (!bson_append_array_begin(parent, key, -1, child)) {
        check(b, false);
        return 0;
    }
    return 1;
}

static void close_doc(builder *b, bson_t *parent, bson_t *child)
{
    check(b, bson_append_document_end(parent, child));
}

static void close_array(builder *b, bson_t *parent, bson_t *child)
{
    check(b, bson_append_array_end(parent, child));
}

/* Array keys: "0", "1", ... */
typedef struct idx_key {
    char buf[16];
    const char *str;
} idx_key;

static const char *index_key(idx_key *k, uint32_t i)
{
    bson_uint32_to_string(i, &k->str, k->buf, sizeof k->buf);
    return k->str;
}

/* A condition that no document satisfies ({_id: {$in: []}}), for plans that
   can match nothing. */
static void append_nothing(builder *b, bson_t *cond)
{
    bson_t op, arr;
    if (open_doc(b, cond, "_id", &op)) {
        if (open_array(b, &op, "$in", &arr))
            close_array(b, &op, &arr);
        close_doc(b, cond, &op);
    }
}

/* {column: {op: value}} */
static void append_op(builder *b, bson_t *cond, size_t field, const char *op, const rg_value *v)
{
    bson_t sub;
    if (open_doc(b, cond, column_of(&b->coll->fields[field]), &sub)) {
        append_value(b, &sub, op, v);
        close_doc(b, cond, &sub);
    }
}

/* {column: {op: date}} */
static void append_op_date(builder *b, bson_t *cond, size_t field, const char *op, int64_t ms)
{
    bson_t sub;
    if (open_doc(b, cond, column_of(&b->coll->fields[field]), &sub)) {
        check(b, bson_append_date_time(&sub, op, -1, ms));
        close_doc(b, cond, &sub);
    }
}

/* {column: null} (NULL or missing), or {column: {$ne: null}} (neither). */
static void append_is_null(builder *b, bson_t *cond, size_t field, int negate)
{
    bson_t sub;
    if (open_doc(b, cond, column_of(&b->coll->fields[field]), &sub)) {
        check(b, bson_append_null(&sub, negate ? "$ne" : "$eq", 3));
        close_doc(b, cond, &sub);
    }
}

/*
 * {column: {op: value}} for eq/ne/lt/lte/gt/gte into the (empty) document
 * `cond`. A datetime finer than a millisecond cannot equal any BSON date, so
 * its comparisons are rewritten on whole milliseconds: x >= 1.5 is x > 1,
 * x < 1.5 is x <= 1, x = 1.5 is nothing, x <> 1.5 is any non-NULL value.
 */
static void append_cmp(builder *b, bson_t *cond, size_t field, rg_op op, const rg_value *v)
{
    static const char *const ops[] = {
        [RG_OP_EQ] = "$eq", [RG_OP_NE] = "$ne", [RG_OP_LT] = "$lt",
        [RG_OP_LTE] = "$lte", [RG_OP_GT] = "$gt", [RG_OP_GTE] = "$gte",
    };
    if (b->st != RG_OK)
        return;
    if (op < RG_OP_EQ || op > RG_OP_GTE) {
        fail(b, RG_ERR_CONFIG, "unsupported comparison");
        return;
    }
    if (v->type == RG_TYPE_DATETIME && !v->is_null) {
        int64_t ms;
        int sub;
        if (parse_datetime(v->u.str.ptr, v->u.str.len, &ms, &sub) != 0) {
            fail(b, RG_ERR_CONFIG, "datetime value is not in the form YYYY-MM-DDTHH:MM:SS[.f]Z");
            return;
        }
        if (sub) {
            switch (op) {
            case RG_OP_EQ: append_nothing(b, cond); break;
            case RG_OP_NE: append_is_null(b, cond, field, 1); break;
            case RG_OP_GT: case RG_OP_GTE: append_op_date(b, cond, field, "$gt", ms); break;
            default: append_op_date(b, cond, field, "$lte", ms); break; /* LT, LTE */
            }
            return;
        }
    }
    if (op == RG_OP_NE) {
        /* SQL semantics: NULL/missing never matches, `ne` included; plain
           $ne would match them. {column: {$nin: [value, null]}} */
        bson_t sub, arr;
        if (open_doc(b, cond, column_of(&b->coll->fields[field]), &sub)) {
            if (open_array(b, &sub, "$nin", &arr)) {
                append_value(b, &arr, "0", v);
                check(b, bson_append_null(&arr, "1", 1));
                close_array(b, &sub, &arr);
            }
            close_doc(b, cond, &sub);
        }
        return;
    }
    append_op(b, cond, field, ops[op], v);
}

/*
 * The pattern that matches `s` literally: every regex metacharacter escaped
 * with a backslash (literal in PCRE and in JavaScript regexes alike), and
 * space and control characters as \xHH so the pattern stays literal even
 * under an extended-syntax flag. Bytes >= 0x80 (UTF-8) are copied.
 */
static char *regex_literal(const char *s, size_t len, int anchored)
{
    if (len > (SIZE_MAX - 2) / 4)
        return NULL;
    char *out = malloc(len * 4 + 2);
    if (!out)
        return NULL;
    size_t o = 0;
    if (anchored)
        out[o++] = '^';
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= 0x20 || ch == 0x7f) {
            static const char hex[] = "0123456789ABCDEF";
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        } else {
            if (strchr("\\^$.|?*+()[]{}-#", ch))
                out[o++] = '\\';
            out[o++] = (char)ch;
        }
    }
    out[o] = '\0';
    return out;
}

/* {column: {$regex: pattern, $options: "i"}}: case-insensitive, so ASCII
   letters fold (other letters may fold too, depending on the server). */
static void append_regex(builder *b, bson_t *cond, size_t field, const char *s, size_t len,
                         int anchored)
{
    if (b->st != RG_OK)
        return;
    char *pat = regex_literal(s, len, anchored);
    if (!pat) {
        fail(b, RG_ERR_INTERNAL, "out of memory");
        return;
    }
    bson_t sub;
    if (open_doc(b, cond, column_of(&b->coll->fields[field]), &sub)) {
        check(b, bson_append_utf8(&sub, "$regex", 6, pat, -1));
        check(b, bson_append_utf8(&sub, "$options", 8, "i", 1));
        close_doc(b, cond, &sub);
    }
    free(pat);
}

static int is_text_type(rg_type t)
{
    return t == RG_TYPE_STRING || t == RG_TYPE_ENUM || t == RG_TYPE_DATE || t == RG_TYPE_DATETIME;
}

static void append_filter(builder *b, bson_t *cond, const rg_filter *f)
{
    if (!field_ok(b, f->field))
        return;
    size_t want = f->op == RG_OP_BETWEEN ? 2 : 1;
    if (!f->values || (f->op == RG_OP_IN ? f->nvalues == 0 : f->nvalues != want)) {
        fail(b, RG_ERR_CONFIG, "filter has the wrong number of values");
        return;
    }
    switch (f->op) {
    case RG_OP_EQ:
    case RG_OP_NE:
    case RG_OP_LT:
    case RG_OP_LTE:
    case RG_OP_GT:
    case RG_OP_GTE:
        append_cmp(b, cond, f->field, f->op, &f->values[0]);
        break;
    case RG_OP_BETWEEN: {
        /* Two conditions on one field: an $and keeps them apart. */
        bson_t and, c;
        if (open_array(b, cond, "$and", &and)) {
            if (open_doc(b, &and, "0", &c)) {
                append_cmp(b, &c, f->field, RG_OP_GTE, &f->values[0]);
                close_doc(b, &and, &c);
            }
            if (open_doc(b, &and, "1", &c)) {
                append_cmp(b, &c, f->field, RG_OP_LTE, &f->values[1]);
                close_doc(b, &and, &c);
            }
            close_array(b, cond, &and);
        }
        break;
    }
    case RG_OP_IN: {
        bson_t sub, arr;
        uint32_t n = 0;
        if (!open_doc(b, cond, column_of(&b->coll->fields[f->field]), &sub))
            break;
        if (open_array(b, &sub, "$in", &arr)) {
            for (size_t i = 0; i < f->nvalues && b->st == RG_OK; i++) {
                const rg_value *v = &f->values[i];
                if (v->type == RG_TYPE_DATETIME && !v->is_null) {
                    int64_t ms;
                    int subms;
                    if (parse_datetime(v->u.str.ptr, v->u.str.len, &ms, &subms) != 0) {
                        fail(b, RG_ERR_CONFIG,
                             "datetime value is not in the form YYYY-MM-DDTHH:MM:SS[.f]Z");
                        break;
                    }
                    if (subms)
                        continue; /* equals no BSON date */
                }
                idx_key k;
                append_value(b, &arr, index_key(&k, n++), v);
            }
            close_array(b, &sub, &arr);
        }
        close_doc(b, cond, &sub);
        break;
    }
    case RG_OP_PREFIX:
    case RG_OP_CONTAINS: {
        const rg_value *v = &f->values[0];
        if (v->is_null || !is_text_type(v->type) || !v->u.str.ptr) {
            fail(b, RG_ERR_CONFIG, "prefix/contains need a string value");
            return;
        }
        append_regex(b, cond, f->field, v->u.str.ptr, v->u.str.len, f->op == RG_OP_PREFIX);
        break;
    }
    default:
        fail(b, RG_ERR_CONFIG, "unsupported filter operator %d", (int)f->op);
        break;
    }
}

/* Every word must occur in at least one searchable field:
   {$or: [{field1: regex}, {field2: regex}, ...]} */
static void append_search(builder *b, bson_t *cond, const char *word)
{
    if (!word) {
        fail(b, RG_ERR_CONFIG, "search word missing");
        return;
    }
    if (b->plan->nsearch_fields == 0 || !b->plan->search_fields) {
        append_nothing(b, cond);
        return;
    }
    bson_t or, alt;
    if (!open_array(b, cond, "$or", &or))
        return;
    for (size_t i = 0; i < b->plan->nsearch_fields && b->st == RG_OK; i++) {
        size_t field = b->plan->search_fields[i];
        idx_key k;
        if (field_ok(b, field) && open_doc(b, &or, index_key(&k, (uint32_t)i), &alt)) {
            append_regex(b, &alt, field, word, strlen(word), 0);
            close_doc(b, &or, &alt);
        }
    }
    close_array(b, cond, &or);
}

/* Term j of keyset clause i (see append_after). */
static void append_after_term(builder *b, bson_t *term, size_t i, size_t j)
{
    const rg_sort_key *k = &b->plan->sort[j];
    const rg_value *a = &b->plan->after[j];
    if (j < i) {
        /* an earlier key: equal to the position's value */
        if (a->is_null)
            append_is_null(b, term, k->field, 0);
        else
            append_cmp(b, term, k->field, RG_OP_EQ, a);
    } else if (!k->desc) {
        /* after a value ascending: greater values, then the NULLs */
        bson_t alts, alt;
        if (open_array(b, term, "$or", &alts)) {
            if (open_doc(b, &alts, "0", &alt)) {
                append_cmp(b, &alt, k->field, RG_OP_GT, a);
                close_doc(b, &alts, &alt);
            }
            if (open_doc(b, &alts, "1", &alt)) {
                append_is_null(b, &alt, k->field, 0);
                close_doc(b, &alts, &alt);
            }
            close_array(b, term, &alts);
        }
    } else if (a->is_null) {
        /* after a NULL descending: every value */
        append_is_null(b, term, k->field, 1);
    } else {
        append_cmp(b, term, k->field, RG_OP_LT, a);
    }
}

/*
 * Rows strictly after `after` in the plan's order (NULLs last ascending,
 * first descending), as $or over i of ($and of: keys before i equal, key i
 * after), the same shape as the SQL adapters' keyset condition.
 */
static void append_after(builder *b, bson_t *cond)
{
    const rg_query_plan *p = b->plan;
    for (size_t i = 0; i < p->nsort; i++)
        if (!field_ok(b, p->sort[i].field))
            return;
    bson_t or, clause, and, term;
    uint32_t nclauses = 0;
    if (!open_array(b, cond, "$or", &or))
        return;
    for (size_t i = 0; i < p->nsort && b->st == RG_OK; i++) {
        /* Ascending with NULLs last: nothing sorts after a NULL. */
        if (!p->sort[i].desc && p->after[i].is_null)
            continue;
        idx_key k;
        if (!open_doc(b, &or, index_key(&k, nclauses++), &clause))
            break;
        if (open_array(b, &clause, "$and", &and)) {
            for (size_t j = 0; j <= i && b->st == RG_OK; j++) {
                idx_key tk;
                if (open_doc(b, &and, index_key(&tk, (uint32_t)j), &term)) {
                    append_after_term(b, &term, i, j);
                    close_doc(b, &and, &term);
                }
            }
            close_array(b, &clause, &and);
        }
        close_doc(b, &or, &clause);
    }
    if (nclauses == 0 && open_doc(b, &or, "0", &clause)) {
        /* Every position was the last of its NULLs: nothing follows. */
        append_nothing(b, &clause);
        close_doc(b, &or, &clause);
    }
    close_array(b, cond, &or);
}

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
    const char *col = column_of(&p->collection->fields[p->columns[i]]);
    size_t len = strlen(col);
    for (size_t j = 0; j < p->ncolumns; j++) {
        if (j == i)
            continue;
        const char *other = column_of(&p->collection->fields[p->columns[j]]);
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
    if (open_doc(b, parent, key, &e)) {
        if (open_array(b, &e, "$ifNull", &args)) {
            check(b, bson_append_utf8(&args, "0", 1, path, -1));
            check(b, bson_append_null(&args, "1", 1));
            close_array(b, &e, &args);
        }
        close_doc(b, parent, &e);
    }
}

/* $match: filters, search words and the keyset position, AND-ed. */
static void append_match(builder *b, bson_t *stage)
{
    const rg_query_plan *p = b->plan;
    bson_t body, and, cond;
    uint32_t n = 0;
    idx_key k;
    if (!open_doc(b, stage, "$match", &body))
        return;
    if (open_array(b, &body, "$and", &and)) {
        for (size_t i = 0; i < p->nfilters && b->st == RG_OK; i++) {
            if (open_doc(b, &and, index_key(&k, n++), &cond)) {
                append_filter(b, &cond, &p->filters[i]);
                close_doc(b, &and, &cond);
            }
        }
        for (size_t i = 0; i < p->nsearch_words && b->st == RG_OK; i++) {
            if (open_doc(b, &and, index_key(&k, n++), &cond)) {
                append_search(b, &cond, p->search_words ? p->search_words[i] : NULL);
                close_doc(b, &and, &cond);
            }
        }
        if (p->after && p->nsort && open_doc(b, &and, index_key(&k, n++), &cond)) {
            append_after(b, &cond);
            close_doc(b, &and, &cond);
        }
        close_array(b, &body, &and);
    }
    close_doc(b, stage, &body);
}

/* $addFields: per sort key i, __rg_sorti = the value with missing made null
   (so missing and NULL tie, as SQL's NULLs do) and __rg_nulli = 1 when it is
   NULL, else 0: {$cond: [{$eq: [{$ifNull: ["$col", null]}, null]}, 1, 0]}. */
static void append_sort_fields(builder *b, bson_t *stage)
{
    const rg_query_plan *p = b->plan;
    bson_t body, e_cond, c_args, e_eq, eq_args;
    if (!open_doc(b, stage, "$addFields", &body))
        return;
    for (size_t i = 0; i < p->nsort && b->st == RG_OK; i++) {
        if (!field_ok(b, p->sort[i].field))
            break;
        const char *col = column_of(&b->coll->fields[p->sort[i].field]);
        char path[1024], flag[32], value[32];
        if ((size_t)snprintf(path, sizeof path, "$%s", col) >= sizeof path) {
            fail(b, RG_ERR_CONFIG, "column name too long");
            break;
        }
        sort_key_names(i, flag, value, sizeof flag);
        append_if_null(b, &body, value, path);
        if (!open_doc(b, &body, flag, &e_cond))
            break;
        if (open_array(b, &e_cond, "$cond", &c_args)) {
            if (open_doc(b, &c_args, "0", &e_eq)) {
                if (open_array(b, &e_eq, "$eq", &eq_args)) {
                    append_if_null(b, &eq_args, "0", path);
                    check(b, bson_append_null(&eq_args, "1", 1));
                    close_array(b, &e_eq, &eq_args);
                }
                close_doc(b, &c_args, &e_eq);
            }
            check(b, bson_append_int32(&c_args, "1", 1, 1));
            check(b, bson_append_int32(&c_args, "2", 1, 0));
            close_array(b, &e_cond, &c_args);
        }
        close_doc(b, &body, &e_cond);
    }
    close_doc(b, stage, &body);
}

/* $sort: flag then value per key. Ascending puts flag 0 (values) before 1
   (NULLs); descending the reverse: NULLs first. */
static void append_sort(builder *b, bson_t *stage)
{
    const rg_query_plan *p = b->plan;
    bson_t body;
    if (!open_doc(b, stage, "$sort", &body))
        return;
    for (size_t i = 0; i < p->nsort && b->st == RG_OK; i++) {
        char flag[32], value[32];
        sort_key_names(i, flag, value, sizeof flag);
        int dir = p->sort[i].desc ? -1 : 1;
        check(b, bson_append_int32(&body, flag, -1, dir));
        check(b, bson_append_int32(&body, value, -1, dir));
    }
    close_doc(b, stage, &body);
}

/* $project: the requested columns only (and _id only if requested). */
static void append_project(builder *b, bson_t *stage)
{
    const rg_query_plan *p = b->plan;
    bson_t body;
    int want_id = 0;
    if (!open_doc(b, stage, "$project", &body))
        return;
    for (size_t i = 0; i < p->ncolumns && b->st == RG_OK; i++) {
        if (!field_ok(b, p->columns[i]))
            break;
        const char *col = column_of(&b->coll->fields[p->columns[i]]);
        if (!strcmp(col, "_id"))
            want_id = 1;
        if (!column_covered(p, i))
            check(b, bson_append_int32(&body, col, -1, 1));
    }
    if (!want_id)
        check(b, bson_append_int32(&body, "_id", 3, 0));
    close_doc(b, stage, &body);
}

static void build_pipeline(builder *b, bson_t *pipeline)
{
    const rg_query_plan *p = b->plan;
    uint32_t nstage = 0;
    idx_key k;
    bson_t stage;

    if (p->nfilters || p->nsearch_words || (p->after && p->nsort)) {
        if (open_doc(b, pipeline, index_key(&k, nstage++), &stage)) {
            append_match(b, &stage);
            close_doc(b, pipeline, &stage);
        }
    }
    if (p->nsort) {
        if (open_doc(b, pipeline, index_key(&k, nstage++), &stage)) {
            append_sort_fields(b, &stage);
            close_doc(b, pipeline, &stage);
        }
        if (open_doc(b, pipeline, index_key(&k, nstage++), &stage)) {
            append_sort(b, &stage);
            close_doc(b, pipeline, &stage);
        }
    }
    if (open_doc(b, pipeline, index_key(&k, nstage++), &stage)) {
        check(b, bson_append_int64(&stage, "$limit", 6,
                                   p->limit > (size_t)INT64_MAX ? INT64_MAX : (int64_t)p->limit));
        close_doc(b, pipeline, &stage);
    }
    if (open_doc(b, pipeline, index_key(&k, nstage++), &stage)) {
        append_project(b, &stage);
        close_doc(b, pipeline, &stage);
    }
}

/* ---- rows ------------------------------------------------------------------ */

static const char *type_name(rg_type t)
{
    switch (t) {
    case RG_TYPE_INTEGER: return "integer";
    case RG_TYPE_NUMBER: return "number";
    case RG_TYPE_BOOLEAN: return "boolean";
    case RG_TYPE_DATE: return "date ('YYYY-MM-DD' string)";
    case RG_TYPE_DATETIME: return "datetime (BSON date)";
    case RG_TYPE_ENUM: return "enum (string)";
    default: return "string";
    }
}

#define DT_SCRATCH 40

/* 2^63 as a double: the first value past int64's range. */
#define TWO_POW_63 9223372036854775808.0

/* The document's value for one column as a value of the field's type; -1
   when it holds something else. */
static int read_value(const bson_t *doc, const char *col, int dotted, rg_type type, rg_value *v,
                      char *dt, size_t dtsz)
{
    memset(v, 0, sizeof *v);
    v->type = type;
    bson_iter_t it, child;
    const bson_iter_t *at = NULL;
    if (dotted && strchr(col, '.')) {
        if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, col, &child))
            at = &child;
    } else if (bson_iter_init_find_w_len(&it, doc, col, -1)) {
        at = &it;
    }
    if (!at || BSON_ITER_HOLDS_NULL(at) || BSON_ITER_HOLDS_UNDEFINED(at)) {
        v->is_null = 1;
        return 0;
    }
    switch (type) {
    case RG_TYPE_INTEGER:
        if (BSON_ITER_HOLDS_INT32(at)) {
            v->u.i = bson_iter_int32(at);
        } else if (BSON_ITER_HOLDS_INT64(at)) {
            v->u.i = bson_iter_int64(at);
        } else if (BSON_ITER_HOLDS_DOUBLE(at)) {
            double d = bson_iter_double(at);
            /* an integral double in range, as the mongo shell stores numbers */
            if (!(d >= -TWO_POW_63 && d < TWO_POW_63) || d != (double)(int64_t)d)
                return -1;
            v->u.i = (int64_t)d;
        } else {
            return -1;
        }
        return 0;
    case RG_TYPE_NUMBER:
        if (BSON_ITER_HOLDS_DOUBLE(at))
            v->u.n = bson_iter_double(at);
        else if (BSON_ITER_HOLDS_INT32(at))
            v->u.n = bson_iter_int32(at);
        else if (BSON_ITER_HOLDS_INT64(at))
            v->u.n = (double)bson_iter_int64(at);
        else
            return -1;
        return 0;
    case RG_TYPE_BOOLEAN:
        if (!BSON_ITER_HOLDS_BOOL(at))
            return -1;
        v->u.b = bson_iter_bool(at) ? 1 : 0;
        return 0;
    case RG_TYPE_DATETIME: {
        if (!BSON_ITER_HOLDS_DATE_TIME(at))
            return -1;
        size_t n = format_datetime(bson_iter_date_time(at), dt, dtsz);
        if (!n)
            return -1;
        v->u.str.ptr = dt;
        v->u.str.len = n;
        return 0;
    }
    default: {
        if (!BSON_ITER_HOLDS_UTF8(at))
            return -1;
        uint32_t len;
        const char *s = bson_iter_utf8(at, &len);
        /* BSON strings are meant to be UTF-8, but not every writer checks. */
        if (!bson_utf8_validate(s, len, false))
            return -1;
        v->u.str.ptr = s;
        v->u.str.len = len;
        return 0;
    }
    }
}

static rg_status send_rows(mongo_conn *c, mongoc_cursor_t *cursor, const rg_query_plan *plan,
                           const rg_row_sink *sink, rg_error *err)
{
    rg_value *vals = calloc(plan->ncolumns, sizeof *vals);
    char *dt = malloc(plan->ncolumns * DT_SCRATCH);
    if (!vals || !dt) {
        free(vals);
        free(dt);
        return rg_adapter_fail(err, RG_ERR_INTERNAL, "out of memory");
    }
    rg_status st = RG_OK;
    const bson_t *doc;
    while (st == RG_OK && mongoc_cursor_next(cursor, &doc)) {
        for (size_t i = 0; i < plan->ncolumns; i++) {
            const rg_field_desc *f = &plan->collection->fields[plan->columns[i]];
            const char *col = column_of(f);
            if (read_value(doc, col, c->allow_dotted, f->type, &vals[i], dt + i * DT_SCRATCH,
                           DT_SCRATCH) != 0) {
                st = rg_adapter_fail(err, RG_ERR_UPSTREAM,
                             "field '%s' holds a value that is not a %s as configured", col,
                             type_name(f->type));
                break;
            }
        }
        if (st == RG_OK && sink->row(sink->ctx, vals, plan->ncolumns) != 0)
            st = rg_adapter_fail(err, RG_ERR_ABORTED, "stopped by the gateway");
    }
    free(vals);
    free(dt);
    if (st == RG_OK) {
        bson_error_t e;
        const bson_t *reply = NULL;
        if (mongoc_cursor_error_document(cursor, &e, &reply))
            st = map_error(c, &e, reply, "query failed", 1, err);
    }
    return st;
}

/* Strings and enums are both BSON strings. */
static int same_value_type(rg_type a, rg_type b)
{
    return a == b || ((a == RG_TYPE_STRING || a == RG_TYPE_ENUM) &&
                      (b == RG_TYPE_STRING || b == RG_TYPE_ENUM));
}

/*
 * The gateway types every value as its field. A value of another type is a
 * malformed plan: refused, because MongoDB compares values of different BSON
 * types without complaint (an id equal to a string matches nothing, a string
 * after a number sorts after every number) and would answer it.
 */
static rg_status check_value_types(const rg_query_plan *plan, rg_error *err)
{
    const rg_collection_desc *coll = plan->collection;
    for (size_t i = 0; i < plan->nfilters; i++) {
        const rg_filter *f = &plan->filters[i];
        if (f->field >= coll->nfields || !f->values)
            continue; /* the builder reports it */
        for (size_t k = 0; k < f->nvalues; k++)
            if (!same_value_type(f->values[k].type, coll->fields[f->field].type))
                return rg_adapter_fail(err, RG_ERR_CONFIG,
                                       "a value for '%s' does not have the field's type",
                                       coll->fields[f->field].name);
    }
    for (size_t i = 0; plan->after && i < plan->nsort; i++) {
        size_t field = plan->sort[i].field;
        if (field < coll->nfields && !same_value_type(plan->after[i].type, coll->fields[field].type))
            return rg_adapter_fail(err, RG_ERR_CONFIG,
                                   "the 'after' value for '%s' does not have its type",
                                   coll->fields[field].name);
    }
    return RG_OK;
}

static rg_status query_(void *conn, const rg_query_plan *plan, const rg_row_sink *sink,
                        rg_error *err)
{
    mongo_conn *c = conn;
    if (!plan || plan->struct_size < sizeof(rg_query_plan) || !plan->collection ||
        plan->collection->struct_size < sizeof(rg_collection_desc))
        return rg_adapter_fail(err, RG_ERR_CONFIG, "query plan or collection description is malformed");
    if (plan->ncolumns == 0 || !plan->columns)
        return rg_adapter_fail(err, RG_ERR_CONFIG, "query plan selects no columns");
    if (plan->nsort && !plan->sort)
        return rg_adapter_fail(err, RG_ERR_CONFIG, "query plan sort keys missing");
    rg_status st = check_collection(c, plan->collection, err);
    if (st != RG_OK)
        return st;
    for (size_t i = 0; i < plan->ncolumns; i++)
        if (plan->columns[i] >= plan->collection->nfields)
            return rg_adapter_fail(err, RG_ERR_CONFIG, "plan refers to a field index out of range");
    st = check_value_types(plan, err);
    if (st != RG_OK)
        return st;
    if (plan->limit == 0)
        return RG_OK; /* $limit must be positive; nothing to read */

    builder b = {.plan = plan, .coll = plan->collection, .err = err, .st = RG_OK};
    bson_t pipeline = BSON_INITIALIZER;
    build_pipeline(&b, &pipeline);
    if (b.st != RG_OK) {
        bson_destroy(&pipeline);
        return b.st;
    }

    unsigned long budget = plan->timeout_ms;
    if (c->max_time_ms && (!budget || c->max_time_ms < budget))
        budget = c->max_time_ms;
    bson_t opts = BSON_INITIALIZER;
    bool ok = true;
    if (budget)
        ok = BSON_APPEND_INT64(&opts, "maxTimeMS", (int64_t)budget);
    /* One batch for the whole page: $limit bounds it already. */
    int64_t batch = plan->limit > 10000 ? 10000 : (int64_t)plan->limit;
    ok = ok && BSON_APPEND_INT64(&opts, "batchSize", batch);
    if (!ok) {
        bson_destroy(&opts);
        bson_destroy(&pipeline);
        return rg_adapter_fail(err, RG_ERR_INTERNAL, "cannot build the command options");
    }

    /* Without a budget, the driver's default socket timeout (or the URI's). */
    st = make_client(c, budget ? socket_timeout_for(budget) : MONGOC_DEFAULT_SOCKETTIMEOUTMS, err);
    if (st != RG_OK) {
        bson_destroy(&opts);
        bson_destroy(&pipeline);
        return st;
    }
    mongoc_collection_t *coll = mongoc_client_get_collection(c->client, c->database,
                                                             plan->collection->target);
    start_deadline(c);
    mongoc_cursor_t *cursor = mongoc_collection_aggregate(coll, MONGOC_QUERY_NONE, &pipeline,
                                                          &opts, c->read_prefs);
    st = send_rows(c, cursor, plan, sink, err);
    /* Destroying a live cursor (sink stopped early) kills it on the server. */
    mongoc_cursor_destroy(cursor);
    c->deadline_us = 0;
    mongoc_collection_destroy(coll);
    bson_destroy(&opts);
    bson_destroy(&pipeline);
    if (st != RG_OK && st != RG_ERR_ABORTED)
        logf_(RG_LOG_DEBUG, "query on '%s' failed: %s", plan->collection->name, err->message);
    return st;
}

static const rg_adapter mongo_adapter = {
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
    /* The host table is immutable and identical for every call. */
    host = h;
    return &mongo_adapter;
}
