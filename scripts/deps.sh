#!/usr/bin/env bash
# Installs the Debian packages readgate needs, and nothing when they are
# already there. `--test` adds what the test suite needs.
set -euo pipefail

pkgs=(build-essential cmake pkg-config libevent-dev libjansson-dev libyaml-dev
      libsqlite3-dev libpq-dev libssl-dev libcurl4-openssl-dev python3)
pkgs+=(libmariadb-dev) # the mysql adapter (MariaDB Connector/C)
pkgs+=(libhiredis-dev) # the Redis rate-limit backend (hiredis + its libevent adapter)
pkgs+=(libmongoc-dev) # the mongo adapter (mongo-c-driver)
if [ "${1:-}" = "--test" ]; then
  pkgs+=(libcmocka-dev postgresql sqlite3 procps openssl)
  pkgs+=(mariadb-server mariadb-client) # throwaway MariaDB for the mysql adapter
  pkgs+=(redis-server) # throwaway Redis for the shared rate-limit tests
  pkgs+=(clang-14 clang libclang-rt-14-dev) # libFuzzer targets (tests/fuzz/run.sh)
  pkgs+=(chromium) # the JavaScript client in a real browser (tests/browser, playwright-core)
  # CongoDB, the JavaScript MongoDB server of the mongo adapter tests, runs on
  # node. Only when npm is missing: Debian's npm would replace a node from
  # another source (e.g. nodesource, which bundles its own npm).
  command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "readgate: missing packages: ${missing[*]}; run as root or install them with apt-get" >&2
  exit 1
fi
echo "readgate: installing ${missing[*]}" >&2
# Server packages must not start services on this machine: readgate's tests
# start their own throwaway servers. Only add the guard if nobody has one.
guard_added=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  guard_added=1
fi
cleanup() { [ "$guard_added" = 1 ] && rm -f /usr/sbin/policy-rc.d; return 0; }
trap cleanup EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
