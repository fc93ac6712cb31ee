#!/bin/sh
# Run the conformance suite against the MongoDB adapter.
#
#   run_mongo.sh CONFORMANCE ADAPTER.so HOST PORT [extra flags...]
#
# Expects the server at HOST:PORT (no authentication) to hold, in database
# "conformance", the collection "products" loaded from
# fixtures/products.mongo.json, and "products_slow": the same documents many
# times over. `tests/mongo.sh start DIR PORT` starts CongoDB (the
# pure-JavaScript wire-protocol server the tests use; no mongod exists in
# Debian) with both; for a real mongod:
#   mongoimport --db conformance --collection products --file fixtures/products.mongo.json
# and a products_slow big enough that reading it takes longer than the
# timeout case's budget (--slow-timeout-ms, default 500 ms).
#
# Every case runs, including the error cases: unreachable (a closed port),
# timeout, stalled (the suite's own port that accepts and never answers) and
# auth (a user and password in the URI). CongoDB ignores maxTimeMS, so there
# the timeout case passes through the adapter's client-side socket deadline
# (budget plus 1 s); a real mongod stops the query itself (MaxTimeMSExpired).
# CongoDB has no users and no SASL: every credential fails its SCRAM
# conversation, which the driver reports as an authentication failure, as
# mongod's AuthenticationFailed for a wrong password; both are RG_ERR_AUTH.
# CongoDB's query engine is patched to compare values in MongoDB's order (see
# tests/mongo.sh), so every case must pass against it as against mongod.
set -eu
[ $# -ge 4 ] || { echo "usage: run_mongo.sh CONFORMANCE ADAPTER.so HOST PORT [flags]" >&2; exit 2; }
suite=$1 adapter=$2 host=$3 port=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
exec "$suite" --cases "$here/cases" \
    --option uri="mongodb://$host:$port/" \
    --option database=conformance \
    --unreachable-option uri="mongodb://$host:1/?serverSelectionTimeoutMS=2000&connectTimeoutMS=2000" \
    --stalled-option uri="mongodb://{stalled}/?serverSelectionTimeoutMS=2000&connectTimeoutMS=2000" \
    --auth-option uri="mongodb://rg_reader:rg-wrong-password-5e2b@$host:$port/?authSource=admin&serverSelectionTimeoutMS=2000" \
    --slow-target products_slow \
    "$@" "$adapter"
