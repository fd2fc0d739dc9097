#!/usr/bin/env bash
# Runs a project-local PostgreSQL: its own data folder (.local/postgres), its own port
# (PGPORT, default 54329) and socket folder, so it never clashes with a system instance.
# Usage: scripts/postgres.sh start|stop|url
# Idempotent: `start` on a running instance only prints its URL.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PGPORT=${YAPIT_PGPORT:-54329}
BASE=$ROOT/.local/postgres
# As root the server runs as the postgres user, who may not be able to enter the checkout (a
# clone under /root, say); then the instance lives in a folder of its own named after it.
if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$ROOT" 2>/dev/null; then
  BASE=/var/tmp/yapit-postgres-$(printf %s "$ROOT" | sha256sum | cut -c1-12)
fi
DATA=$BASE/data
RUN=$BASE/run
LOG=$BASE/postgres.log
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
URL="postgres://yapit:yapit@127.0.0.1:$PGPORT/yapit"

if [ -z "$BIN" ]; then
  echo "postgres.sh: PostgreSQL is not installed (make setup installs it)" >&2
  exit 1
fi

# PostgreSQL refuses to run as root; as root the server runs as the postgres system user.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

case "${1:-start}" in
  start)
    mkdir -p "$BASE"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$BASE"; fi
    if [ ! -s "$DATA/PG_VERSION" ]; then
      pwfile=$(mktemp)
      echo yapit > "$pwfile"
      chmod 644 "$pwfile"
      as_owner "$BIN/initdb" -D "$DATA" -U yapit --pwfile="$pwfile" -A scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
      rm -f "$pwfile"
    fi
    as_owner mkdir -p "$RUN"
    if ! as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
      as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 \
        -o "-p $PGPORT -k $RUN -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" start >/dev/null
    fi
    if ! PGPASSWORD=yapit "$BIN/psql" -h 127.0.0.1 -p "$PGPORT" -U yapit -d postgres -tAc "select 1 from pg_database where datname='yapit'" | grep -q 1; then
      PGPASSWORD=yapit "$BIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U yapit yapit
    fi
    echo "$URL"
    ;;
  stop)
    as_owner "$BIN/pg_ctl" -D "$DATA" -m fast stop >/dev/null 2>&1 || true
    ;;
  url)
    echo "$URL"
    ;;
  *)
    echo "usage: $0 start|stop|url" >&2
    exit 2
    ;;
esac
