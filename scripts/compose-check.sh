#!/usr/bin/env bash
# `make test`'s check of compose/: every overlay combination the Makefile uses must pass
# `docker compose config` with the committed example settings, its gateway must have a daily
# quota and name every worker service in TTS_WORKERS, and the Swarm stack made from it must pass
# `docker stack config`. Needs the Docker CLI and Compose, not a running engine.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/docker.sh cli
combos=(
  "compose.yaml"
  "compose.yaml cpu.yaml"
  "compose.yaml cpu.yaml prod.yaml"
  "compose.yaml cpu.yaml gpu.yaml"
  "compose.yaml cpu.yaml gpu.yaml prod.yaml"
  "compose.yaml cpu.yaml prometheus.yaml"
)
# `docker stack config` (Docker CLI 23 and later; Debian 12's docker.io has 20.10) checks the Swarm
# file without a Swarm; with an older CLI the file is only made.
stack_config=0
docker stack --help 2>/dev/null | grep -qE '^\s+config\b' && stack_config=1
stack=$(mktemp --suffix .json)
trap 'rm -f "$stack"' EXIT
for combo in "${combos[@]}"; do
  [ -f "compose/${combo##* }" ] || continue
  args=()
  for f in $combo; do args+=(-f "compose/$f"); done
  docker compose --env-file compose/.env.example "${args[@]}" config -q
  # The deployment's gateway limits what each user may have synthesized a day, and reaches
  # every worker service the files define (a worker it does not name serves nobody).
  docker compose --env-file compose/.env.example "${args[@]}" config --format json | python3 -c '
import json, sys
services = json.load(sys.stdin)["services"]
env = services["gateway"]["environment"]
quota = env.get("DAILY_CHAR_QUOTA", "0")
if int(quota) <= 0:
    sys.exit("compose-check: the gateway has no DAILY_CHAR_QUOTA")
named = env.get("TTS_WORKERS", "")
missing = [s for s in services if s.startswith("tts-") and "//" + s + ":" not in named]
if missing:
    sys.exit("compose-check: TTS_WORKERS (" + named + ") does not name " + ", ".join(missing))'
  # The Swarm stack made from the same files.
  docker compose --env-file compose/.env.example "${args[@]}" config --format json \
    | python3 scripts/swarm-stack.py >"$stack"
  if [ $stack_config = 1 ]; then
    (set -a; . compose/.env.example; docker stack config -c "$stack" >/dev/null)
    echo "compose-check: ok: ${combo// / + } (compose and Swarm)"
  else
    echo "compose-check: ok: ${combo// / + } (compose; this Docker CLI cannot check the Swarm file)"
  fi
done
