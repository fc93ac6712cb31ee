/*
 * The keys of readgate.yaml (docs/configuration.md, "readgate.yaml"). The
 * order of the rows is the order of the "allowed:" lists in messages, of
 * the schema's properties and of the documentation's tables.
 */
#include "config.h"
#include "keys.h"

/* host:port, the host a name, an IPv4 address or an [IPv6] address. */
#define HOSTPORT "([A-Za-z0-9.-]+|\\[[0-9A-Fa-f:.]+\\]):[0-9]{1,5}"

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};

#define LIMIT(id, name, member, lo, hi, d, text)                                                   \
    [RG_SRVK_LIMITS_##id] = {.path = "limits." name, .type = RG_KEY_INT, .min = lo, .max = hi,     \
                             .def = d, RG_KEY_STORE(rg_limits, member), .doc = text}

static const rg_key rows[] = {
    [RG_SRVK_LISTEN] = {
        .path = "listen", .type = RG_KEY_STRING, .flags = RG_KEY_NONEMPTY,
        .sdef = "127.0.0.1:8080", .pattern = "^" HOSTPORT "$",
        .doc_type = "string `host:port`",
        .doc = "Address of the public API. Host is an IPv4 address or host name; an IPv6 "
               "address goes in brackets: `\"[::1]:8080\"`. Port 1–65535."},
    [RG_SRVK_ADMIN_LISTEN] = {
        .path = "admin_listen", .type = RG_KEY_STRING,
        .sdef = "127.0.0.1:8081", .pattern = "^(|" HOSTPORT ")$",
        .doc_type = "string `host:port` or `\"\"`",
        .doc = "Address of `/healthz`, `/readyz` and `/metrics`. Keep it on loopback or a "
               "private network. `\"\"` turns the admin listener off."},
    [RG_SRVK_LOOP_THREADS] = {
        .path = "loop_threads", .type = RG_KEY_INT, .min = 0, .max = 1024, .def = 0,
        .doc = "Event-loop threads. `0` = one per CPU core."},
    [RG_SRVK_WORKERS] = {
        .path = "workers", .type = RG_KEY_INT, .min = 0, .max = 1024, .def = 0,
        .doc = "Default number of worker threads per source, each with a backend connection "
               "of its own. For an adapter with non-blocking queries (`postgres`) the queries "
               "run on the event loops instead, on connections shared out among them "
               "(`workers` divided by the loops, rounded up), and a worker connects only to "
               "answer `/readyz` or to retry a query. `0` = two per CPU core. A source can "
               "override it."},
    [RG_SRVK_SITES_DIR] = {
        .path = "sites_dir", .type = RG_KEY_STRING, .flags = RG_KEY_NONEMPTY, .sdef = "sites",
        .doc_type = "string (path)",
        .doc = "Directory of the site files. Every `*.yaml`, `*.yml` and `*.json` in it is a "
               "site file; other files and names starting with `.` are ignored."},
    [RG_SRVK_ADAPTERS_DIR] = {
        .path = "adapters_dir", .type = RG_KEY_STRING,
        .flags = RG_KEY_NONEMPTY | RG_KEY_NO_DEFAULT,
        .doc_type = "string (path)",
        .doc_default = "the installation's `lib/readgate/adapters`",
        .doc = "Where `readgate-adapter-<name>.so` files are loaded from. By default, the "
               "adapters installed with this `readgate` binary — `<prefix>/lib/readgate/adapters` "
               "for a binary in `<prefix>/bin`, so `/usr/local/lib/readgate/adapters` with the "
               "default prefix — found from the binary's own location, so that any install "
               "prefix works; a `readgate` run from a build tree uses the configured install "
               "location."},
    [RG_SRVK_KEYS] = {
        .path = "keys", .type = RG_KEY_MAP,
        .doc = "Where the master keys come from; never from this file."},
    [RG_SRVK_KEYS_ENV] = {
        .path = "keys.env", .type = RG_KEY_STRING, .flags = RG_KEY_NONEMPTY,
        .sdef = "READGATE_KEYS", .pattern = "^[A-Za-z_][A-Za-z0-9_]*$",
        .doc = "Name of the environment variable holding the master keys. Letters, digits and "
               "`_`, not starting with a digit."},
    [RG_SRVK_KEYS_FILE] = {
        .path = "keys.file", .type = RG_KEY_STRING, .sdef = "",
        .doc_type = "string (path)",
        .doc_default = "`\"\"` (none)",
        .doc = "A key file, mode 0600. When set it is used instead of the environment "
               "variable."},
    [RG_SRVK_STATE_STORE] = {
        .path = "state_store", .type = RG_KEY_STRING, .flags = RG_KEY_NONEMPTY,
        .sdef = "sqlite:state.db", .pattern = "^(sqlite:.+|postgres(ql)?://.*)$",
        .doc = "`sqlite:PATH` for a single instance (PATH relative to this file), or a "
               "`postgres://…` / `postgresql://…` URL shared by several instances. Leave the "
               "password out of the URL: libpq reads it from `PGPASSWORD` or `~/.pgpass` of the "
               "user running readgate (and `PGSSLMODE` etc. apply as usual)."},
    [RG_SRVK_RATE_LIMIT] = {
        .path = "rate_limit", .type = RG_KEY_STRING, .flags = RG_KEY_NONEMPTY,
        .sdef = "memory",
        .pattern = "^(memory|redis://([A-Za-z0-9.-]+|\\[[0-9A-Fa-f:.]+\\])(:[0-9]{1,5})?)$",
        .doc = "Where rate-limit counters and the replay cache live: `memory` (this process; "
               "one instance), or `redis://host[:port]` (port 6379 by default; host a name, an "
               "IPv4 address or `[IPv6]`; no user, password, path or options) shared by several "
               "instances. See [Rate limits](#rate_limits)."},
    [RG_SRVK_TRUSTED_PROXIES] = {
        .path = "trusted_proxies", .type = RG_KEY_LIST, .flags = RG_KEY_ITEMS_NONEMPTY,
        .pattern = "^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$",
        .doc = "IP addresses or CIDRs (`\"10.0.0.0/8\"`, `\"::1\"`) of proxies whose "
               "`X-Forwarded-For` header is believed. A request from one of them is counted "
               "against the right-most address of `X-Forwarded-For` (all such headers, in "
               "order, read as one list) that is not itself a trusted proxy; addresses left of "
               "it are written by the client and ignored. An element that is not an address "
               "stops the walk at the last believed hop. Requests from anywhere else are "
               "identified by their own address, whatever they send."},
    [RG_SRVK_LOG_LEVEL] = {
        .path = "log_level", .type = RG_KEY_ENUM, .flags = RG_KEY_NONEMPTY,
        .values = log_levels, .sdef = "info",
        .doc = "How much the log says, from `debug` (most) to `error` (least)."},
    [RG_SRVK_LIMITS] = {
        .path = "limits", .type = RG_KEY_MAP, .flags = RG_KEY_DOC_TABLE,
        .doc_default = "see [limits](#limits)",
        .doc = "Limits of requests, connections and work in progress."},
    LIMIT(MAX_BODY_BYTES, "max_body_bytes", max_body_bytes, 1024, 16777216, 16384,
          "Larger request bodies get `413`."),
    LIMIT(MAX_JSON_DEPTH, "max_json_depth", max_json_depth, 2, 64, 8,
          "Deepest nesting accepted in a request body."),
    LIMIT(MAX_FILTERS, "max_filters", max_filters, 1, 100, 20, "Filters per query."),
    LIMIT(MAX_STRING_BYTES, "max_string_bytes", max_string_bytes, 1, 65536, 256,
          "Longest string value in a filter."),
    LIMIT(MAX_SEARCH_BYTES, "max_search_bytes", max_search_bytes, 1, 4096, 200,
          "Longest `search` text."),
    LIMIT(MAX_IN_VALUES, "max_in_values", max_in_values, 1, 1000, 50,
          "Values in one `in` filter."),
    /* docs/http-api.md: at most 3 */
    LIMIT(MAX_SORT, "max_sort", max_sort, 1, 3, 3,
          "Sort keys per query (the collection key is added after them); never more than 3."),
    LIMIT(REQUEST_TIMEOUT_MS, "request_timeout_ms", request_timeout_ms, 1, 600000, 5000,
          "Default time budget of one query against a source."),
    LIMIT(TIMESTAMP_WINDOW_S, "timestamp_window_s", timestamp_window_s, 1, 3600, 300,
          "How far a signed request's timestamp may be from the server clock."),
    LIMIT(MAX_CONNECTIONS, "max_connections", max_connections, 1, 1000000, 10000,
          "Open client connections; one more is answered `503 overloaded` and closed."),
    LIMIT(MAX_INFLIGHT_PER_SITE, "max_inflight_per_site", max_inflight_per_site, 1, 100000, 64,
          "Queries of one site running or waiting for a worker at once, all its sources "
          "together. One more is answered `503 overloaded` (with `Retry-After: 1`) at once, so "
          "one busy site can't take every worker from the others. Counted per configuration: "
          "during a reload, queries started under the old one are not counted against the new "
          "one."),
    LIMIT(RATELIMIT_ENTRIES, "ratelimit_entries", ratelimit_entries, 1000, 100000000, 100000,
          "Capacity of the in-memory rate-limit table, in windows (one per client address, "
          "site or session and route; a window takes 100 to 300 bytes). When it is full the "
          "least recently used window is evicted; "
          "`readgate_ratelimit_memory_live_evictions_total` counts evicted windows that still "
          "held requests, and one warning is logged: raise the value. Read at start-up only."),
    LIMIT(RATELIMIT_TIMEOUT_MS, "ratelimit_timeout_ms", ratelimit_timeout_ms, 1, 10000, 50,
          "With `rate_limit: redis://…`, how long a request waits for Redis before it is "
          "decided with this instance's own counters."),
    /* Slowloris: request line and headers, then the body, each within a deadline. */
    LIMIT(HEADER_TIMEOUT_MS, "header_timeout_ms", header_timeout_ms, 100, 600000, 10000,
          "A request line and its headers must arrive within this time, counted from the "
          "connection's opening or from the end of the previous reply on it (so it is also how "
          "long an idle keep-alive connection stays open). A client that is slower, even one "
          "sending a byte now and then, is disconnected without an answer: this is what keeps "
          "slowloris clients from holding connections."),
    LIMIT(BODY_TIMEOUT_MS, "body_timeout_ms", body_timeout_ms, 100, 600000, 10000,
          "After the headers, the whole body must arrive within this time, or the connection "
          "is closed. The time the gateway spends answering is not counted."),
    [RG_SRVK_AUDIT_LOG] = {
        .path = "audit_log", .type = RG_KEY_STRING, .flags = RG_KEY_NONEMPTY, .sdef = "-",
        .doc_type = "string (path) or `\"-\"`",
        .doc = "Where the audit lines of secret use go: `\"-\"` = standard error, with the log; "
               "a path (relative to this file) is appended to and reopened on SIGHUP, so it can "
               "be rotated. See [Secrets and master keys](#secrets-and-master-keys)."},
    [RG_SRVK_RATE_LIMITS] = {
        .path = "rate_limits", .type = RG_KEY_BLOCK, .block = &rg_rate_limit_keys,
        .doc_default = "see [rate_limits](#rate_limits)",
        .doc = "Per-route rate limits; a site file may override them."},
    [RG_SRVK_CACHE] = {
        .path = "cache", .type = RG_KEY_MAP,
        .doc = "The result cache of collections with `cache_ttl_s` above 0."},
    [RG_SRVK_CACHE_MAX_BYTES] = {
        .path = "cache.max_bytes", .type = RG_KEY_INT, .min = 0, .max = 1LL << 40,
        .def = 64LL << 20, RG_KEY_STORE(rg_config, cache_max_bytes),
        .doc = "Memory budget of the result cache, in bytes (64 MiB by default). `0` turns "
               "caching off for every collection (identical queries in flight are still read "
               "once). See [The result cache](#the-result-cache)."},
    [RG_SRVK_PUBLIC_URL] = {
        .path = "public_url", .type = RG_KEY_STRING, .flags = RG_KEY_NONEMPTY | RG_KEY_NO_DEFAULT,
        .pattern = "^https?://[^/?#@\\s]+(/[^?#\\s]*)?$",
        .doc_type = "string (URL)",
        .doc = "The address clients reach this gateway at, such as "
               "`https://gateway.example.com`: the [MCP endpoint](mcp.md)'s address in its "
               "protected-resource metadata and in the `mcp` tool an AI provider gets "
               "(`ai.tools: mcp` needs it). `https://`, or `http://` to loopback only; no user, "
               "query or fragment; a trailing `/` is dropped. Without it, the request's `Host` "
               "is used."},
};

_Static_assert(sizeof rows / sizeof rows[0] == RG_SRVK_COUNT, "one row per rg_server_key");

const rg_key_table rg_server_keys = {
    .name = "server",
    .id = "urn:readgate:schema:readgate",
    .title = "readgate server configuration (readgate.yaml or readgate.json)",
    .doc = "Every key is optional. Relative paths are resolved against the directory of the "
           "configuration file. `readgate check` enforces the same rules and also checks what a "
           "schema cannot: port ranges, CIDR prefixes and that sites_dir can be read.",
    .keys = rows,
    .n = RG_SRVK_COUNT,
};
