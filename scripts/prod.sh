#!/usr/bin/env bash
# The production stack (compose/), through docker compose or as a Docker Swarm stack.
# Usage: scripts/prod.sh build          build the images (GIT_COMMIT baked in; default HEAD)
#        scripts/prod.sh up             start the stack, wait until healthy, say what runs
#        scripts/prod.sh down           stop it; volumes (database, audio) stay
#        scripts/prod.sh down-volumes   stop it and DELETE its volumes
#        scripts/prod.sh logs | ps
#        scripts/prod.sh deploy         build, start (or update the Swarm stack), wait, smoke check
#        scripts/prod.sh smoke          make smoke against URL
# Settings (environment): OVERLAYS=cpu (base + cpu + prod) or all (adds gpu: the Higgs worker on
# an NVIDIA GPU; the default where this host has the NVIDIA Container Toolkit),
# PROD_ENV (compose/.env), COMPOSE_PROJECT (yapit; the Swarm stack's name too), SWARM=1 (a Swarm
# stack instead of compose), URL (default http://127.0.0.1:GATEWAY_PORT), EXPECT_COMMIT,
# USE_LOCAL_BASES=0 (build from the official base images instead of local ones; docker.sh),
# METRICS=1 (Prometheus too, on 127.0.0.1:PROMETHEUS_PORT).
# DOCKER_HOST=ssh://user@host deploys to a remote engine; give URL then.
set -euo pipefail
cd "$(dirname "$0")/.."

PROD_ENV=${PROD_ENV:-compose/.env}
PROJECT=${COMPOSE_PROJECT:-yapit}

die() { echo "prod.sh: $*" >&2; exit 1; }
say() { echo "prod.sh: $*" >&2; }

# Whether containers here can have a GPU: the NVIDIA Container Toolkit's hook on this host (an
# engine elsewhere, DOCKER_HOST, is taken at its word).
has_gpu_runtime() {
  [ -n "${DOCKER_HOST:-}" ] || command -v nvidia-container-runtime-hook >/dev/null 2>&1 \
    || command -v nvidia-ctk >/dev/null 2>&1
}
if [ -z "${OVERLAYS:-}" ]; then
  if has_gpu_runtime; then OVERLAYS=all; else OVERLAYS=cpu; fi
fi
# The GPU overlay's worker cannot start without one: say so before anything is built or stopped.
need_gpu() {
  [ "$OVERLAYS" != all ] || has_gpu_runtime \
    || die "the GPU overlay (make prod-up) runs the Higgs worker on an NVIDIA GPU, and this host has no NVIDIA Container Toolkit (docs/higgs-worker.md); on a CPU-only host use make prod-up-cpu"
}

# The env file's values also fill the Swarm file and name the published port here.
load_env() {
  [ -f "$PROD_ENV" ] || die "$PROD_ENV is missing: copy compose/.env.example to compose/.env and set POSTGRES_PASSWORD"
  # KEY=value lines; a variable already set in the environment wins over the file, as it
  # does for compose (`make prod-up-cpu KOKORO_REPLICAS=4`).
  local line key
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in '' | '#'*) continue ;; esac
    key=${line%%=*}
    [ -n "${!key+set}" ] || export "${line?}"
  done <"$PROD_ENV"
}

files=(-f compose/compose.yaml -f compose/cpu.yaml)
case "$OVERLAYS" in
  cpu) ;;
  all) files+=(-f compose/gpu.yaml) ;;
  *) die "OVERLAYS is cpu or all, not $OVERLAYS" ;;
esac
files+=(-f compose/prod.yaml)
# METRICS=1 adds Prometheus (compose/prometheus.yaml, profile "metrics").
if [ "${METRICS:-0}" = 1 ]; then
  files+=(-f compose/prometheus.yaml --profile metrics)
fi

compose() { docker compose -p "$PROJECT" --env-file "$PROD_ENV" "${files[@]}" "$@"; }

engine() {
  scripts/docker.sh engine
  if [ "${USE_LOCAL_BASES:-1}" != 0 ]; then
    scripts/docker.sh bases
  fi
  while IFS= read -r arg; do export "${arg?}"; done < <(scripts/docker.sh args)
}

build() {
  engine
  export GIT_COMMIT=${GIT_COMMIT:-$(git rev-parse HEAD)}
  say "building the images at $GIT_COMMIT"
  compose build
}

# What runs, one line per service: replicas running and healthy.
report() {
  local services
  services=$(compose config --services)
  echo "prod.sh: project $PROJECT runs:"
  for service in $services; do
    local ids total=0 healthy=0
    ids=$(compose ps -q "$service" 2>/dev/null || true)
    for id in $ids; do
      total=$((total + 1))
      [ "$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id")" = healthy ] && healthy=$((healthy + 1))
    done
    printf '  %-12s %d running, %d healthy\n' "$service" "$total" "$healthy"
  done
  if [ "$OVERLAYS" = all ]; then
    local gpu
    gpu=$(comm -13 <(OVERLAYS=cpu "$0" services) <(echo "$services" | sort))
    if [ -z "$gpu" ]; then
      echo "  GPU overlay: no GPU service defined"
    else
      echo "  GPU overlay: $(echo "$gpu" | tr '\n' ' ')"
    fi
  fi
  echo "  gateway: http://127.0.0.1:${GATEWAY_PORT##*:}"
}

