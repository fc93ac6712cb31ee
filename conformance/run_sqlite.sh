#!/bin/sh
# Run the conformance suite against the SQLite adapter.
#
#   run_sqlite.sh PYTHON3 WORKDIR READGATE-CONFORMANCE ADAPTER.so [extra flags...]
#
# Creates WORKDIR/products.db from fixtures/products.json, then runs every case,
# including the unreachable-backend and timeout behaviour cases.
set -eu
[ $# -ge 4 ] || { echo "usage: run_sqlite.sh PYTHON3 WORKDIR CONFORMANCE ADAPTER.so [flags]" >&2; exit 2; }
python=$1 work=$2 suite=$3 adapter=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
"$python" "$here/fixtures/load_sqlite.py" "$work/products.db"
exec "$suite" --cases "$here/cases" \
    --option path="$work/products.db" \
    --unreachable-option path="$work/no-such-dir/products.db" \
    --slow-target products_slow \
    "$@" "$adapter"
