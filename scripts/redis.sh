#!/usr/bin/env bash
# Runs a project-local Redis: its own data folder (.local/redis), its own port (YAPIT_REDIS_PORT,
# default 63799), append-only persistence so queued jobs survive a restart.
# Usage: scripts/redis.sh start|stop|url
# Idempotent: `start` on a running instance only prints its URL.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${YAPIT_REDIS_PORT:-63799}
DIR=$PWD/.local/redis
URL="redis://127.0.0.1:$PORT"

if ! command -v redis-server >/dev/null 2>&1; then
  echo "redis.sh: Redis is not installed (make setup installs it)" >&2
  exit 1
fi

case "${1:-start}" in
  start)
    mkdir -p "$DIR"
    if ! redis-cli -p "$PORT" ping >/dev/null 2>&1; then
      redis-server --port "$PORT" --bind 127.0.0.1 --dir "$DIR" --daemonize yes \
        --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log" \
        --appendonly yes --appendfsync everysec --save "" --maxclients 10000 >/dev/null
      for _ in $(seq 1 50); do
        redis-cli -p "$PORT" ping >/dev/null 2>&1 && break
        sleep 0.1
      done
      redis-cli -p "$PORT" ping >/dev/null
    fi
    echo "$URL"
    ;;
  stop)
    redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
    ;;
  url)
    echo "$URL"
    ;;
  *)
    echo "usage: $0 start|stop|url" >&2
    exit 2
    ;;
esac
