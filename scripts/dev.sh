#!/usr/bin/env bash
# `make dev`: the Kokoro worker and the gateway side by side, with the project-local Postgres.
# Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${ORT_DYLIB_PATH:?ORT_DYLIB_PATH must point at libonnxruntime.so (make setup installs it)}"
export DATABASE_URL=${DATABASE_URL:-$(scripts/postgres.sh start)}
export GATEWAY_ADDR=${GATEWAY_ADDR:-127.0.0.1:8000}
export KOKORO_ADDR=${KOKORO_ADDR:-127.0.0.1:50051}

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

./target/release/tts-kokoro-worker serve &
pids+=($!)
./target/release/gateway &
pids+=($!)

for _ in $(seq 1 120); do
  if curl -fsS "http://$GATEWAY_ADDR/api/health" >/dev/null 2>&1; then break; fi
  sleep 0.5
done
cat <<MSG

  yapit is running:  http://$GATEWAY_ADDR
    API:             http://$GATEWAY_ADDR/v1/models, /api/health, /api/version (docs/api.md)
    Kokoro worker:   gRPC tts.v1 on $KOKORO_ADDR
  Ctrl-C stops everything.

MSG
wait -n "${pids[@]}"
