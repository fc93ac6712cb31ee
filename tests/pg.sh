#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster on loopback for the adapter and HTTP tests.
#
#   tests/pg.sh start DIR PORT   create (first time) and start a cluster in DIR,
#                                listening on 127.0.0.1:PORT; creates database
#                                "catalog" and the read-only role rg_reader
#   tests/pg.sh stop DIR         stop it (fast, then immediate)
#   tests/pg.sh status DIR       exit 0 when it is running
#
# Starting an existing, stopped cluster re-uses it: its data and roles stay.
# The superuser "postgres" is trusted on loopback and the unix socket in DIR;
# rg_reader logs in over TCP with the password in RG_TEST_PG_READER_PASSWORD
# (default "rg_reader_pw"). PostgreSQL refuses to run as root, so as root the
# binaries run as the OS user "rgtest" (created when missing).
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
OS_USER=rgtest
READER_PASSWORD=${RG_TEST_PG_READER_PASSWORD:-rg_reader_pw}

die() { echo "pg.sh: $*" >&2; exit 1; }

usage() {
    echo "usage: tests/pg.sh start DIR PORT | stop DIR | status DIR" >&2
    exit 2
}

# Run a command as the cluster's OS user (ourselves unless we are root).
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "$OS_USER" -- "$@"
    else
        "$@"
    fi
}

ensure_os_user() {
    [ "$(id -u)" -eq 0 ] || return 0
    if ! id "$OS_USER" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$OS_USER" ||
            die "could not create OS user $OS_USER"
    fi
}

psql_super() { # port, database, psql args...
    local port=$1 db=$2
    shift 2
    as_owner psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$db" "$@"
}

cmd_start() {
    local dir=$1 port=$2
    [[ $port =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$port'"
    [ -x "$PGBIN/initdb" ] || die "$PGBIN/initdb not found; install postgresql-15"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    ensure_os_user
    if [ "$(id -u)" -eq 0 ]; then
        chown "$OS_USER" "$dir"
        chmod 700 "$dir"
    fi
    local data=$dir/data sock=$dir/sock log=$dir/postgres.log fresh=0

    if [ ! -f "$data/PG_VERSION" ]; then
        fresh=1
        as_owner mkdir -p "$data" "$sock"
        as_owner "$PGBIN/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 \
            --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
            { cat "$dir/initdb.log" >&2; die "initdb failed in $data"; }
        # Loopback only; the superuser is trusted, everyone else needs a password.
        as_owner sh -c "cat >'$data/pg_hba.conf'" <<'EOF'
local all postgres                 trust
host  all postgres  127.0.0.1/32   trust
host  all all       127.0.0.1/32   scram-sha-256
EOF
    fi

    if as_owner "$PGBIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        echo "pg.sh: a server is already running in $data" >&2
    else
        as_owner "$PGBIN/pg_ctl" -D "$data" -l "$log" -w -t 30 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $sock -c fsync=off -c max_connections=100 -c shared_preload_libraries=pg_stat_statements" \
            start >/dev/null || { tail -n 20 "$log" >&2 || true; die "could not start PostgreSQL"; }
    fi

    local i
    for i in $(seq 1 60); do
        pg_isready -q -h 127.0.0.1 -p "$port" && break
        sleep 0.5
    done
    pg_isready -q -h 127.0.0.1 -p "$port" || die "PostgreSQL on port $port is not ready"

    [ "$fresh" -eq 1 ] || return 0
    # The catalog uses an ICU (natural language) collation on purpose: results
    # must still come back in byte order, so adapters have to ask for it.
    if ! psql_super "$port" postgres -c \
        "CREATE DATABASE catalog TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'" \
        2>/dev/null; then
        psql_super "$port" postgres -c "CREATE DATABASE catalog TEMPLATE template0 ENCODING 'UTF8'" ||
            die "could not create database catalog"
    fi
    psql_super "$port" catalog -v pw="$READER_PASSWORD" >/dev/null <<'EOF' || die "could not create role rg_reader"
CREATE ROLE rg_reader LOGIN PASSWORD :'pw' NOSUPERUSER NOCREATEDB NOCREATEROLE;
ALTER ROLE rg_reader SET default_transaction_read_only = on;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT CONNECT ON DATABASE catalog TO rg_reader;
GRANT USAGE ON SCHEMA public TO rg_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO rg_reader;
EOF
}

cmd_stop() {
    local dir=$1 data=$1/data
    [ -f "$data/PG_VERSION" ] || die "no cluster in $dir"
    as_owner "$PGBIN/pg_ctl" -D "$data" status >/dev/null 2>&1 || return 0
    if ! as_owner "$PGBIN/pg_ctl" -D "$data" -m fast -w -t 20 stop >/dev/null 2>&1; then
        as_owner "$PGBIN/pg_ctl" -D "$data" -m immediate -w -t 20 stop >/dev/null ||
            die "could not stop PostgreSQL in $data"
    fi
}

cmd_status() {
    local data=$1/data
    [ -f "$data/PG_VERSION" ] || return 1
    as_owner "$PGBIN/pg_ctl" -D "$data" status >/dev/null 2>&1
}

[ $# -ge 2 ] || usage
case $1 in
start) [ $# -eq 3 ] || usage; cmd_start "$2" "$3" ;;
stop) [ $# -eq 2 ] || usage; cmd_stop "$2" ;;
status) [ $# -eq 2 ] || usage; cmd_status "$2" ;;
*) usage ;;
esac
