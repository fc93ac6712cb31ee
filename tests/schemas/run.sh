#!/usr/bin/env bash
# The JSON Schemas of schemas/ against the configuration files, and against
# the key tables they are generated from (validate.mjs; it runs
# scripts/gen-config-docs.sh --check with $RG_BUILD_DIR/readgate, else
# build/readgate), with ajv installed from package-lock.json into
# tests/schemas/node_modules when it is missing or stale.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
stamp="$here/node_modules/.readgate-lock.sha256"
want=$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    (cd "$here" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2
    echo "$want" >"$stamp"
fi
exec node --test "$here/validate.mjs"
