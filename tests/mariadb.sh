#!/usr/bin/env bash
# A throwaway MariaDB server on loopback for the mysql adapter's tests.
#
#   tests/mariadb.sh start DIR PORT   create (first time) and start a server with
#                                     its data in DIR, listening on
#                                     127.0.0.1:PORT and on DIR/mysqld.sock;
#                                     (re)loads the conformance fixture into
#                                     database "conformance" and (re)creates the
#                                     read-only user rg_reader
#   tests/mariadb.sh stop DIR         stop it (shutdown, then TERM, then KILL)
#   tests/mariadb.sh status DIR       exit 0 when it is running
#
# The MariaDB user root has no password and is reachable only through the
# socket in DIR (and loopback); rg_reader may only SELECT from "conformance"
# and logs in with the password in RG_TEST_MYSQL_READER_PASSWORD (default
# "rg_reader_pw"). mariadbd refuses to run as root without being told to, so
# as root everything runs as the OS user "rgtest" (created when missing), as in
# tests/pg.sh. No option file is read (--no-defaults): the server is the same
# whatever /etc/mysql says.
set -euo pipefail

OS_USER=rgtest
READER_PASSWORD=${RG_TEST_MYSQL_READER_PASSWORD:-rg_reader_pw}
HERE=$(cd "$(dirname "$0")" && pwd)
FIXTURE=$HERE/../conformance/fixtures/products.mysql.sql

die() { echo "mariadb.sh: $*" >&2; exit 1; }

usage() {
    echo "usage: tests/mariadb.sh start DIR PORT | stop DIR | status DIR" >&2
    exit 2
}

# Run a command as the server's OS user (ourselves unless we are root).
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

# The server's pid when it is running, from its pid file.
server_pid() { # dir
    local pidfile=$1/mariadbd.pid pid
    [ -f "$pidfile" ] || return 1
    pid=$(cat "$pidfile" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

sql_root() { # dir, mariadb client args...
    local dir=$1
    shift
    mariadb --no-defaults --socket="$dir/mysqld.sock" -u root --batch "$@"
}

cmd_start() {
    local dir=$1 port=$2
    [[ $port =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$port'"
    [[ $READER_PASSWORD =~ ^[A-Za-z0-9_.-]+$ ]] ||
        die "RG_TEST_MYSQL_READER_PASSWORD may only hold A-Z a-z 0-9 _ . -"
    command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] ||
        die "mariadbd not found; install mariadb-server (scripts/deps.sh --test)"
    [ -f "$FIXTURE" ] || die "fixture $FIXTURE not found"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    ensure_os_user
    if [ "$(id -u)" -eq 0 ]; then
        chown "$OS_USER" "$dir"
        chmod 700 "$dir"
    fi
    local data=$dir/data log=$dir/mariadbd.log
    local mariadbd=/usr/sbin/mariadbd
    [ -x "$mariadbd" ] || mariadbd=$(command -v mariadbd)

    if [ ! -d "$data/mysql" ]; then
        as_owner mkdir -p "$data"
        as_owner mariadb-install-db --no-defaults --datadir="$data" \
            --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
            >"$dir/install.log" 2>&1 ||
            { tail -n 20 "$dir/install.log" >&2 || true; die "mariadb-install-db failed in $data"; }
    fi

    if server_pid "$dir" >/dev/null; then
        echo "mariadb.sh: a server is already running in $dir" >&2
    else
        # utf8mb4 with its general (case-insensitive) collation, as Debian's
        # packaged configuration has it: adapters must ask for byte order.
        as_owner "$mariadbd" --no-defaults --datadir="$data" --socket="$dir/mysqld.sock" \
            --pid-file="$dir/mariadbd.pid" --log-error="$log" \
            --bind-address=127.0.0.1 --port="$port" --skip-name-resolve \
            --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
            --innodb-buffer-pool-size=64M --innodb-flush-log-at-trx-commit=2 \
            --max-connections=200 </dev/null >/dev/null 2>&1 &
        local starter=$! i
        for i in $(seq 1 120); do
            mariadb-admin --no-defaults --socket="$dir/mysqld.sock" -u root ping \
                >/dev/null 2>&1 && break
            if ! kill -0 "$starter" 2>/dev/null; then
                tail -n 20 "$log" >&2 || true
                die "mariadbd exited during start-up"
            fi
            sleep 0.5
        done
    fi
    mariadb-admin --no-defaults --socket="$dir/mysqld.sock" -u root ping >/dev/null 2>&1 ||
        { tail -n 20 "$log" >&2 || true; die "MariaDB on port $port is not ready"; }

    # Always (re)load: the fixture is generated and may have changed since the
    # data directory was created. It drops and recreates its own objects.
    sql_root "$dir" -e "CREATE DATABASE IF NOT EXISTS conformance CHARACTER SET utf8mb4" ||
        die "could not create database conformance"
    sql_root "$dir" conformance <"$FIXTURE" || die "could not load $FIXTURE"
    local u
    for u in "'rg_reader'@'127.0.0.1'" "'rg_reader'@'localhost'"; do
        sql_root "$dir" -e "CREATE USER IF NOT EXISTS $u IDENTIFIED BY '$READER_PASSWORD';
            ALTER USER $u IDENTIFIED BY '$READER_PASSWORD';
            GRANT SELECT ON conformance.* TO $u;" ||
            die "could not create the read-only user $u"
    done
}

cmd_stop() {
    local dir=$1 pid i
    [ -d "$dir" ] || die "no server directory $dir"
    pid=$(server_pid "$dir") || return 0
    mariadb-admin --no-defaults --socket="$dir/mysqld.sock" -u root --shutdown-timeout=20 \
        shutdown >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 60); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.5
    done
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 20); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.5
    done
    kill -KILL "$pid" 2>/dev/null || true
    die "MariaDB in $dir did not stop in time; killed"
}

cmd_status() {
    server_pid "$1" >/dev/null
}

[ $# -ge 2 ] || usage
case $1 in
start) [ $# -eq 3 ] || usage; cmd_start "$2" "$3" ;;
stop) [ $# -eq 2 ] || usage; cmd_stop "$2" ;;
status) [ $# -eq 2 ] || usage; cmd_status "$2" ;;
*) usage ;;
esac
