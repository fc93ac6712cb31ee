#!/usr/bin/env bash
# Installs what is missing, builds readgate with AddressSanitizer and
# UndefinedBehaviorSanitizer, starts a throwaway PostgreSQL on loopback, runs
# every test, stops PostgreSQL, and exits non-zero on any failure.
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

# A throwaway PostgreSQL on loopback for the adapter and HTTP tests.
pgdir=$(mktemp -d /tmp/readgate-pg.XXXXXX)
pgport=${RG_TEST_PG_PORT:-55432}
stop_pg() { tests/pg.sh stop "$pgdir" >/dev/null 2>&1 || true; rm -rf "$pgdir"; }
trap stop_pg EXIT
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

echo "summary: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
