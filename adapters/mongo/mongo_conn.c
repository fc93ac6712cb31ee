/*
 * The mongo adapter's options and connections: parsing and checking the
 * source's options, one mongoc_client_t per connection with the timeouts of
 * the plan's budget, mapping driver errors to the gateway's classes, ping.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mongo_internal.h"

#define MAX_TIME_CAP_MS 86400000UL
/* How much longer than the budget a socket read may wait (see
   rg_mg_socket_timeout_for). */
#define CLIENT_GRACE_MS 1000

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
        const rg_option *opt = rg_option_at(src->options, i);
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

rg_status rg_mg_check_options(const rg_source_info *src, rg_error *err)
{
    mongo_options o;
    return parse_options(src, &o, err);
}

/* ---- connection ------------------------------------------------------------ */

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
rg_status rg_mg_map_error(const mongo_conn *c, const bson_error_t *e, const bson_t *reply,
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
rg_status rg_mg_make_client(mongo_conn *c, int32_t socket_timeout, rg_error *err)
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
int32_t rg_mg_socket_timeout_for(unsigned long budget_ms)
{
    unsigned long ms = budget_ms + CLIENT_GRACE_MS;
    return ms > INT32_MAX ? INT32_MAX : (int32_t)ms;
}

void rg_mg_start_deadline(mongo_conn *c)
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
    rg_mg_start_deadline(c);
    ok = mongoc_client_command_simple(c->client, "admin", &cmd, c->read_prefs, &reply, &e);
    rg_status st = ok ? RG_OK : rg_mg_map_error(c, &e, &reply, "ping failed", in_query, err);
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

rg_status rg_mg_connect(const rg_source_info *src, void **out, rg_error *err)
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
    st = rg_mg_make_client(c, rg_mg_socket_timeout_for((unsigned long)ct), err);
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

void rg_mg_disconnect(void *conn)
{
    close_conn(conn);
}

rg_status rg_mg_ping(void *conn, rg_error *err)
{
    mongo_conn *c = conn;
    return ping_conn(c, c->max_time_ms ? (uint32_t)c->max_time_ms : 5000, 1, err);
}
