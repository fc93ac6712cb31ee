#!/usr/bin/env bash
# readgate's MCP endpoint tested with the official MCP TypeScript SDK.
#
#   tests/mcp/run.sh [client]              node --test client.test.mjs (default)
#   tests/mcp/run.sh conformance [SCEN...] @modelcontextprotocol/conformance server
#                                          scenarios (default: the ones that apply
#                                          to readgate, see conformance.mjs)
#   tests/mcp/run.sh install               only install the packages
#
# Environment (set by the harness that starts readgate):
#   RG_MCP_URL     the endpoint, e.g. http://127.0.0.1:PORT/v1/SITE/mcp
#   RG_MCP_BEARER  an rgk_ API key (or rgm_ MCP token) of that site
#   RG_MCP_CASES   JSON cases file (client mode only; see client.test.mjs)
#   RG_MCP_CONFORMANCE_SCENARIOS  optional, scenarios for conformance mode
#
# The packages are installed with `npm ci` from package-lock.json into
# tests/mcp/node_modules, only when node_modules is missing or was installed
# from another package.json/package-lock.json. The exit status is the test
# runner's.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
stamp="$here/node_modules/.readgate-lock.sha256"

die() { echo "tests/mcp/run.sh: $*" >&2; exit 2; }

check_node() {
    command -v node >/dev/null 2>&1 || die "node is not installed (Node.js >= 20.18.1 is needed)"
    command -v npm >/dev/null 2>&1 || die "npm is not installed"
    node -e '
        const [a, b, c] = process.versions.node.split(".").map(Number);
        process.exit(a > 20 || (a === 20 && (b > 18 || (b === 18 && c >= 1))) ? 0 : 1);
    ' || die "Node.js $(node --version) is too old: >= 20.18.1 is needed"
}

lock_sum() {
    cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -d' ' -f1
}

install() {
    check_node
    want=$(lock_sum)
    if [ -d "$here/node_modules" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    echo "tests/mcp/run.sh: npm ci in $here" >&2
    (cd "$here" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2 ||
        die "npm ci failed in $here"
    echo "$want" >"$stamp"
}

need_env() {
    for v in "$@"; do
        eval "val=\${$v:-}"
        [ -n "$val" ] || die "$v is not set"
    done
}

run_client() {
    need_env RG_MCP_URL RG_MCP_BEARER RG_MCP_CASES
    [ -r "$RG_MCP_CASES" ] || die "RG_MCP_CASES=$RG_MCP_CASES is not a readable file"
    install
    status=0
    node --test "$here/client.test.mjs" || status=$?
    return "$status"
}

run_conformance() {
    need_env RG_MCP_URL RG_MCP_BEARER
    install
    status=0
    node "$here/conformance.mjs" "$@" || status=$?
    return "$status"
}

mode=${1:-client}
[ $# -gt 0 ] && shift
case "$mode" in
    client) run_client ;;
    conformance) run_conformance "$@" ;;
    install) install ;;
    -h|--help|help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' ;;
    *) die "unknown mode '$mode' (client, conformance, install)" ;;
esac
