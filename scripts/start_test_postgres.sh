#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster for the studio's database tests and print its URL.
#
#   export FACEVEIL_TEST_POSTGRES_URL=$(scripts/start_test_postgres.sh)
#   .venv/bin/pytest tests/test_store.py
#   scripts/start_test_postgres.sh --stop "$FACEVEIL_TEST_POSTGRES_URL"   # or let it be
#
# Needs initdb and pg_ctl (on PATH, or Debian's under /usr/lib/postgresql/*/bin). The cluster
# lives in a new temporary directory, listens on 127.0.0.1 only (a free port, trust auth for
# the local user "faceveil"), and is removed by --stop. As root, the server runs as the
# "postgres" user when there is one, else "nobody" (PostgreSQL refuses to run as root).
set -euo pipefail

find_bin() {
    if command -v "$1" >/dev/null 2>&1; then command -v "$1"; return; fi
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -n 1 || true)
    [ -n "$found" ] || { echo "start_test_postgres: $1 not found (apt-get install postgresql)" >&2; exit 1; }
    echo "$found"
}

if [ "${1:-}" = "--stop" ]; then
    port=$(python3 -c 'import sys, urllib.parse as u; print(u.urlsplit(sys.argv[1]).port)' "$2")
    dir=$(cat "/tmp/faceveil-pg-$port.dir")
    PG_CTL=$(find_bin pg_ctl)
    run() { if [ "$(id -u)" = 0 ]; then runuser -u "$(stat -c %U "$dir")" -- "$@"; else "$@"; fi; }
    run "$PG_CTL" -D "$dir/data" -m fast stop >/dev/null
    rm -rf "$dir" "/tmp/faceveil-pg-$port.dir"
    exit 0
fi

INITDB=$(find_bin initdb)
PG_CTL=$(find_bin pg_ctl)
dir=$(mktemp -d /tmp/faceveil-pg.XXXXXX)
owner=$(id -un)
if [ "$(id -u)" = 0 ]; then
    owner=$(id -u postgres >/dev/null 2>&1 && echo postgres || echo nobody)
    chown "$owner" "$dir"
fi
run() { if [ "$(id -u)" = 0 ]; then runuser -u "$owner" -- "$@"; else "$@"; fi; }
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
run "$INITDB" -D "$dir/data" -U faceveil --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
run "$PG_CTL" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c full_page_writes=off" start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
echo "$dir" > "/tmp/faceveil-pg-$port.dir"
echo "postgresql://faceveil@127.0.0.1:$port/postgres"
