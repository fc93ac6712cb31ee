#!/usr/bin/env bash
# readgate on PostgreSQL next to pgbench and nginx, in one run on one machine.
#
#   bench/pg.sh [SECONDS] [CONNECTIONS]        (defaults: 10 s, 32 connections)
#
# Starts a throwaway PostgreSQL (tests/pg.sh) with a 100k-row `items` table
# and an index on (category, price), and measures, one after the other:
#   pgbench -M prepared   SELECT id, name, price FROM items WHERE category =
#                         'boots' ORDER BY price, id LIMIT 20
#   readgate uncached     the same query as a signed /query (collection
#                         without cache): every request reaches PostgreSQL,
#                         with 1 and with 2 event-loop threads
#   readgate cached       the same on a cached collection (1 and 2 loops)
#   nginx                 a static file of the same bytes as the answer
#   MariaDB               the same table in a throwaway MariaDB (tests/mariadb.sh):
#                         mysqlslap running the SELECT, and readgate's signed
#                         /query on it without cache (2 loops)
# with wrk (one thread) for every HTTP system, then prints req/s, p50/p99 and
# the ratio to pgbench, and readgate's resident memory idle and with 1,000
# idle keep-alive connections. Every system shares the same 2 cores with its
# load generator: only ratios from the same run mean anything.
#
# readgate runs with its defaults for connections: `workers` unset, i.e. two
# per core (on 2 cores, 4 PostgreSQL connections, shared out among the
# loops). RG_BENCH_WORKERS=N sets it for every source instead.
# RG_BENCH_PERF=1 (or =uncached) also records readgate with `perf record -g`
# during the uncached one-loop run, RG_BENCH_PERF=cached during the cached
# run, and prints the top of `perf report` (self time).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
secs=${1:-10}
conns=${2:-32}
pgport=${RG_BENCH_PG_PORT:-25490}
myport=$((pgport + 1))
port=${RG_BENCH_PORT:-18490}
nport=$((port + 5))

scripts/deps.sh --test
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "bench: install ${missing[*]}" >&2; exit 1; }
  guard=0
  [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; guard=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
  [ "$guard" = 1 ] && rm -f /usr/sbin/policy-rc.d
fi
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRG_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" >/dev/null

work=$(mktemp -d /tmp/readgate-benchpg.XXXXXX)
chmod 755 "$work"
pid= npid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  [ -n "$npid" ] && kill "$npid" 2>/dev/null
  tests/pg.sh stop "$work/pg" >/dev/null 2>&1 || true
  tests/mariadb.sh stop "$work/my" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

tests/pg.sh start "$work/pg" "$pgport" >/dev/null
psql() { command psql -X -q -h 127.0.0.1 -p "$pgport" -U postgres "$@"; }
psql catalog <<'SQL'
CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, category text NOT NULL,
                    price numeric(10,2) NOT NULL);
INSERT INTO items
SELECT g, 'Item ' || g,
       (ARRAY['boots','shoes','sneakers','sandals','hats','bags','belts','coats','socks','scarves'])[1 + g % 10],
       round((5 + (g * 7919) % 50000 / 100.0)::numeric, 2)
FROM generate_series(1, 100000) AS g;
CREATE INDEX items_category_price ON items (category, price, id);
ANALYZE items;
SQL
reader_pw=${RG_TEST_PG_READER_PASSWORD:-rg_reader_pw}

# The same table in MariaDB, readable by the tests' read-only user.
tests/mariadb.sh start "$work/my" "$myport" >/dev/null
my_root() { mariadb --no-defaults --socket="$work/my/mysqld.sock" -u root --batch "$@"; }
my_root <<'SQL'
CREATE DATABASE bench CHARACTER SET utf8mb4;
USE bench;
CREATE TABLE bench.items (id bigint PRIMARY KEY, name varchar(64) NOT NULL,
                          category varchar(16) NOT NULL, price decimal(10,2) NOT NULL,
                          KEY items_category_price (category, price, id));
INSERT INTO bench.items
SELECT seq, CONCAT('Item ', seq),
       ELT(1 + seq % 10, 'boots','shoes','sneakers','sandals','hats','bags','belts','coats','socks','scarves'),
       ROUND(5 + (seq * 7919) % 50000 / 100.0, 2)
