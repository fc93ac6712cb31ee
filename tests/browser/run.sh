#!/bin/sh
# Runs the browser tests of clients/js in Debian's chromium (see README.md).
#
# Environment (all required but RG_CHROMIUM):
#   RG_GATEWAY         base URL of a running readgate, e.g. http://127.0.0.1:36101
#   RG_SITE            a site whose allowed_origins contain localhost:$RG_ALLOWED_PORT,
#                      with allow_localhost false and session_ttl_s 60
#   RG_ALLOWED_PORT    port the test serves the allowed pages on (127.0.0.1, opened
#                      as http://localhost:PORT)
#   RG_FORBIDDEN_PORT  port of the pages whose origin the site does not allow
#   RG_COLLECTION      the collection RG_EXPECT's query reads
#   RG_EXPECT          JSON file: {"query": {...}, "rows": [...], "all_rows": [...],
#                      "limited_site": "..."}
#   RG_CHROMIUM        the browser (default /usr/bin/chromium)
# Extra arguments go to `node --test` (e.g. --test-name-pattern=loader).
set -eu
cd "$(dirname "$0")"

missing=""
for v in RG_GATEWAY RG_SITE RG_ALLOWED_PORT RG_FORBIDDEN_PORT RG_COLLECTION RG_EXPECT; do
    eval "val=\${$v:-}"
    [ -n "$val" ] || missing="$missing $v"
done
if [ -n "$missing" ]; then
    echo "run.sh: set$missing (see tests/browser/README.md)" >&2
    exit 2
fi
chromium=${RG_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
    echo "run.sh: $chromium is missing: apt-get install -y chromium" >&2
    exit 2
fi
command -v node >/dev/null 2>&1 || { echo "run.sh: node (>= 20) is required" >&2; exit 2; }

# npm ci when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >&2
fi

exec node --test --test-reporter=spec "$@" browser.test.mjs
