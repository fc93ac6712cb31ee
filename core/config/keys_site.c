/*
 * The keys of a site file (docs/configuration.md, "Site files"). The order
 * of the rows is the order of the "allowed:" lists in messages, of the
 * schema's properties and of the documentation's tables.
 */
#include "config.h"
#include "keys.h"

/* Names as the API sees them, and the names of options. */
#define NAME_LOWER "^[a-z][a-z0-9_]{0,63}$"
#define NAME_IDENT "^[A-Za-z_][A-Za-z0-9_]{0,63}$"
/* A URL a secret may be sent to: https, or http to this machine only. */
#define SECRET_URL                                                                                 \
    "^(https://[^@/\\s]+|http://(127\\.0\\.0\\.1|localhost|\\[::1\\])(:[0-9]+)?)(/[^\\s]*)?$"
#define ENCRYPTED "^enc:"

#define K(id) [RG_SITEK_##id]

static const rg_key rows[] = {
    K(SITE_ID) = {
        .path = "site_id", .type = RG_KEY_STRING, .flags = RG_KEY_REQUIRED,
        .pattern = "^[a-z0-9]{8,32}$",
        .doc = "8 to 32 characters of `a-z` and `0-9`. Appears in every API path."},
    K(ALLOWED_ORIGINS) = {
        .path = "allowed_origins", .type = RG_KEY_LIST,
        .pattern = "^(\\*\\.[A-Za-z0-9_-]{1,63}(\\.[A-Za-z0-9_-]{1,63})+|"
                   "[A-Za-z0-9_-]{1,63}(\\.[A-Za-z0-9_-]{1,63})*)(:[1-9][0-9]{0,4})?$",
        .doc_type = "list of origin patterns",
        .doc = "Browser origins that may open sessions (see [Origin "
               "patterns](#origin-patterns))."},
    K(ALLOW_LOCALHOST) = {
        .path = "allow_localhost", .type = RG_KEY_BOOL, .def = 1,
        RG_KEY_STORE(rg_site, allow_localhost),
        .doc = "Also admit `http://` and `https://` `localhost` and `127.0.0.1` at any port, for "
               "development. Set it to `false` in production."},
    K(API_KEYS) = {
        .path = "api_keys", .type = RG_KEY_LIST, .pattern = "^sha256:[0-9A-Fa-f]{64}$",
        .doc = "Backend mode: each entry is `\"sha256:\"` followed by the 64 hex digits of the "
               "SHA-256 of a whole `rgk_…` key. The key itself never goes in the file. Compute "
               "it with `printf '%s' \"$key\" \\| sha256sum`."},
    K(SESSION_TTL_S) = {
        .path = "session_ttl_s", .type = RG_KEY_INT, .min = 60, .max = 86400, .def = 600,
        RG_KEY_STORE(rg_site, session_ttl_s),
        .doc = "Lifetime of a session token, in seconds."},

    K(SOURCES) = {
        .path = "sources", .type = RG_KEY_NAMED, .flags = RG_KEY_DOC_TABLE,
        .pattern = NAME_LOWER,
        .doc_type = "mapping name → source",
        .doc = "The data sources; see [Sources](#sources)."},
    K(SOURCE_ADAPTER) = {
        .path = "sources.*.adapter", .type = RG_KEY_STRING,
        .flags = RG_KEY_REQUIRED | RG_KEY_NONEMPTY, .pattern = "^[a-z0-9_]{1,64}$",
        .doc = "Adapter name, `[a-z0-9_]+` (`postgres`, `mysql`, `mongo`, `sqlite`, `shopify`, "
               "`airtable`, `sheets`, or your own). Loads `readgate-adapter-<adapter>.so` from "
               "`adapters_dir`."},
    K(SOURCE_OPTIONS) = {
        .path = "sources.*.options", .type = RG_KEY_OPTIONS, .pattern = NAME_IDENT,
        .doc = "Passed to the adapter as text, exactly as written. Names are "
               "`[A-Za-z_][A-Za-z0-9_]{0,63}`; nested mappings, lists and empty values are "
               "refused. Secrets are stored encrypted (`enc:v1:…`, made with `readgate secret "
               "encrypt`) and decrypted only when a connection opens. Relative paths in options "
               "are resolved by the adapter against the directory of the site file. See each "
               "adapter's documentation for its options. `timeout_ms`, `connect_timeout_ms` and "
               "`workers` are refused here: they are source settings (below), and readgate says "
               "so rather than silently ignore them."},
    K(SOURCE_TIMEOUT_MS) = {
        .path = "sources.*.timeout_ms", .type = RG_KEY_INT,
        .flags = RG_KEY_SETTING | RG_KEY_NO_DEFAULT, .min = 1, .max = 600000,
        .doc_default = "`limits.request_timeout_ms`",
        .doc = "Time budget of one query."},
    K(SOURCE_CONNECT_TIMEOUT_MS) = {
        .path = "sources.*.connect_timeout_ms", .type = RG_KEY_INT, .flags = RG_KEY_SETTING,
        .min = 1, .max = 600000, .def = 2000, RG_KEY_STORE(rg_source, connect_timeout_ms),
        .doc = "Time budget of opening a connection."},
    K(SOURCE_WORKERS) = {
        .path = "sources.*.workers", .type = RG_KEY_INT,
        .flags = RG_KEY_SETTING | RG_KEY_NO_DEFAULT, .min = 1, .max = 1024,
        .doc_default = "server `workers`",
        .doc = "Worker threads, and so connections, for this source; with non-blocking "
               "queries (`postgres`), the connections the event loops share out for queries "
               "(see the server's `workers`)."},
    K(SOURCE_OAUTH) = {
        .path = "sources.*.oauth", .type = RG_KEY_MAP,
        .flags = RG_KEY_NO_DEFAULT | RG_KEY_DOC_TABLE,
        .doc = "How a SaaS source signs in, read by readgate itself: the adapter only gets the "
               "current access token as the option `access_token`. See [OAuth "
               "connections](#oauth-connections)."},
    K(OAUTH_PROVIDER) = {
        .path = "sources.*.oauth.provider", .type = RG_KEY_ENUM,
        .flags = RG_KEY_REQUIRED | RG_KEY_NONEMPTY, .values = rg_oauth_provider_names,
        .doc = "Who issues the tokens; it decides the default endpoints and how the client "
               "authenticates (table below)."},
    K(OAUTH_CLIENT_ID) = {
        .path = "sources.*.oauth.client_id", .type = RG_KEY_STRING,
        .flags = RG_KEY_NONEMPTY | RG_KEY_NO_DEFAULT,
        .pattern = "^[^\\s\"\\\\:]+$",
        .doc_default = "— (required without `service_account`)",
        .doc = "The OAuth client's id: no spaces, quotes or `:`. Required, except with "
               "`service_account`, which excludes it."},
    K(OAUTH_CLIENT_SECRET) = {
        .path = "sources.*.oauth.client_secret", .type = RG_KEY_STRING,
        .flags = RG_KEY_NONEMPTY | RG_KEY_NO_DEFAULT, .pattern = ENCRYPTED,
        .doc = "The client secret, encrypted (`enc:v1:…`, field "
               "`sources.<source>.oauth.client_secret`). Required except for an Airtable public "
               "client; excluded by `service_account`."},
    K(OAUTH_TOKEN_URL) = {
        .path = "sources.*.oauth.token_url", .type = RG_KEY_STRING,
        .flags = RG_KEY_NONEMPTY | RG_KEY_NO_DEFAULT, .pattern = SECRET_URL,
        .doc_default = "the provider's (below)",
        .doc = "Where tokens are refreshed: `https://`, or `http://` to 127.0.0.1, localhost or "
               "[::1] only, without user or password. Excluded by `service_account` (see "
               "`service_account.token_uri`)."},
    K(OAUTH_REVOKE_URL) = {
        .path = "sources.*.oauth.revoke_url", .type = RG_KEY_STRING,
        .flags = RG_KEY_NONEMPTY | RG_KEY_NO_DEFAULT, .pattern = SECRET_URL,
        .doc_default = "the provider's (below)",
        .doc = "Where `readgate site delete` revokes the grant; the same kind of URL."},
    K(OAUTH_REFRESH_MARGIN_S) = {
        .path = "sources.*.oauth.refresh_margin_s", .type = RG_KEY_INT, .min = 5, .max = 86400,
        .def = 300, RG_KEY_STORE(rg_oauth_config, refresh_margin_s),
        .doc = "Refresh a token this long before it expires."},
    K(OAUTH_SERVICE_ACCOUNT) = {
        .path = "sources.*.oauth.service_account", .type = RG_KEY_MAP,
        .flags = RG_KEY_NO_DEFAULT,
        .doc = "Google only: a service account's JWT bearer grant (RS256) instead of an imported "
               "user grant; excludes `client_id`, `client_secret` and `token_url`."},
    K(SA_CLIENT_EMAIL) = {
        .path = "sources.*.oauth.service_account.client_email", .type = RG_KEY_STRING,
        .flags = RG_KEY_REQUIRED | RG_KEY_NONEMPTY, .pattern = "@",
        .doc = "Google only, and instead of `client_id` and `client_secret`: the service "
               "account's e-mail address (`client_email` of its key), e.g. "
               "`reader@project.iam.gserviceaccount.com`."},
    K(SA_PRIVATE_KEY) = {
        .path = "sources.*.oauth.service_account.private_key", .type = RG_KEY_STRING,
        .flags = RG_KEY_REQUIRED | RG_KEY_NONEMPTY, .pattern = ENCRYPTED,
        .doc = "Its PEM RSA private key, encrypted (field "
               "`sources.<source>.oauth.service_account.private_key`)."},
    K(SA_TOKEN_URI) = {
        .path = "sources.*.oauth.service_account.token_uri", .type = RG_KEY_STRING,
        .flags = RG_KEY_NONEMPTY | RG_KEY_NO_DEFAULT, .pattern = SECRET_URL,
        .doc_default = "Google's (below)",
        .doc = "Where the signed assertion is exchanged for a token; the same kind of URL as "
               "`token_url`."},
    K(SA_SCOPES) = {
        .path = "sources.*.oauth.service_account.scopes", .type = RG_KEY_LIST,
        .flags = RG_KEY_REQUIRED | RG_KEY_NONEMPTY | RG_KEY_ITEMS_NONEMPTY,
        .pattern = "^[^\\s\"\\\\]+$",
        .doc = "The scopes asked for, at least one, e.g. "
               "`https://www.googleapis.com/auth/spreadsheets.readonly`."},

    K(COLLECTIONS) = {
        .path = "collections", .type = RG_KEY_NAMED, .flags = RG_KEY_DOC_TABLE,
        .pattern = NAME_LOWER,
        .doc_type = "mapping name → collection",
        .doc = "What can be read; see [Collections](#collections)."},
    K(COLLECTION_SOURCE) = {
        .path = "collections.*.source", .type = RG_KEY_STRING, .flags = RG_KEY_REQUIRED,
        .doc = "A name defined under `sources`."},
    K(COLLECTION_TARGET) = {
        .path = "collections.*.target", .type = RG_KEY_STRING,
        .flags = RG_KEY_REQUIRED | RG_KEY_NONEMPTY,
        .doc = "What the adapter reads: a table, `schema.table`, a Mongo collection, an "
               "Airtable table, a sheet range…"},
    K(COLLECTION_KEY) = {
        .path = "collections.*.key", .type = RG_KEY_STRING, .flags = RG_KEY_REQUIRED,
        .doc = "A field of type `integer` or `string` whose values are unique. It is the last "
               "sort key, which makes paging deterministic."},
    K(COLLECTION_LIMIT) = {
        .path = "collections.*.limit", .type = RG_KEY_MAP,
        .doc = "How many rows a page has."},
    K(LIMIT_DEFAULT) = {
        .path = "collections.*.limit.default", .type = RG_KEY_INT, .min = 1, .max = 1000,
        .def = 20, RG_KEY_STORE(rg_collection, limit_default),
        .doc = "Rows per page when a query gives no `limit`."},
    K(LIMIT_MAX) = {
        .path = "collections.*.limit.max", .type = RG_KEY_INT, .min = 1, .max = 1000,
        .def = 100, RG_KEY_STORE(rg_collection, limit_max),
        .doc = "Largest `limit` a query may ask for. `default` may not exceed `max`."},
    K(COLLECTION_CACHE_TTL_S) = {
        .path = "collections.*.cache_ttl_s", .type = RG_KEY_INT, .min = 0, .max = 86400,
        .def = 0, RG_KEY_STORE(rg_collection, cache_ttl_s),
        .doc = "Seconds an answer may be shared: identical queries are answered from the result "
               "cache for this long, and identical queries in flight at the same time are read "
               "from the backend once. `0` turns both off. See [The result "
               "cache](#the-result-cache)."},
    K(COLLECTION_FIELDS) = {
        .path = "collections.*.fields", .type = RG_KEY_NAMED,
        .flags = RG_KEY_REQUIRED | RG_KEY_NONEMPTY | RG_KEY_DOC_TABLE, .pattern = NAME_IDENT,
        .doc_type = "mapping name → field",
        .doc = "At least one field. Field names are `[A-Za-z_][A-Za-z0-9_]{0,63}`. The order is "
               "kept: it is the default order of returned fields. See [Fields](#fields)."},
    K(FIELD_TYPE) = {
        .path = "collections.*.fields.*.type", .type = RG_KEY_ENUM, .flags = RG_KEY_REQUIRED,
        .values = &rg_type_names[1],
        .doc = "The type of the values: `date` is `YYYY-MM-DD`, `datetime` RFC 3339; an `enum` "
               "field lists its `values`."},
    K(FIELD_COLUMN) = {
        .path = "collections.*.fields.*.column", .type = RG_KEY_STRING,
        .flags = RG_KEY_NONEMPTY | RG_KEY_NO_DEFAULT,
        .doc_default = "the field name",
        .doc = "Name in the backend (column, document field, sheet header), when it differs "
               "from the public name."},
    K(FIELD_DISPLAY) = {
        .path = "collections.*.fields.*.display", .type = RG_KEY_BOOL, .def = 0,
        RG_KEY_STORE(rg_field, display),
        .doc = "May be returned in rows."},
    K(FIELD_FILTERABLE) = {
        .path = "collections.*.fields.*.filterable", .type = RG_KEY_LIST,
        .values = &rg_op_names[1],
        .doc_type = "list of operators",
        .doc = "Operators a query may use on this field (see below)."},
    K(FIELD_SEARCHABLE) = {
        .path = "collections.*.fields.*.searchable", .type = RG_KEY_BOOL, .def = 0,
        RG_KEY_STORE(rg_field, searchable),
        .doc = "Free-text `search` looks in this field. `string` fields only."},
    K(FIELD_SORTABLE) = {
        .path = "collections.*.fields.*.sortable", .type = RG_KEY_BOOL, .def = 0,
        RG_KEY_STORE(rg_field, sortable),
        .doc = "Queries may sort by this field."},
    K(FIELD_VALUES) = {
        .path = "collections.*.fields.*.values", .type = RG_KEY_LIST,
        .flags = RG_KEY_NONEMPTY | RG_KEY_ITEMS_NONEMPTY | RG_KEY_UNIQUE | RG_KEY_NO_DEFAULT,
        .doc = "`enum` only, and required there: the allowed values, non-empty and unique."},

    K(RATE_LIMITS) = {
        .path = "rate_limits", .type = RG_KEY_BLOCK, .flags = RG_KEY_INHERITED,
        .block = &rg_rate_limit_keys,
        .doc_default = "the server's",
        .doc = "This site's [rate limits](#rate_limits), same keys as in `readgate.yaml`; each "
               "key given replaces the server's value for this site, the others are inherited."},

    K(AI) = {
        .path = "ai", .type = RG_KEY_MAP, .flags = RG_KEY_NO_DEFAULT | RG_KEY_DOC_TABLE,
        .doc = "The [AI provider](#ai-provider) whose short-lived credential `POST "
               "/v1/{site}/token` mints for the widget."},
    K(AI_PROVIDER) = {
        .path = "ai.provider", .type = RG_KEY_STRING, .flags = RG_KEY_REQUIRED | RG_KEY_NONEMPTY,
        .pattern = "^[a-z][a-z0-9_-]{0,63}$",
        .doc = "`openai-realtime`, `retell`, `vapi`, `elevenlabs`, or your own: loads "
               "`readgate-provider-<provider>.so` from `adapters_dir`."},
    K(AI_API_KEY) = {
        .path = "ai.api_key", .type = RG_KEY_STRING, .flags = RG_KEY_REQUIRED | RG_KEY_NONEMPTY,
        .pattern = "^enc:v1:",
        .doc = "The provider's API key (for `vapi`, the org's private key), encrypted: "
               "`enc:v1:…` with the field `ai.api_key`. Plain text is refused. It is decrypted "
               "only to mint (each time audit-logged with purpose `mint`) and at load to check "
               "it opens (purpose `verify`)."},
    K(AI_EXPIRES_AFTER_S) = {
        .path = "ai.expires_after_s", .type = RG_KEY_INT, .min = 10, .max = 86400, .def = 600,
        RG_KEY_STORE(rg_ai_config, expires_after_s),
        .doc = "Lifetime asked of the credential, where the provider lets the caller choose "
               "(`openai-realtime`: 10–7200; `vapi`: 10–7200)."},
    K(AI_TOOLS) = {
        .path = "ai.tools", .type = RG_KEY_ENUM, .flags = RG_KEY_NONEMPTY | RG_KEY_NO_DEFAULT,
        .values = rg_ai_tools_names,
        .doc_default = "`functions` when the provider takes tools per session, else `none`",
        .doc = "`functions`: the model gets one function tool per collection, the same "
               "definitions as `GET /collections`; the widget runs each call as a signed "
               "`/query`. `mcp`: the model gets one MCP tool pointing at the site's [MCP "
               "endpoint](mcp.md) with a bearer made for this session (ended with it); needs "
               "`public_url` in `readgate.yaml`, reachable by the provider. Providers whose "
               "agents are configured on the provider's side (`retell`, `vapi`, `elevenlabs`) "
               "take `none` only."},
    K(AI_OPTIONS) = {
        .path = "ai.options", .type = RG_KEY_OPTIONS, .pattern = NAME_IDENT,
        .doc = "The provider's own options (below). Never secrets: an `enc:` value here is "
               "refused."},
    K(AI_TIMEOUT_MS) = {
        .path = "ai.timeout_ms", .type = RG_KEY_INT, .min = 100, .max = 60000, .def = 10000,
        RG_KEY_STORE(rg_ai_config, timeout_ms),
        .doc = "Total time for the provider's answer; beyond it `/token` answers `504 "
               "upstream_timeout`."},
    K(AI_CONNECT_TIMEOUT_MS) = {
        .path = "ai.connect_timeout_ms", .type = RG_KEY_INT, .min = 100, .max = 60000,
        .def = 3000, RG_KEY_STORE(rg_ai_config, connect_timeout_ms),
        .doc = "Time to connect to the provider."},
};

_Static_assert(sizeof rows / sizeof rows[0] == RG_SITEK_COUNT, "one row per rg_site_key");

const rg_key_table rg_site_keys = {
    .name = "site",
    .id = "urn:readgate:schema:site",
    .title = "readgate site file (sites/<site_id>.yaml, .yml or .json)",
    .doc = "One site: who may open sessions and which collections it can read. `readgate check` "
           "enforces these rules and the ones a schema cannot state: the file is named after "
           "site_id; site ids are unique; a collection's source is defined in sources; key names "
           "one of the collection's fields, of type integer or string; ports are 1..65535; "
           "limit.default <= limit.max.",
    .keys = rows,
    .n = RG_SITEK_COUNT,
};
