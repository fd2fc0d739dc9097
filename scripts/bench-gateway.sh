#!/usr/bin/env bash
# `make bench-gateway`: starts what the gateway benchmark needs (Postgres, Redis, one Kokoro
# worker, the release gateway), runs target/release/bench-gateway against it and stops it all on
# exit. Arguments go to bench-gateway; its doc comment (bench/gateway/src/main.rs) lists them and
# this script's environment. Expects `cargo build --release --workspace` to have run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

source scripts/bench-common.sh
require_release_binaries gateway tts-kokoro-worker bench-gateway

LOG_DIR=${BENCH_LOG_DIR:-$ROOT/.local/bench-gateway}
mkdir -p "$LOG_DIR"
AUDIO_DIR=$(mktemp -d "${TMPDIR:-/tmp}/bench-gateway-audio.XXXXXX")
PREFIX="bench-gateway-$$-$(date +%s):"

# 1,000 WebSocket clients and their 1,000 server ends share this process tree's limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ]; then
  echo "bench-gateway.sh: ulimit -n is $(ulimit -n); 1,000 clients need about 2,100 descriptors" >&2
fi

DATABASE_URL=$(scripts/postgres.sh start)
REDIS_URL=$(scripts/redis.sh start)
REDIS_PORT=${REDIS_URL##*:}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
WORKER_PORT=$(free_port)
GATEWAY_PORT=$(free_port)
GATEWAY=http://127.0.0.1:$GATEWAY_PORT
WORKER=http://127.0.0.1:$WORKER_PORT

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  redis-cli -p "$REDIS_PORT" --scan --pattern "$PREFIX*" 2>/dev/null |
    xargs -r -n 500 redis-cli -p "$REDIS_PORT" DEL >/dev/null 2>&1 || true
  rm -rf "$AUDIO_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

RUST_LOG=${BENCH_RUST_LOG:-warn} KOKORO_ADDR=127.0.0.1:$WORKER_PORT KOKORO_THREADS=2 \
  KOKORO_MODEL_DIR=${KOKORO_MODEL_DIR:-$ROOT/models} \
  target/release/tts-kokoro-worker serve >"$LOG_DIR/worker.log" 2>&1 &
pids+=($!)

RUST_LOG=${BENCH_RUST_LOG:-warn} GATEWAY_ADDR=127.0.0.1:$GATEWAY_PORT DATABASE_URL=$DATABASE_URL \
  REDIS_URL=$REDIS_URL REDIS_PREFIX=$PREFIX TTS_WORKERS=$WORKER AUDIO_DIR=$AUDIO_DIR \
  AUTH_ENABLED=true SIGN_IN_PER_MINUTE=1000 SIGN_UP_PER_HOUR=100000 LOG_FORMAT=json \
  target/release/gateway >"$LOG_DIR/gateway.log" 2>&1 &
pids+=($!)

# Waits until `check` succeeds, failing with the logs' tails if a child died or time ran out.
wait_for() {
  local what=$1 seconds=$2 check=$3
  for _ in $(seq 1 $((seconds * 2))); do
    if eval "$check"; then return 0; fi
    for pid in "${pids[@]}"; do
      if ! kill -0 "$pid" 2>/dev/null; then
        echo "bench-gateway.sh: a child exited while waiting for $what; logs in $LOG_DIR:" >&2
        tail -n 20 "$LOG_DIR/worker.log" "$LOG_DIR/gateway.log" >&2
        exit 1
      fi
    done
    sleep 0.5
  done
  echo "bench-gateway.sh: $what not ready after $seconds s; logs in $LOG_DIR:" >&2
  tail -n 20 "$LOG_DIR/worker.log" "$LOG_DIR/gateway.log" >&2
  exit 1
}
wait_for "the gateway's /api/health" 60 "curl -fsS --noproxy '*' $GATEWAY/api/health >/dev/null 2>&1"
# The catalogue marks kokoro available once the gateway has reached the worker.
kokoro_available='curl -fsS --noproxy "*" $GATEWAY/v1/models 2>/dev/null | python3 -c "
import json, sys
models = json.load(sys.stdin)[\"models\"]
sys.exit(0 if any(m[\"slug\"] == \"kokoro\" and m.get(\"available\", True) for m in models) else 1)"'
wait_for "kokoro in /v1/models" 180 "$kokoro_available"

target/release/bench-gateway --gateway "$GATEWAY" --worker "$WORKER" --redis-url "$REDIS_URL" "$@"
