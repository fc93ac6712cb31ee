#!/usr/bin/env bash
# Installs what is missing, builds readgate with AddressSanitizer and
# UndefinedBehaviorSanitizer, starts a throwaway PostgreSQL (and Redis) on
# loopback, runs every test, stops them, and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/deps.sh --test || exit 1

build=${RG_BUILD_DIR:-$root/build-test}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DRG_SANITIZE=ON >/dev/null || exit 1
cmake --build "$build" -j"$(nproc)" || exit 1

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp:print_suppressions=0}

passed=0
failed=0
step() { # name, command...
  local name=$1; shift
  echo "=== $name"
  if "$@"; then passed=$((passed + 1)); echo "--- ok: $name"
  else failed=$((failed + 1)); echo "--- FAIL: $name"; fi
}

# Unit tests and the SQLite adapter tests (cmocka programs under ctest).
step "unit tests (ctest)" ctest --test-dir "$build" --output-on-failure -j2

# libFuzzer targets, built with clang in build-fuzz: every saved crash is
# replayed, then each target fuzzes for RG_FUZZ_SECONDS (default 45).
step "fuzzing (tests/fuzz/run.sh)" tests/fuzz/run.sh

# The browser client's own tests on Node: signing against the shared vectors
# (the C unit tests check the same file), sessions, retries, paging, and the
# generated classic build being up to date.
step "JavaScript client (clients/js)" node --test clients/js/test/

# The JSON Schemas against every example and test configuration (ajv), and
# the schemas and documented key tables against the key tables of the C
# loaders they are generated from.
step "config schemas (tests/schemas)" env RG_BUILD_DIR="$build" tests/schemas/run.sh

# The fake Shopify, Airtable and Google servers the SaaS adapter tests run
# against: their own shapes, parsers, throttles and OAuth endpoints.
step "fake providers (tests/fakes)" python3 tests/fakes/test_fakes.py

# A throwaway PostgreSQL on loopback for the adapter and HTTP tests.
pgdir=$(mktemp -d /tmp/readgate-pg.XXXXXX)
# Fixed test ports sit below Linux's ephemeral range (32768-60999), so that no
# outgoing connection of the tests can already hold them.
pgport=${RG_TEST_PG_PORT:-25432}
stop_pg() { tests/pg.sh stop "$pgdir" >/dev/null 2>&1 || true; rm -rf "$pgdir"; }
trap stop_pg EXIT

# A throwaway Redis on loopback: the HTTP tests run two gateways on it to
# prove rate limits and replay protection are shared, and break it under them.
redisdir=$(mktemp -d /tmp/readgate-redis.XXXXXX)
redisport=${RG_TEST_REDIS_PORT:-26379}
stop_redis() { tests/redis.sh stop "$redisdir" >/dev/null 2>&1 || true; rm -rf "$redisdir"; }
# Run before whatever the EXIT trap already runs, rather than replace it.
eval "$(trap -p EXIT | sed "s/^trap -- '/trap -- 'stop_redis; /")"
trap -p EXIT | grep -q stop_redis || trap stop_redis EXIT
if tests/redis.sh start "$redisdir" "$redisport"; then
  export RG_TEST_REDIS_DIR=$redisdir RG_TEST_REDIS_PORT=$redisport
else
  echo "--- FAIL: could not start Redis (the shared rate-limit tests will fail)"
  failed=$((failed + 1))
fi

if tests/pg.sh start "$pgdir" "$pgport"; then
  export RG_TEST_PG_DIR=$pgdir RG_TEST_PG_PORT=$pgport RG_BUILD_DIR=$build
  export RG_TEST_PG_DSN="host=127.0.0.1 port=$pgport dbname=catalog user=postgres"
  step "SQL adapters against PostgreSQL" "$build/test_sql_adapters" "$build/adapters"
  step "conformance: postgres" conformance/run_postgres.sh "$build/readgate-conformance" \
    "$build/adapters/readgate-adapter-postgres.so" 127.0.0.1 "$pgport"
  step "HTTP black-box tests" python3 tests/http/run.py
else
  echo "--- FAIL: could not start PostgreSQL"
  failed=$((failed + 1))
fi

# A throwaway MariaDB on loopback for the mysql adapter.
mydir=$(mktemp -d /tmp/readgate-mariadb.XXXXXX)
myport=${RG_TEST_MYSQL_PORT:-23306}
stop_mysql() { tests/mariadb.sh stop "$mydir" >/dev/null 2>&1 || true; rm -rf "$mydir"; }
# Run before whatever the EXIT trap already runs, rather than replace it.
eval "$(trap -p EXIT | sed "s/^trap -- '/trap -- 'stop_mysql; /")"
trap -p EXIT | grep -q stop_mysql || trap stop_mysql EXIT
if tests/mariadb.sh start "$mydir" "$myport"; then
  export RG_TEST_MYSQL_DIR=$mydir RG_TEST_MYSQL_PORT=$myport
  step "mysql adapter against MariaDB" "$build/test_mysql_adapter" "$build/adapters"
  step "conformance: mysql" conformance/run_mysql.sh "$build/readgate-conformance" \
    "$build/adapters/readgate-adapter-mysql.so" 127.0.0.1 "$myport"
else
  echo "--- FAIL: could not start MariaDB"
  failed=$((failed + 1))
fi

# A throwaway CongoDB (JavaScript MongoDB wire-protocol server; no mongod in
# Debian) on loopback for the mongo adapter, patched to compare values in
# MongoDB's order (tests/mongo.sh): every case must pass.
mongodir=$(mktemp -d /tmp/readgate-mongo.XXXXXX)
mongoport=${RG_TEST_MONGO_PORT:-27017}
stop_mongo() { tests/mongo.sh stop "$mongodir" >/dev/null 2>&1 || true; rm -rf "$mongodir"; }
# Run before whatever the EXIT trap already runs, rather than replace it.
eval "$(trap -p EXIT | sed "s/^trap -- '/trap -- 'stop_mongo; /")"
trap -p EXIT | grep -q stop_mongo || trap stop_mongo EXIT
if tests/mongo.sh start "$mongodir" "$mongoport"; then
  step "mongo adapter against CongoDB" env RG_TEST_MONGO_URI="mongodb://127.0.0.1:$mongoport/" \
    "$build/test_mongo_adapter" "$build/adapters"
  step "conformance: mongo (CongoDB)" \
    conformance/run_mongo.sh "$build/readgate-conformance" \
    "$build/adapters/readgate-adapter-mongo.so" 127.0.0.1 "$mongoport"
else
  echo "--- FAIL: could not start CongoDB"
  failed=$((failed + 1))
fi

echo "summary: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
