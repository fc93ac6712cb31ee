#!/usr/bin/env bash
# Throughput and latency of the gateway on the embedded demo catalog.
#
#   bench/run.sh [SECONDS] [CONNECTIONS]      (defaults: 5 s, 32 connections)
#   bench/run.sh pg [SECONDS] [CONNECTIONS]   PostgreSQL mode: bench/pg.sh
#
# Installs what is missing (wrk included), builds readgate without
# sanitizers (build-bench, RelWithDebInfo), starts it on loopback on the demo
# catalog (config/demo) with rate limits off, and drives it with wrk on one
# thread, replaying pre-signed requests (bench/prepare.py: each request has
# its own nonce and signature, as a widget's would). Prints one line per
# scenario: requests/s and latency percentiles. Numbers depend on the
# machine; wrk shares it with the gateway.
set -euo pipefail
cd "$(dirname "$0")/.."
# bench/run.sh pg [SECONDS] [CONNECTIONS]: the PostgreSQL mode (bench/pg.sh),
# readgate next to pgbench and nginx in one run.
if [ "${1:-}" = pg ]; then
  shift
  exec bench/pg.sh "$@"
fi
secs=${1:-5}
conns=${2:-32}
port=${RG_BENCH_PORT:-18480}

scripts/deps.sh
if ! command -v wrk >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] && export DEBIAN_FRONTEND=noninteractive && apt-get install -y -q wrk >/dev/null ||
    { echo "bench: install wrk (apt-get install wrk)" >&2; exit 1; }
fi
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRG_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" >/dev/null

work=$(mktemp -d /tmp/readgate-bench.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

key="rgk_$(openssl rand -hex 24)"
hash=$(printf '%s' "$key" | sha256sum | cut -d' ' -f1)
mkdir -p "$work/sites"
(umask 077 && build-bench/readgate keys generate --kid bench1 > "$work/keys")
cat > "$work/readgate.yaml" <<YAML
listen: "127.0.0.1:$port"
admin_listen: "127.0.0.1:$((port + 1))"
sites_dir: sites
adapters_dir: $PWD/build-bench/adapters
keys: {file: keys}
state_store: "sqlite:state.db"
log_level: warn
limits: {timestamp_window_s: 600}
rate_limits:
  token:       {per_ip_per_min: 0, per_site_per_min: 0, burst_per_s: 0}
  query:       {per_ip_per_min: 0, per_site_per_min: 0, per_session_per_min: 0, burst_per_s: 0}
  collections: {per_ip_per_min: 0, per_site_per_min: 0, per_session_per_min: 0, burst_per_s: 0}
  session:     {per_ip_per_min: 0, per_site_per_min: 0, per_session_per_min: 0, burst_per_s: 0}
YAML
# The demo site, with the catalog's absolute path and a backend API key.
sed -e "s|^api_keys: \[\]|api_keys: [\"sha256:$hash\"]|" \
    -e "s|path: ../catalog.db.*|path: $PWD/config/demo/catalog.db|" \
    config/demo/sites/demo0001.yaml > "$work/sites/demo0001.yaml"
build-bench/readgate check -c "$work/readgate.yaml" >/dev/null
build-bench/readgate serve -c "$work/readgate.yaml" 2> "$work/readgate.log" &
pid=$!
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$((port + 1))/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

# Enough requests for the run at a generous rate; a shortfall shows as
# non-2xx answers (replayed nonces) and is reported.
count=$((secs * 100000))
printf '%-16s %10s %9s %9s %9s %9s %s\n' scenario "req/s" p50 p90 p99 max "errors"
for scenario in collections query_cached query_uncached; do
  python3 bench/prepare.py "http://127.0.0.1:$port" "$key" "$scenario" "$count" "$work/$scenario.req"
  out=$(wrk -t1 -c"$conns" -d"${secs}s" --latency -s bench/replay.lua \
          "http://127.0.0.1:$port" -- "$work/$scenario.req" 1)
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  pct() { awk -v p="$1" '$1 == p {print $2}' <<<"$out"; }
  max=$(awk '/^    Latency/ {print $4}' <<<"$out")
  errs=$(awk '/^  Non-2xx or 3xx responses:/ {printf "%s non-2xx ", $NF}
             /^  Socket errors:/ {sub(/^ +/, ""); printf "%s ", $0}' <<<"$out")
  printf '%-16s %10s %9s %9s %9s %9s %s\n' "$scenario" "$rps" "$(pct 50%)" "$(pct 90%)" \
    "$(pct 99%)" "$max" "${errs:-none}"
  rm -f "$work/$scenario.req"
done
echo "($(nproc) cores shared by wrk and readgate; ${secs}s per scenario, $conns connections)"
