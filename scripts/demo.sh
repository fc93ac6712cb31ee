#!/usr/bin/env bash
# Installs what is missing, builds readgate, and runs it in the foreground on
# the embedded demo: a SQLite catalog, site demo0001, keys made on first run.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRG_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

keys=config/demo/keys
if [ ! -s "$keys" ]; then
  (umask 077 && build/readgate keys generate --kid demo1 > "$keys")
  echo "readgate: created master key file $keys (mode 0600)" >&2
fi
build/readgate check -c config/demo/readgate.yaml >&2
exec build/readgate serve -c config/demo/readgate.yaml
