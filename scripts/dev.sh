#!/usr/bin/env bash
# `make dev`: Postgres and Redis (project-local), KOKORO_REPLICAS Kokoro workers with
# KOKORO_THREADS threads each, and the gateway serving the web player. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${ORT_DYLIB_PATH:?ORT_DYLIB_PATH must point at libonnxruntime.so (make setup installs it)}"
export DATABASE_URL=${DATABASE_URL:-$(scripts/postgres.sh start)}
export REDIS_URL=${REDIS_URL:-$(scripts/redis.sh start)}
export GATEWAY_ADDR=${GATEWAY_ADDR:-127.0.0.1:8000}
KOKORO_ADDR=${KOKORO_ADDR:-127.0.0.1:50051}
KOKORO_REPLICAS=${KOKORO_REPLICAS:-2}
host=${KOKORO_ADDR%:*}
first_port=${KOKORO_ADDR##*:}

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

workers=()
for i in $(seq 0 $((KOKORO_REPLICAS - 1))); do
  addr="$host:$((first_port + i))"
  KOKORO_ADDR=$addr ./target/release/tts-kokoro-worker serve &
  pids+=($!)
  workers+=("http://$addr")
done
export TTS_WORKERS=${TTS_WORKERS:-$(IFS=,; echo "${workers[*]}")}
./target/release/gateway &
pids+=($!)

# Ready when every replica has answered the gateway's probe.
for _ in $(seq 1 240); do
  replicas=$(curl -fsS "http://$GATEWAY_ADDR/v1/models" 2>/dev/null \
    | python3 -c 'import json,sys; print(next(m["replicas"] for m in json.load(sys.stdin)["models"] if m["slug"] == "kokoro"))' 2>/dev/null || echo 0)
  [ "$replicas" -ge "$KOKORO_REPLICAS" ] && break
  sleep 0.5
done
cat <<MSG

  yapit is running:  http://$GATEWAY_ADDR
    API:             /v1/models, /api/health, /api/version, /v1/ws/tts (docs/api.md)
    Kokoro workers:  $TTS_WORKERS ($KOKORO_THREADS threads each)
  Ctrl-C stops everything.

MSG
wait -n "${pids[@]}"
