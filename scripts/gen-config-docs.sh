#!/bin/sh
# Writes what the configuration key tables (core/config/keys_*.c) say into
# the repository: schemas/readgate.schema.json and schemas/site.schema.json
# (readgate config-schema server|site), and every key table of
# docs/configuration.md, each between its "<!-- keys:ID:begin -->" and
# "<!-- keys:ID:end -->" markers (readgate config-docs).
#
# With --check nothing is written: it shows the differences and fails when
# any of these files is not exactly what the tables print (ctest runs it so).
#
# usage: scripts/gen-config-docs.sh [--check] [READGATE]
#   READGATE: the readgate binary; default $RG_BUILD_DIR/readgate, else build/readgate
set -eu
export LC_ALL=C

check=0
if [ "${1:-}" = "--check" ]; then
    check=1
    shift
fi
root=$(cd "$(dirname "$0")/.." && pwd)
readgate=${1:-${RG_BUILD_DIR:-$root/build}/readgate}
if [ ! -x "$readgate" ]; then
    echo "gen-config-docs: no readgate binary at $readgate; build it, or name it" >&2
    exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rg-config-docs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

"$readgate" config-schema server >"$tmp/readgate.schema.json"
"$readgate" config-schema site >"$tmp/site.schema.json"
"$readgate" config-docs >"$tmp/blocks.md"

# The documentation with every marked block replaced by the printed block of
# the same id. A marker without a printed block, or a printed block without
# a marker, is an error: the documentation would miss keys.
awk -v blocks="$tmp/blocks.md" '
function id_of(line) { return substr(line, 11, length(line) - 20) }
BEGIN {
    n = 0; cur = ""
    while ((getline line < blocks) > 0) {
        if (cur == "" && line ~ /^<!-- keys:[^ ]+:begin -->$/) {
            cur = id_of(line); block[cur] = line "\n"; order[++n] = cur
        } else if (cur != "") {
            block[cur] = block[cur] line "\n"
            if (line == "<!-- keys:" cur ":end -->")
                cur = ""
        }
    }
    close(blocks)
    skip = ""; bad = 0
}
skip != "" {
    if ($0 == "<!-- keys:" skip ":end -->")
        skip = ""
    next
}
/^<!-- keys:[^ ]+:begin -->$/ {
    id = id_of($0)
    if (!(id in block)) {
        printf "docs/configuration.md:%d: no key table is called %s\n", FNR, id > "/dev/stderr"
        bad = 1
    } else {
        printf "%s", block[id]
        used[id] = 1
    }
    skip = id
    next
}
{ print }
END {
    if (skip != "") {
        printf "docs/configuration.md: <!-- keys:%s:begin --> has no end marker\n", skip > "/dev/stderr"
        bad = 1
    }
    for (i = 1; i <= n; i++)
        if (!(order[i] in used)) {
            printf "docs/configuration.md: the key table %s has no place; add <!-- keys:%s:begin --> and <!-- keys:%s:end -->\n", order[i], order[i], order[i] > "/dev/stderr"
            bad = 1
        }
    exit bad
}' "$root/docs/configuration.md" >"$tmp/configuration.md"

if [ "$check" = 1 ]; then
    status=0
    for f in schemas/readgate.schema.json schemas/site.schema.json docs/configuration.md; do
        if ! diff -u "$root/$f" "$tmp/$(basename "$f")" >"$tmp/diff"; then
            echo "$f is not what the configuration key tables (core/config/keys_*.c) say:" >&2
            cat "$tmp/diff" >&2
            status=1
        fi
    done
    if [ "$status" != 0 ]; then
        echo "Regenerate with: scripts/gen-config-docs.sh $readgate" >&2
    fi
    exit "$status"
fi

for f in schemas/readgate.schema.json schemas/site.schema.json docs/configuration.md; do
    if ! cmp -s "$tmp/$(basename "$f")" "$root/$f"; then
        cp "$tmp/$(basename "$f")" "$root/$f"
        echo "updated $f"
    fi
done