FROM seq_1_to_100000;
ANALYZE TABLE bench.items;
GRANT SELECT ON bench.* TO 'rg_reader'@'127.0.0.1';
SQL
my_reader_pw=${RG_TEST_MYSQL_READER_PASSWORD:-rg_reader_pw}

key="rgk_$(openssl rand -hex 24)"
hash=$(printf '%s' "$key" | sha256sum | cut -d' ' -f1)
mkdir -p "$work/sites"
(umask 077 && build-bench/readgate keys generate --kid bench1 > "$work/keys")
dsn=$(printf '%s' "host=127.0.0.1 port=$pgport dbname=catalog user=rg_reader password=$reader_pw" |
      READGATE_KEYS="$(cat "$work/keys")" build-bench/readgate secret encrypt --site bench0001 \
        --field sources.db.options.dsn)
start_gateway() { # loop threads
  cat > "$work/readgate.yaml" <<YAML
listen: "127.0.0.1:$port"
admin_listen: "127.0.0.1:$((port + 1))"
loop_threads: $1
${RG_BENCH_WORKERS:+workers: $RG_BENCH_WORKERS}
sites_dir: sites
adapters_dir: $root/build-bench/adapters
keys: {file: keys}
state_store: "sqlite:state.db"
log_level: warn
limits: {timestamp_window_s: 600, max_connections: 5000, header_timeout_ms: 600000}
rate_limits:
  token:       {per_ip_per_min: 0, per_site_per_min: 0, burst_per_s: 0}
  query:       {per_ip_per_min: 0, per_site_per_min: 0, per_session_per_min: 0, burst_per_s: 0}
YAML
  fields='{id: {type: integer, display: true, sortable: true}, name: {type: string, display: true}, category: {type: string, filterable: [eq]}, price: {type: number, display: true, sortable: true}}'
  my_pw=$(printf '%s' "$my_reader_pw" |
      READGATE_KEYS="$(cat "$work/keys")" build-bench/readgate secret encrypt --site bench0001 \
        --field sources.my.options.password)
  cat > "$work/sites/bench0001.yaml" <<YAML
site_id: bench0001
allowed_origins: []
api_keys: ["sha256:$hash"]
sources:
  db: {adapter: postgres, options: {dsn: "$dsn"}${RG_BENCH_WORKERS:+, workers: $RG_BENCH_WORKERS}}
  my: {adapter: mysql${RG_BENCH_WORKERS:+, workers: $RG_BENCH_WORKERS},
       options: {host: 127.0.0.1, port: $myport, user: rg_reader, password: "$my_pw", database: bench}}
collections:
  items: {source: db, target: public.items, key: id, cache_ttl_s: 0, fields: $fields}
  items_cached: {source: db, target: public.items, key: id, cache_ttl_s: 600, fields: $fields}
  my_items: {source: my, target: items, key: id, cache_ttl_s: 0, fields: $fields}
YAML
  build-bench/readgate serve -c "$work/readgate.yaml" 2> "$work/readgate.log" &
  pid=$!
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$((port + 1))/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  cat "$work/readgate.log" >&2
  exit 1
}
stop_gateway() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }

