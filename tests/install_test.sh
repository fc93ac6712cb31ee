#!/bin/sh
# The customer's path, end to end, from an installation only:
#
#   install_test.sh CMAKE BUILD_DIR SOURCE_DIR PYTHON3 BINDIR LIBDIR DATADIR INCLUDEDIR
#
#  1. `cmake --install BUILD_DIR --prefix TMP` and check the layout;
#  2. configure and build the template adapter out of tree from the INSTALLED
#     copy (TMP/share/readgate/template) with CMAKE_PREFIX_PATH=TMP, and check
#     that the compile used the installed header, not the source tree;
#  3. run the installed readgate-conformance, with its default cases directory,
#     on that .so: every case, behaviour cases included, must pass;
#  4. `cmake --install` the adapter (into the installed gateway's adapters dir),
#     then have the installed gateway, with no adapters_dir in readgate.yaml,
#     load it from a site file: `readgate check`, then `readgate serve` and a
#     signed query through `readgate query`, compared with the fixture.
#
# Sanitizers: BUILD_DIR may be configured with RG_SANITIZE=ON, so the installed
# programs carry ASan/UBSan while the out-of-tree adapter is built as a
# customer builds it, without them. That works: an uninstrumented .so loads
# into an ASan program (ASan replaces malloc process-wide, so the adapter's
# allocations are still leak-checked at exit), whereas the reverse (an ASan .so
# in an uninstrumented program) would not load. ASAN_OPTIONS/LSAN_OPTIONS from
# the environment (scripts/test.sh sets them) apply to the installed programs;
# nothing else is needed.
set -eu
[ $# -eq 8 ] || { echo "usage: install_test.sh CMAKE BUILD_DIR SOURCE_DIR PYTHON3 BINDIR LIBDIR DATADIR INCLUDEDIR" >&2; exit 2; }
cmake=$1 build=$2 src=$3 python=$4 bindir=$5 libdir=$6 datadir=$7 includedir=$8

work=$(mktemp -d "${TMPDIR:-/tmp}/readgate-install.XXXXXX")
work=$(cd "$work" && pwd -P)
prefix=$work/prefix
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
run_logged() { # log, command...: run quietly, show the log when it fails
    log=$1
    shift
    rc=0
    "$@" >"$log" 2>&1 || rc=$?
    [ "$rc" -eq 0 ] || { cat "$log" >&2; fail "$* (exit $rc)"; }
}

echo "# 1. cmake --install into $prefix"
run_logged "$work/install.log" "$cmake" --install "$build" --prefix "$prefix"
for f in "$includedir/readgate/adapter.h" "$bindir/readgate" "$bindir/readgate-conformance" \
    "$libdir/readgate/adapters/readgate-adapter-sqlite.so" \
    "$libdir/cmake/readgate/readgateConfig.cmake" \
    "$datadir/readgate/conformance/collection.json" \
    "$datadir/readgate/conformance/cases/all_rows.json" \
    "$datadir/readgate/conformance/fixtures/load_jsonl.py" \
    "$datadir/readgate/template/CMakeLists.txt" \
    "$datadir/readgate/template/template_adapter.c" \
    "$datadir/readgate/template/template_adapter.h" \
    "$datadir/readgate/template/template_values.c" \
    "$datadir/readgate/template/template_query.c"; do
    [ -e "$prefix/$f" ] || fail "the installation lacks $f"
done
# The template is an example: its sources are installed, its .so is not.
[ ! -e "$prefix/$libdir/readgate/adapters/readgate-adapter-template.so" ] ||
    fail "the in-tree template adapter was installed as a first-party adapter"

echo "# 2. the template, out of tree, from $prefix/$datadir/readgate/template"
tpl=$work/template-build
run_logged "$work/configure.log" "$cmake" -S "$prefix/$datadir/readgate/template" -B "$tpl" \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_EXPORT_COMPILE_COMMANDS=ON
run_logged "$work/build.log" "$cmake" --build "$tpl"
so=$tpl/readgate-adapter-template.so
[ -f "$so" ] || fail "the out-of-tree build made no $so"
grep -q "^readgate_DIR:PATH=$prefix/$libdir/cmake/readgate\$" "$tpl/CMakeCache.txt" ||
    fail "find_package(readgate) did not use the installed package"
grep -q -- "$prefix/$includedir" "$tpl/compile_commands.json" ||
    fail "the compile did not use the installed include directory"
! grep -q -- "$src/include" "$tpl/compile_commands.json" ||
    fail "the compile used the source tree's include directory"

echo "# 3. the installed readgate-conformance on the out-of-tree adapter"
"$python" "$prefix/$datadir/readgate/conformance/fixtures/load_jsonl.py" "$work/products.jsonl"
status=0
"$prefix/$bindir/readgate-conformance" \
    --option path="$work/products.jsonl" \
    --unreachable-option path="$work/no-such-dir/products.jsonl" \
    --slow-option line_delay_us=20000 \
    "$so" >"$work/conformance.log" 2>&1 || status=$?
grep -v '^ok ' "$work/conformance.log" || true
[ "$status" -eq 0 ] || fail "readgate-conformance exited with $status"
cases=$(sed -n 's/^# cases: //p' "$work/conformance.log")
[ "$cases" = "$prefix/$datadir/readgate/conformance/cases" ] ||
    fail "readgate-conformance read its cases from '$cases', not from the installation"
errors=$(sed -n 's/^# errors: //p' "$work/conformance.log")
[ "$errors" = "$prefix/$datadir/readgate/conformance/errors" ] ||
    fail "readgate-conformance read its error cases from '$errors', not from the installation"
grep -q '^ok error/unreachable' "$work/conformance.log" || fail "the error cases did not run"
! grep -q '^n/a ' "$work/conformance.log" || fail "a behaviour case was not run"
grep -q '^[0-9][0-9]* passed, 0 failed$' "$work/conformance.log" || fail "no passing summary line"

echo "# 4. the installed gateway loads it from a site file"
run_logged "$work/install-adapter.log" "$cmake" --install "$tpl"
[ -f "$prefix/$libdir/readgate/adapters/readgate-adapter-template.so" ] ||
    fail "cmake --install of the adapter did not put it in the installed adapters dir"

ports=$("$python" -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')
port=${ports% *} admin_port=${ports#* }
etc=$work/etc
mkdir -p "$etc/sites"
cp "$work/products.jsonl" "$etc/sites/products.jsonl"
# No adapters_dir: the gateway must find the adapters of its own installation.
cat >"$etc/readgate.yaml" <<EOF
listen: "127.0.0.1:$port"
admin_listen: "127.0.0.1:$admin_port"
loop_threads: 1
workers: 2
sites_dir: sites
EOF
cat >"$etc/sites/tpl00001.yaml" <<'EOF'
site_id: tpl00001
allowed_origins: ["shop.example.com"]
allow_localhost: true
sources:
  catalog:
    adapter: template
    options:
      path: products.jsonl   # relative to this file
collections:
  products:
    source: catalog
    target: products
    key: id
    limit: {default: 20, max: 100}
    fields:
      id:         {type: integer, display: true, sortable: true}
      name:       {type: string, display: true, searchable: true}
      brand:      {type: string, column: "Brand Name", display: true, filterable: [eq, in]}
      price:      {type: number, display: true, sortable: true, filterable: [lte, between]}
      updated_at: {type: datetime, display: true, sortable: true}
EOF
READGATE_KEYS=$("$prefix/$bindir/readgate" keys generate) || fail "readgate keys generate"
export READGATE_KEYS
"$prefix/$bindir/readgate" check -c "$etc/readgate.yaml" >"$work/check.log" 2>&1 ||
    { cat "$work/check.log" >&2; fail "readgate check refused the configuration"; }
"$prefix/$bindir/readgate" serve -c "$etc/readgate.yaml" >"$work/serve.log" 2>&1 &
server_pid=$!
"$python" - "$admin_port" "$server_pid" <<'EOF' || { cat "$work/serve.log" >&2; fail "readgate serve did not become ready"; }
import os, sys, time, urllib.request
port, pid = sys.argv[1], int(sys.argv[2])
deadline = time.time() + 30
while time.time() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("readgate exited")
    try:
        with urllib.request.urlopen("http://127.0.0.1:%s/readyz" % port, timeout=5) as r:
            if r.status == 200:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.2)
sys.exit("not ready within 30 s")
EOF
"$prefix/$bindir/readgate" query --url "http://127.0.0.1:$port" --site tpl00001 \
    --origin "http://localhost:5173" --collection products \
    --filter 'brand in Acme,Zürich Works' --filter 'price<=60' --sort -price --sort id \
    --fields id,brand,price,updated_at --limit 100 >"$work/answer.json" 2>"$work/query.log" ||
    { cat "$work/query.log" "$work/answer.json" "$work/serve.log" >&2; fail "readgate query"; }
# The same question answered from the fixture itself.
"$python" - "$prefix/$datadir/readgate/conformance/fixtures/products.json" "$work/answer.json" <<'EOF' ||
import json, sys
rows = json.load(open(sys.argv[1], encoding="utf-8"))
got = json.load(open(sys.argv[2], encoding="utf-8"))
want = [r for r in rows if r.get("brand") in ("Acme", "Zürich Works")
        and r.get("price") is not None and r["price"] <= 60]
want.sort(key=lambda r: (-r["price"], r["id"]))
want = [{"id": r["id"], "brand": r["brand"], "price": r["price"],
         "updated_at": r.get("updated_at")} for r in want]
if not want:
    sys.exit("the fixture has no matching rows: the check would prove nothing")
if got.get("rows") != want or got.get("next_cursor") is not None:
    sys.exit("answer differs from the fixture:\n got  %s\n want %s" % (got, want))
print("# the gateway answered %d rows through the out-of-tree adapter" % len(want))
EOF
    fail "the gateway's answer through the template adapter is wrong"

kill -TERM "$server_pid"
status=0
wait "$server_pid" || status=$?
server_pid=
[ "$status" -eq 0 ] || { cat "$work/serve.log" >&2; fail "readgate serve exited with $status"; }
echo "# install test passed"
