#!/bin/sh
# Run the conformance suite against the mysql adapter (MariaDB or MySQL).
#
#   run_mysql.sh CONFORMANCE ADAPTER.so HOST PORT [extra flags...]
#
# The server at HOST:PORT must already hold fixtures/products.mysql.sql in the
# database "conformance" (tests/mariadb.sh start loads it). The suite connects
# as the read-only user rg_reader, password RG_TEST_MYSQL_READER_PASSWORD
# (default "rg_reader_pw"), as a gateway would, and runs every case, including
# the error cases: unreachable (port 1, nothing listens there), timeout (the
# view products_slow sleeps on every row), stalled (the suite's own port that
# accepts and never answers) and auth (rg_reader with a wrong password).
set -eu
[ $# -ge 4 ] || { echo "usage: run_mysql.sh CONFORMANCE ADAPTER.so HOST PORT [flags]" >&2; exit 2; }
suite=$1 adapter=$2 host=$3 port=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
password=${RG_TEST_MYSQL_READER_PASSWORD:-rg_reader_pw}
exec "$suite" --cases "$here/cases" \
    --option host="$host" --option port="$port" --option database=conformance \
    --option user=rg_reader --option password="$password" \
    --unreachable-option port=1 --connect-timeout-ms 2000 \
    --stalled-option host=127.0.0.1 --stalled-option port={stalled_port} \
    --auth-option password=rg-wrong-password-5e2b \
    --slow-target products_slow \
    "$@" "$adapter"
