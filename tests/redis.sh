#!/usr/bin/env bash
# A throwaway Redis on loopback for the shared rate-limit tests.
#
#   tests/redis.sh start DIR PORT   start redis-server on 127.0.0.1:PORT with its
#                                   files in DIR (no persistence: nothing is saved)
#   tests/redis.sh stop DIR         stop it (SHUTDOWN NOSAVE, then SIGKILL)
#   tests/redis.sh kill DIR         SIGKILL, as a crash would (for fault tests)
#   tests/redis.sh pause DIR        SIGSTOP: connected but silent (slow Redis)
#   tests/redis.sh resume DIR       SIGCONT
#   tests/redis.sh status DIR       exit 0 when it answers PING
set -euo pipefail

REDIS_SERVER=${REDIS_SERVER:-redis-server}

die() { echo "redis.sh: $*" >&2; exit 1; }

usage() {
    echo "usage: tests/redis.sh start DIR PORT | stop DIR | kill DIR | pause DIR | resume DIR | status DIR" >&2
    exit 2
}

pid_of() { # dir
    local f=$1/redis.pid
    [ -s "$f" ] || return 1
    local pid
    pid=$(cat "$f")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

port_of() { cat "$1/port" 2>/dev/null; }

ping() { # port
    [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]
}

cmd_start() {
    local dir=$1 port=$2
    [[ $port =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$port'"
    command -v "$REDIS_SERVER" >/dev/null || die "redis-server not found; install redis-server"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if pid_of "$dir" >/dev/null; then
        echo "redis.sh: a server is already running in $dir" >&2
    else
        rm -f "$dir/redis.pid"
        echo "$port" >"$dir/port"
        # Loopback only, no persistence, no protected-mode surprises.
        "$REDIS_SERVER" --bind 127.0.0.1 --port "$port" --dir "$dir" \
            --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
            --save "" --appendonly no --protected-mode yes >/dev/null ||
            { tail -n 20 "$dir/redis.log" >&2 || true; die "could not start redis-server"; }
    fi
    local i
    for i in $(seq 1 100); do
        ping "$port" && pid_of "$dir" >/dev/null && return 0
        sleep 0.1
    done
    tail -n 20 "$dir/redis.log" >&2 || true
    die "Redis on port $port is not answering"
}

cmd_stop() {
    local dir=$1 pid port
    pid=$(pid_of "$dir") || return 0
    port=$(port_of "$dir")
    kill -CONT "$pid" 2>/dev/null || true
    [ -n "$port" ] && redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
    local i
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$dir/redis.pid"; return 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$dir/redis.pid"
}

cmd_signal() { # dir signal
    local pid
    pid=$(pid_of "$1") || die "no Redis running in $1"
    kill "-$2" "$pid"
    if [ "$2" = KILL ]; then
        local i
        for i in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        rm -f "$1/redis.pid"
    fi
}

cmd_status() {
    local port
    pid_of "$1" >/dev/null || return 1
    port=$(port_of "$1")
    ping "$port"
}

[ $# -ge 2 ] || usage
case $1 in
start) [ $# -eq 3 ] || usage; cmd_start "$2" "$3" ;;
stop) [ $# -eq 2 ] || usage; cmd_stop "$2" ;;
kill) [ $# -eq 2 ] || usage; cmd_signal "$2" KILL ;;
pause) [ $# -eq 2 ] || usage; cmd_signal "$2" STOP ;;
resume) [ $# -eq 2 ] || usage; cmd_signal "$2" CONT ;;
status) [ $# -eq 2 ] || usage; cmd_status "$2" ;;
*) usage ;;
esac