# name rps p50 p99 (filled by run_wrk)
results=()
run_wrk() { # name url [replay file]
  local out
  if [ -n "${3:-}" ]; then
    out=$(wrk -t1 -c"$conns" -d"${secs}s" --latency -s bench/replay.lua "$2" -- "$3" 1)
  else
    out=$(wrk -t1 -c"$conns" -d"${secs}s" --latency "$2")
  fi
  local rps p50 p99 bad
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  bad=$(awk '/^  Non-2xx or 3xx responses:/ {printf "%s non-2xx ", $NF}
             /^  Socket errors:/ {sub(/^ +/, ""); printf "%s ", $0}' <<<"$out")
  results+=("$1|$rps|$p50|$p99|${bad:-}")
}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
# 1,000 keep-alive connections, each after one answered request, left idle:
# prints the gateway's RSS (KiB) while they are open.
idle_connections() {
  python3 - "$port" "$pid" <<'PY'
import socket, sys, time
port, pid = int(sys.argv[1]), sys.argv[2]
socks = []
for _ in range(1000):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /v1/bench0001/none HTTP/1.1\r\nHost: x\r\n\r\n")
    socks.append(s)
for s in socks:
    s.recv(4096)
time.sleep(1)
print(next(l.split()[1] for l in open("/proc/%s/status" % pid) if l.startswith("VmRSS")))
PY
}

# Enough signed requests for each run at a generous rate (a nonce is
# accepted once); a shortfall shows as non-2xx answers.
count=$((secs * 40000))
cached_count=$((secs * 100000))
perf_mode=${RG_BENCH_PERF:-0}
perf_pid=
perf_start() {
  # DWARF unwinding: libc and libevent have no frame pointers.
  perf record -q -F 499 --call-graph dwarf,8192 -p "$pid" -o "$work/perf.data" -- sleep "$secs" 2>/dev/null &
  perf_pid=$!
}
export RG_BENCH_SITE=bench0001

# pgbench: the same SELECT, prepared, as many clients as wrk's connections.
printf "SELECT id, name, price FROM items WHERE category = 'boots' ORDER BY price, id LIMIT 20;\n" > "$work/select.sql"
out=$(pgbench -n -M prepared -c "$conns" -j 2 -T "$secs" -f "$work/select.sql" -h 127.0.0.1 \
        -p "$pgport" -U postgres catalog 2>&1)
pg_tps=$(awk '/^tps = / {print $3; exit}' <<<"$out")
pg_lat=$(awk '/^latency average/ {print $4 " ms"}' <<<"$out")
results+=("pgbench -M prepared|$pg_tps|avg $pg_lat||")

# mysqlslap: the same SELECT on MariaDB, as many clients, for about as long.
my_n=$((secs * 4000))
out=$(mariadb-slap --no-defaults --socket="$work/my/mysqld.sock" -u root --create-schema=bench \
        --concurrency="$conns" --number-of-queries="$my_n" --iterations=1 \
        --query="SELECT id, name, price FROM items WHERE category = 'boots' ORDER BY price, id LIMIT 20" 2>&1)
my_s=$(awk '/Average number of seconds to run all queries/ {print $(NF-1)}' <<<"$out")
my_qps=$(awk -v n="$my_n" -v s="$my_s" 'BEGIN { if (s > 0) printf "%.0f", n / s }')
results+=("mysqlslap (MariaDB), same SELECT|$my_qps|||")

for loops in 1 2; do
  start_gateway "$loops"
  if [ "$loops" = 2 ]; then
    # Before any load: what connections cost, without the replay cache of
    # the requests the load will send.
    fresh_idle=$(rss_kib)
    fresh_busy=$(idle_connections)
  fi
  python3 bench/prepare.py "http://127.0.0.1:$port" "$key" pg_items "$count" "$work/unc.req"
  perf_pid=
  if { [ "$perf_mode" = 1 ] || [ "$perf_mode" = uncached ]; } && [ "$loops" = 1 ]; then
    perf_start
  fi
  run_wrk "readgate uncached, $loops loop(s)" "http://127.0.0.1:$port" "$work/unc.req"
  [ -n "$perf_pid" ] && wait "$perf_pid" 2>/dev/null || true
  # Cached, readgate alone is the bottleneck: what a second loop adds.
  python3 bench/prepare.py "http://127.0.0.1:$port" "$key" pg_items_cached "$cached_count" "$work/c.req"
  if [ "$loops" = 1 ]; then
    run_wrk "readgate cached, 1 loop" "http://127.0.0.1:$port" "$work/c.req"
  fi
  if [ "$loops" = 2 ]; then
    [ "$perf_mode" = cached ] && perf_start
    run_wrk "readgate cached, 2 loops" "http://127.0.0.1:$port" "$work/c.req"
    [ -n "$perf_pid" ] && wait "$perf_pid" 2>/dev/null || true
    python3 bench/prepare.py "http://127.0.0.1:$port" "$key" my_items "$count" "$work/my.req"
    run_wrk "readgate uncached, MariaDB" "http://127.0.0.1:$port" "$work/my.req"
    # The answer's bytes, for nginx to serve.
    python3 - "$port" "$key" "$work/answer.json" <<'PY'
import json, sys
sys.path.insert(0, "tests/http")
import rgclient
port, key, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
c = rgclient.Client("127.0.0.1", port)
s = c.session("bench0001", api_key=key)
r = c.query(s, {"collection": "items", "filters": [{"field": "category", "op": "eq", "value": "boots"}],
                "sort": [{"field": "price", "dir": "asc"}], "fields": ["id", "name", "price"], "limit": 20})
open(out, "wb").write(r.body)
PY
    idle=$(rss_kib)
    busy=$(idle_connections)
  fi
  stop_gateway
done

mkdir -p "$work/www/v1/bench0001" "$work/nginx"
cp "$work/answer.json" "$work/www/answer.json"
# The same bytes at readgate's query path, for the second nginx row.
cp "$work/answer.json" "$work/www/v1/bench0001/query"
cat > "$work/nginx/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  # A POST for a static file is 405; error_page answers it with the file (as
  # a GET), so nginx can be sent readgate's own signed requests.
  server { listen 127.0.0.1:$nport; root $work/www;
           location / { default_type application/json; error_page 405 =200 \$uri; } }
}
NGINX
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" -g 'daemon off;' &
npid=$!
sleep 0.5
run_wrk "nginx, static answer ($(stat -c %s "$work/answer.json") bytes)" "http://127.0.0.1:$nport/answer.json"
nginx_plain=${results[${#results[@]}-1]}
# nginx driven exactly like readgate: the cached run's signed POSTs, through
# the same wrk script (wrk spends more per request in Lua than on a URL).
run_wrk "nginx, same answer, readgate's requests" "http://127.0.0.1:$nport" "$work/c.req"
nginx_same=${results[${#results[@]}-1]}

printf '%-38s %10s %10s %10s %8s %s\n' system req/s p50 p99 "ratio" "errors"
for r in "${results[@]}"; do
  IFS='|' read -r name rps p50 p99 bad <<<"$r"
  # MariaDB rows against mysqlslap, the others against pgbench.
  base=$pg_tps
  case $name in *MariaDB*) base=$my_qps ;; esac
  ratio=$(awk -v a="$rps" -v b="$base" 'BEGIN { if (b > 0) printf "%.2f", a / b }')
  printf '%-38s %10s %10s %10s %8s %s\n' "$name" "$rps" "$p50" "$p99" "$ratio" "${bad:-none}"
done
echo "readgate RSS before any load: $((fresh_idle / 1024)) MiB idle, $((fresh_busy / 1024)) MiB" \
     "with 1,000 idle connections ($(( (fresh_busy - fresh_idle) * 1024 / 1000 )) bytes per connection)"
echo "readgate RSS after the load: $((idle / 1024)) MiB idle, $((busy / 1024)) MiB with 1,000 idle" \
     "connections ($(( (busy - idle) * 1024 / 1000 )) bytes per connection); the replay cache" \
     "holds every signed request of the timestamp window (600 s here), 32 bytes each"
cached_rps=
for r in "${results[@]}"; do
  IFS='|' read -r name rps _ <<<"$r"
  if [ "$name" = "readgate cached, 2 loops" ]; then cached_rps=$rps; fi
done
echo "readgate cached (2 loops) vs nginx: $(awk -v a="$cached_rps" -v b="$(cut -d'|' -f2 <<<"$nginx_same")" \
      'BEGIN { if (b > 0) printf "%.2f", a / b }') (both driven by the same signed requests)," \
     "$(awk -v a="$cached_rps" -v b="$(cut -d'|' -f2 <<<"$nginx_plain")" \
      'BEGIN { if (b > 0) printf "%.2f", a / b }') (nginx driven by a plain GET)"
echo "($(nproc) cores shared by every system and its load generator; ${secs}s each, $conns connections;" \
     "readgate's PostgreSQL connections: ${RG_BENCH_WORKERS:-two per core, its default})"
if [ -f "$work/perf.data" ]; then
  echo "top costs in readgate (perf, self time, $([ "$perf_mode" = cached ] && echo cached, 2 loops || echo uncached, 1 loop)):"
  perf report -i "$work/perf.data" --stdio --no-children --sort dso,symbol 2>/dev/null |
    grep -E '^ +[0-9]' | head -25 || true
  # RG_BENCH_PERF_OUT=FILE keeps the recording (perf report -i FILE -g caller).
  if [ -n "${RG_BENCH_PERF_OUT:-}" ]; then cp "$work/perf.data" "$RG_BENCH_PERF_OUT"; fi
fi
