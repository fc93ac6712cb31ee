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
 *
 * This file holds the descriptor; mongo_internal.h lists the others.
 */
#include "mongo_internal.h"

/* Set once by rg_adapter_entry, before any other call, and only read after. */
const rg_host_api *rg_mg_host;

static const rg_adapter mongo_adapter = {
    .struct_size = sizeof(rg_adapter),
    .abi_major = RG_ADAPTER_ABI_MAJOR,
    .abi_minor = RG_ADAPTER_ABI_MINOR,
    .name = ADAPTER_NAME,
    .version = "1.0.0",
    .check_options = rg_mg_check_options,
    .connect = rg_mg_connect,
    .query = rg_mg_query,
    .ping = rg_mg_ping,
    .disconnect = rg_mg_disconnect,
};

__attribute__((visibility("default"))) const rg_adapter *rg_adapter_entry(const rg_host_api *h)
{
    /* The host table is immutable and identical for every call. */
    rg_mg_host = h;
    return &mongo_adapter;
}
