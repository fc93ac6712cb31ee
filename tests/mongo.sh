#!/usr/bin/env bash
# A throwaway MongoDB-compatible server on loopback for the mongo adapter tests.
#
#   tests/mongo.sh start DIR PORT   start CongoDB on 127.0.0.1:PORT (pid file and
#                                   log in DIR) and load the conformance fixture
#   tests/mongo.sh stop DIR         stop it
#   tests/mongo.sh status DIR       exit 0 when it is running
#
# No mongod exists in Debian. The server is CongoDB, the pure-JavaScript
# MongoDB wire-protocol (OP_MSG) server whose query engine is the mingo
# library; it ships as dist_ts/congodb inside the npm package
# @push.rocks/smartmongo@2.2.0 (MIT). That package as a whole does not
# install here (it pulls in mongodb-memory-server, which downloads mongod),
# so CongoDB's own dependencies come from tests/package.json and
# tests/package-lock.json (npm ci --ignore-scripts), and dist_ts/congodb is
# taken out of the tarball that `npm pack` fetches, checked against a pinned
# sha512. Everything lands in a cache directory ignored by git
# (RG_CONGODB_CACHE, default .cache/congodb) and is reused while the lock
# file is unchanged. CongoDB keeps its data in memory and has no
# authentication: the tests connect without credentials.
#
# mingo compares JavaScript values, not in MongoDB's documented order: an
# int64 beyond 2^53 (a bson Long) never compares with a number, and strings
# compare by UTF-16 code unit instead of by UTF-8 byte (code point). The
# suites check the adapter, so the server they run against must answer like a
# real mongod, not like the emulator's JavaScript semantics: after every
# install, tests/congodb-fix-order.mjs patches the comparison functions of
# the mingo build CongoDB loads (numbers of every BSON numeric type by exact
# value, strings by code point). It checks the exact mingo version and file
# contents first and fails loudly when they changed; rerunning it is a no-op.
#
# After start, database "conformance" holds:
#   products       conformance/fixtures/products.mongo.json (300 documents)
#   products_slow  RG_CONGODB_SLOW_ROWS (default 250000) copies of those
#                  documents: CongoDB ignores maxTimeMS, so a plain read of
#                  this collection takes seconds and the timeout case sees the
#                  adapter's client-side socket deadline at work.
# and database "readgate_test" holds "shapes" (tests/adapters/mongo_shapes.json:
# embedded documents and unusual types for tests/adapters/test_mongo_adapter.c).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
CACHE=${RG_CONGODB_CACHE:-$root/.cache/congodb}
SLOW_ROWS=${RG_CONGODB_SLOW_ROWS:-250000}
SMARTMONGO=@push.rocks/smartmongo@2.2.0
# `npm view @push.rocks/smartmongo@2.2.0 dist.integrity`
SMARTMONGO_SHA512=ovVCNoJ3D0aBuKtoKaQWWQKvBngaGJq9fAPQigzji1EHsS1XyGpXWCpe5nq/ptGvBROOcpqZcOFEGAcrnb+OjA==

die() { echo "mongo.sh: $*" >&2; exit 1; }

usage() {
    echo "usage: tests/mongo.sh start DIR PORT | stop DIR | status DIR" >&2
    exit 2
}

# Node modules and the CongoDB sources, installed once into the cache.
ensure_congodb() {
    command -v node >/dev/null && command -v npm >/dev/null ||
        die "node and npm are needed (scripts/deps.sh --test installs them)"
    mkdir -p "$CACHE"
    if ! cmp -s "$here/package-lock.json" "$CACHE/package-lock.json" ||
        [ ! -d "$CACHE/node_modules/mingo" ]; then
        cp "$here/package.json" "$here/package-lock.json" "$CACHE/"
        (cd "$CACHE" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2 ||
            die "npm ci failed in $CACHE"
    fi
    if [ ! -f "$CACHE/congodb/server/CongoServer.js" ]; then
        local pack=$CACHE/pack
        rm -rf "$pack" "$CACHE/congodb"
        mkdir -p "$pack" "$CACHE/congodb"
        (cd "$pack" && npm pack "$SMARTMONGO" --silent >/dev/null) || die "npm pack $SMARTMONGO failed"
        local tgz
        tgz=$(ls "$pack"/*.tgz 2>/dev/null | head -n 1)
        [ -n "$tgz" ] || die "npm pack produced no tarball"
        local sum
        sum=$(node -e 'const c=require("crypto"),f=require("fs");
            process.stdout.write(c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"))' "$tgz")
        [ "$sum" = "$SMARTMONGO_SHA512" ] || die "$tgz: sha512 does not match the pinned value"
        tar -xzf "$tgz" -C "$CACHE/congodb" --strip-components=3 package/dist_ts/congodb ||
            die "cannot extract dist_ts/congodb from $tgz"
        rm -rf "$pack"
    fi
    # MongoDB's comparison order (see above). The script patches the
    # node_modules next to it, then imports mingo from there as CongoDB does.
    cp "$here/congodb-fix-order.mjs" "$CACHE/congodb-fix-order.mjs"
    node "$CACHE/congodb-fix-order.mjs" || die "could not make mingo compare in MongoDB's order"
    # The script resolves 'bson' and './congodb/' from where it lies.
    cp "$here/congodb.mjs" "$CACHE/congodb.mjs"
}

running() { # dir
    local pid
    [ -f "$1/congodb.pid" ] || return 1
    pid=$(cat "$1/congodb.pid")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

cmd_start() {
    local dir=$1 port=$2
    [[ $port =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$port'"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    running "$dir" && die "a server is already running from $dir"
    ensure_congodb

    node "$CACHE/congodb.mjs" serve 127.0.0.1 "$port" >"$dir/congodb.log" 2>&1 &
    echo $! >"$dir/congodb.pid"
    local i
    for i in $(seq 1 60); do
        running "$dir" || { tail -n 20 "$dir/congodb.log" >&2; die "CongoDB exited"; }
        node "$CACHE/congodb.mjs" ping "$port" >/dev/null 2>&1 && break
        sleep 0.5
    done
    node "$CACHE/congodb.mjs" ping "$port" >/dev/null ||
        { tail -n 20 "$dir/congodb.log" >&2; die "CongoDB on port $port does not answer"; }

    local fixture=$root/conformance/fixtures/products.mongo.json
    node "$CACHE/congodb.mjs" load "$port" conformance products "$fixture" >&2 ||
        die "could not load $fixture"
    node "$CACHE/congodb.mjs" load "$port" conformance products_slow "$fixture" "$SLOW_ROWS" >&2 ||
        die "could not create conformance.products_slow"
    node "$CACHE/congodb.mjs" load "$port" readgate_test shapes "$here/adapters/mongo_shapes.json" >&2 ||
        die "could not load tests/adapters/mongo_shapes.json"
}

cmd_stop() {
    local dir=$1 pid i
    running "$dir" || { rm -f "$dir/congodb.pid"; return 0; }
    pid=$(cat "$dir/congodb.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 40); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.25
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/congodb.pid"
}

[ $# -ge 2 ] || usage
case $1 in
start) [ $# -eq 3 ] || usage; cmd_start "$2" "$3" ;;
stop) [ $# -eq 2 ] || usage; cmd_stop "$2" ;;
status) [ $# -eq 2 ] || usage; running "$2" ;;
*) usage ;;
esac
