#!/bin/sh
# Run the conformance suite against the PostgreSQL adapter.
#
#   run_postgres.sh CONFORMANCE ADAPTER.so HOST PORT [extra flags...]
#
# Creates (or recreates) the database "conformance" on the server at HOST:PORT
# as the superuser "postgres", loads fixtures/products.pg.sql into it, and runs
# every case, including the error cases: unreachable (port 1, nothing listens
# there), timeout (the view products_slow sleeps 30 s first), stalled (the
# suite's own port that accepts and never answers) and auth (the role
# rg_reader, which `tests/pg.sh start` creates with a password, with a wrong
# one; the superuser is trusted on loopback and cannot fail to log in).
set -eu
[ $# -ge 4 ] || { echo "usage: run_postgres.sh CONFORMANCE ADAPTER.so HOST PORT [flags]" >&2; exit 2; }
suite=$1 adapter=$2 host=$3 port=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
psql() { command psql -X -q -v ON_ERROR_STOP=1 -h "$host" -p "$port" -U postgres "$@"; }
psql -d postgres -c 'DROP DATABASE IF EXISTS conformance' -c 'CREATE DATABASE conformance'
psql -d conformance -f "$here/fixtures/products.pg.sql" >/dev/null
exec "$suite" --cases "$here/cases" \
    --option dsn="host=$host port=$port dbname=conformance user=postgres" \
    --unreachable-option dsn="host=$host port=1 dbname=conformance user=postgres connect_timeout=2" \
    --stalled-option dsn="host=127.0.0.1 port={stalled_port} dbname=conformance user=postgres" \
    --auth-option dsn="host=$host port=$port dbname=conformance user=rg_reader password=rg-wrong-password-5e2b" \
    --connect-timeout-ms 2000 \
    --slow-target products_slow \
    "$@" "$adapter"
