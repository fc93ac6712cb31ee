#!/bin/sh
# Run the conformance suite against the template (JSON-lines) adapter.
#
#   run_template.sh PYTHON3 WORKDIR READGATE-CONFORMANCE ADAPTER.so [extra flags...]
#
# Writes WORKDIR/products.jsonl from fixtures/products.json, then runs every
# case, including the behaviour cases: unreachable (a path in a directory that
# does not exist) and timeout (line_delay_us makes each line take 20 ms, so a
# 300-line read outlasts the 500 ms budget and the adapter's per-line deadline
# check must end it).
set -eu
[ $# -ge 4 ] || { echo "usage: run_template.sh PYTHON3 WORKDIR CONFORMANCE ADAPTER.so [flags]" >&2; exit 2; }
python=$1 work=$2 suite=$3 adapter=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
"$python" "$here/fixtures/load_jsonl.py" "$work/products.jsonl"
exec "$suite" --cases "$here/cases" \
    --option path="$work/products.jsonl" \
    --unreachable-option path="$work/no-such-dir/products.jsonl" \
    --slow-option line_delay_us=20000 \
    "$@" "$adapter"