up() {
  engine
  export GIT_COMMIT=${GIT_COMMIT:-$(git rev-parse HEAD)}
  compose up -d --remove-orphans --wait --wait-timeout "${WAIT_SECS:-600}"
  report
}

# The stack file for Swarm: the overlays merged by compose, then cleaned for `docker stack`.
swarm_up() {
  engine
  if [ "$(docker info -f '{{.Swarm.LocalNodeState}}')" != active ]; then
    say "this engine is no Swarm manager; starting a one-node Swarm"
    docker swarm init --advertise-addr 127.0.0.1 >/dev/null
  fi
  local stack
  stack=$(mktemp --suffix .json)
  compose config --format json | python3 scripts/swarm-stack.py >"$stack"
  docker stack deploy --prune -c "$stack" "$PROJECT" >&2
  rm -f "$stack"
  say "waiting for every service of stack $PROJECT to run its replicas"
  local deadline=$((SECONDS + ${WAIT_SECS:-600}))
  until [ -z "$(docker stack services "$PROJECT" --format '{{.Replicas}}' | awk -F/ '$1 != $2')" ]; do
    [ $SECONDS -lt $deadline ] || { docker stack ps "$PROJECT" --no-trunc >&2; die "stack $PROJECT did not converge"; }
    sleep 3
  done
  docker stack services "$PROJECT"
}

wait_healthy() {
  local url=$1 deadline=$((SECONDS + ${WAIT_SECS:-600}))
  say "waiting for $url/api/health"
  until curl -fsS -o /dev/null "$url/api/health"; do
    [ $SECONDS -lt $deadline ] || die "$url/api/health never answered"
    sleep 2
  done
}

smoke() {
  local url=${URL:-http://127.0.0.1:${GATEWAY_PORT##*:}}
  cargo build -q -p smoke
  # The models this stack runs workers for: each must serve every catalogue voice.
  local models=kokoro
  [ "$OVERLAYS" = all ] && models=kokoro,higgs
  SMOKE_MODELS=${SMOKE_MODELS:-$models} ./target/debug/smoke --url "$url" ${EXPECT_COMMIT:+--expect-commit "$EXPECT_COMMIT"} \
    ${EXPECT_REPLICAS:+--expect-replicas "$EXPECT_REPLICAS"}
}

deploy() {
  export GIT_COMMIT=${GIT_COMMIT:-$(git rev-parse HEAD)}
  [ -z "$(git status --porcelain 2>/dev/null)" ] || say "warning: the checkout has uncommitted changes; the images hold them but name $GIT_COMMIT"
  build
  if [ "${SWARM:-0}" = 1 ]; then swarm_up; else up; fi
  local url=${URL:-http://127.0.0.1:${GATEWAY_PORT##*:}}
  wait_healthy "$url"
  # A deploy passes only when the smoke check does, on the commit it built; Swarm may need a
  # moment to retire the old tasks, so a failed check is repeated a few times before it counts.
  local tries=${SMOKE_TRIES:-5}
  for i in $(seq 1 "$tries"); do
    if URL=$url EXPECT_COMMIT=$GIT_COMMIT smoke; then
      say "deployed $GIT_COMMIT to $url"
      return 0
    fi
    [ "$i" -lt "$tries" ] && { say "smoke check failed; again in 10 s ($i of $tries)"; sleep 10; }
  done
  die "DEPLOY FAILED: the smoke check of $url does not pass for $GIT_COMMIT"
}

[ "${1:-}" = smoke ] || load_env
GATEWAY_PORT=${GATEWAY_PORT:-8000}

case "${1:-}" in
  build) build ;;
  up) need_gpu; up ;;
  down)
    if [ "${SWARM:-0}" = 1 ]; then docker stack rm "$PROJECT"; else compose down --remove-orphans; fi
    say "stopped; the volumes (database, Redis, audio) are kept" ;;
  down-volumes)
    say "stopping $PROJECT and DELETING its volumes: $(compose config --volumes | sed "s/^/${PROJECT}_/" | tr '\n' ' ')"
    compose down --remove-orphans --volumes ;;
  logs) compose logs -f --tail "${TAIL:-200}" ;;
  ps) if [ "${SWARM:-0}" = 1 ]; then docker stack ps "$PROJECT"; else compose ps; fi ;;
  services) compose config --services | sort ;;
  deploy) need_gpu; deploy ;;
  smoke) smoke ;;
  *) die "usage: scripts/prod.sh build|up|down|down-volumes|logs|ps|deploy|smoke" ;;
esac
