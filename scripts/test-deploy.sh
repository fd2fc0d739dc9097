#!/usr/bin/env bash
# `make test-deploy`: deploys yapit for real with this machine's Docker Engine and checks it as a
# user would. Installs and starts what is missing (scripts/docker.sh), then:
#   1. builds the images at HEAD and brings the CPU stack up with two Kokoro replicas
#   2. `make smoke` against it: every check passes and the version is HEAD
#   3. creates a user and a document, redeploys with another GIT_COMMIT and checks that the
#      version changed, the user and the document survived, the seed left the catalogue as it
#      was, and the previous deploy's asset URL still answers
#   4. corrupts a voice slug in the database by hand, redeploys, and shows the smoke check fail
#      naming the slug
#   5. deploys the same files as a Swarm stack, scales Kokoro to 3 replicas, sees all three in
#      /api/health, runs the smoke check, removes the stack
#   6. leaves nothing behind: containers, networks and the test's volumes are removed (and the
#      one-node Swarm, if the test started it); the images stay as the next run's cache
# Ports 18100 (compose) and 18101 (Swarm). Prints the time of each step.
set -euo pipefail
cd "$(dirname "$0")/.."

PROJECT=yapit-test-deploy
STACK=yapit-test-swarm
WORK=.local/test-deploy
export IMAGE_TAG=test-deploy OVERLAYS=cpu METRICS=1
mkdir -p "$WORK"
ENV_FILE=$WORK/env
cat >"$ENV_FILE" <<EOF
POSTGRES_PASSWORD=test-deploy-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
GATEWAY_PORT=18100
KOKORO_REPLICAS=2
KOKORO_THREADS=1
COOKIE_SECURE=true
SIGN_IN_PER_MINUTE=100
PROMETHEUS_PORT=18102
OPERATOR_TOKEN=operator-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
EOF
# The smoke checks read /api/health's details with it.
OPERATOR_TOKEN=$(sed -n 's/^OPERATOR_TOKEN=//p' "$ENV_FILE")
export OPERATOR_TOKEN
export PROD_ENV=$ENV_FILE COMPOSE_PROJECT=$PROJECT
URL=http://127.0.0.1:18100
HEAD_COMMIT=$(git rev-parse HEAD)

say() { printf '\ntest-deploy: %s\n' "$*"; }
fail() { printf '\ntest-deploy: FAILED: %s\n' "$*" >&2; exit 1; }
compose() {
  docker compose -p "$PROJECT" --env-file "$ENV_FILE" -f compose/compose.yaml -f compose/cpu.yaml \
    -f compose/prod.yaml -f compose/prometheus.yaml --profile metrics "$@"
}
timings=()
step_started=$SECONDS
step_done() {
  timings+=("$(printf '%-44s %4d s' "$1" $((SECONDS - step_started)))")
  step_started=$SECONDS
}

scripts/docker.sh engine
swarm_was=$(docker info -f '{{.Swarm.LocalNodeState}}')
gwbridge_was=$(docker network ls -q --filter name=^docker_gwbridge$)

cleanup() {
  local rc=$?
  set +e
  say "cleaning up"
  if [ "$(docker info -f '{{.Swarm.LocalNodeState}}' 2>/dev/null)" = active ]; then
    docker stack rm "$STACK" >/dev/null 2>&1
    for _ in $(seq 1 60); do
      [ -z "$(docker ps -aq --filter "label=com.docker.stack.namespace=$STACK")" ] \
        && [ -z "$(docker network ls -q --filter "label=com.docker.stack.namespace=$STACK")" ] && break
      sleep 2
    done
    if [ "$swarm_was" != active ]; then
      docker swarm leave --force >/dev/null
      # Leaving keeps the bridge Swarm made for its nodes' own traffic.
      [ -n "$gwbridge_was" ] || docker network rm docker_gwbridge >/dev/null 2>&1
    fi
  fi
  compose down --remove-orphans --volumes --timeout 20 >/dev/null 2>&1
  docker volume ls -q --filter "name=^${STACK}_" | xargs -r docker volume rm >/dev/null
  rm -f "$ENV_FILE"
  # Nothing of the test may remain.
  local left
  left=$( (docker ps -aq --filter "label=com.docker.compose.project=$PROJECT"
    docker ps -aq --filter "label=com.docker.stack.namespace=$STACK"
    docker network ls -q --filter "label=com.docker.compose.project=$PROJECT"
    docker network ls -q --filter "label=com.docker.stack.namespace=$STACK"
    docker volume ls -q --filter "label=com.docker.compose.project=$PROJECT"
    docker volume ls -q --filter "name=^${STACK}_") | sort -u)
  if [ -n "$left" ]; then
    echo "test-deploy: left behind: $left" >&2
    rc=1
  else
    echo "test-deploy: nothing left behind (containers, networks, volumes of the test)"
  fi
  if [ ${#timings[@]} -gt 0 ]; then
    echo "test-deploy: timings (this machine, $(nproc) cores):"
    printf '  %s\n' "${timings[@]}"
  fi
  exit $rc
}
trap cleanup EXIT
# A leftover of an interrupted run goes first.
compose down --remove-orphans --volumes --timeout 5 >/dev/null 2>&1 || true
step_done "engine and base images ready"

say "1. build at $HEAD_COMMIT and bring the CPU stack up (2 Kokoro replicas)"
GIT_COMMIT=$HEAD_COMMIT scripts/prod.sh build
step_done "1. build the images (HEAD)"
GIT_COMMIT=$HEAD_COMMIT scripts/prod.sh up
step_done "1. prod-up-cpu until healthy"

say "2. smoke check: all pass, version = HEAD"
URL=$URL EXPECT_COMMIT=$HEAD_COMMIT EXPECT_REPLICAS=2 scripts/prod.sh smoke
step_done "2. smoke check"
# Prometheus (profile metrics) scrapes both replicas and the gateway, and sees the smoke check's
# work in the gateway's and the workers' metrics.
prometheus() {
  curl -fsS --get http://127.0.0.1:18102/api/v1/query --data-urlencode "query=$1" \
    | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
for query in 'count(up{job="tts-kokoro"} == 1)' 'count(up{job="gateway"} == 1)' \
  'sum(yapit_jobs_total{outcome="cached"})' 'sum(yapit_worker_audio_seconds_total)' \
  'sum(yapit_cache_lookups_total)' 'sum(yapit_live_replicas{model="kokoro"})'; do
  value=""
  for _ in $(seq 1 30); do
    value=$(prometheus "$query" 2>/dev/null || true)
    [ -n "$value" ] && [ "$value" != 0 ] && break
    sleep 2
  done
  [ -n "$value" ] && [ "$value" != 0 ] || fail "Prometheus has no $query"
  echo "ok  Prometheus: $query = $value"
done
[ "$(prometheus 'count(up{job="tts-kokoro"} == 1)')" = 2 ] || fail "Prometheus does not scrape both Kokoro replicas"
step_done "2. metrics in Prometheus"

say "3. a user and a document survive a redeploy with another commit"
email="survivor-$(date +%s)@example.org"
token=$(curl -fsS -X POST "$URL/v1/auth/sign-up" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"test deploy survivor\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
document=$(curl -fsS -X POST "$URL/v1/documents" -H "authorization: Bearer $token" \
  -H 'content-type: application/json' -d '{"title":"Survivor","text":"This document outlives a deploy."}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
catalogue_before=$(curl -fsS "$URL/v1/models" | python3 -c 'import json,sys; m=json.load(sys.stdin)["models"]; print(json.dumps([(x["slug"],[v["slug"] for v in x["voices"]]) for x in m]))')
asset=$(curl -fsS "$URL/" | grep -o '"/assets/[^"]*"' | head -n 1 | tr -d '"')
[ -n "$asset" ] || fail "index.html names no asset"
# This commit's web build is the one the redeploy brings too, so its hashes do not change; an
# older deploy's chunk is stood in for by a copy under another hash, put where that deploy would
# have left it (the web volume).
old_asset=/assets/index-olderdeploy.js
compose exec -T gateway cp "/data/web$asset" "/data/web$old_asset"
# A commit that differs from HEAD; only what depends on it is rebuilt.
NEXT_COMMIT=$(printf 'redeploy of %s' "$HEAD_COMMIT" | sha1sum | cut -d' ' -f1)
step_done "3. user, document, snapshot"
GIT_COMMIT=$NEXT_COMMIT scripts/prod.sh build
step_done "3. rebuild with another GIT_COMMIT"
GIT_COMMIT=$NEXT_COMMIT scripts/prod.sh up
step_done "3. redeploy until healthy"
commit=$(curl -fsS "$URL/api/version" | python3 -c 'import json,sys; print(json.load(sys.stdin)["commit"])')
[ "$commit" = "$NEXT_COMMIT" ] || fail "after the redeploy /api/version says $commit, expected $NEXT_COMMIT"
echo "ok  version changed to $NEXT_COMMIT"
token=$(curl -fsS -X POST "$URL/v1/auth/sign-in" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"test deploy survivor\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') \
  || fail "the user $email cannot sign in after the redeploy"
echo "ok  the user signs in after the redeploy"
title=$(curl -fsS "$URL/v1/documents/$document" -H "authorization: Bearer $token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["title"])') \
  || fail "the document $document is gone after the redeploy"
[ "$title" = Survivor ] || fail "the document came back as $title"
echo "ok  the document survived"
catalogue_after=$(curl -fsS "$URL/v1/models" | python3 -c 'import json,sys; m=json.load(sys.stdin)["models"]; print(json.dumps([(x["slug"],[v["slug"] for v in x["voices"]]) for x in m]))')
[ "$catalogue_before" = "$catalogue_after" ] || fail "the catalogue changed across the redeploy"
echo "ok  the seed left the catalogue as it was"
curl -fsS -o /dev/null "$URL$old_asset" || fail "the previous deploy's $old_asset no longer answers"
echo "ok  the previous deploy's $old_asset still answers"
URL=$URL EXPECT_COMMIT=$NEXT_COMMIT scripts/prod.sh smoke
step_done "3. checks after the redeploy"

say "4. a voice slug corrupted by hand: the redeploy's smoke check names it"
voice=$(curl -fsS "$URL/v1/models" | python3 -c 'import json,sys; print([m for m in json.load(sys.stdin)["models"] if m["slug"] == "kokoro"][0]["voices"][0]["slug"])')
corrupted=${voice}_corrupted
changed=$(compose exec -T postgres psql -U yapit -d yapit -c \
  "UPDATE voices SET slug = '$corrupted' WHERE slug = '$voice'")
[ "$changed" = "UPDATE 1" ] || fail "renaming the voice $voice by hand changed no row ($changed)"
# The deploy: the gateway restarts, migrates and seeds before it serves.
compose up -d --wait --force-recreate --no-deps gateway
set +e
out=$(URL=$URL scripts/prod.sh smoke 2>&1)
rc=$?
set -e
echo "$out"
if [ $rc -eq 0 ]; then
  fail "the smoke check passed with a corrupted slug in the database"
fi
grep -q "FAIL  slugs .*kokoro/$corrupted" <<<"$out" || fail "the smoke check failed without naming kokoro/$corrupted"
restored=$(compose exec -T postgres psql -tA -U yapit -d yapit -c "SELECT count(*) FROM voices WHERE slug = '$voice'")
[ "$restored" = 1 ] || fail "the seed did not put $voice back"
echo "ok  the seed put $voice back and the smoke check names the stray $corrupted"
step_done "4. slug corruption"
compose down --remove-orphans --volumes --timeout 20
step_done "   compose stack down"

say "5. the same files as a Swarm stack; Kokoro scaled to 3"
sed -i 's/^GATEWAY_PORT=.*/GATEWAY_PORT=18101/' "$ENV_FILE"
METRICS=0 SWARM=1 COMPOSE_PROJECT=$STACK GIT_COMMIT=$HEAD_COMMIT URL=http://127.0.0.1:18101 scripts/prod.sh deploy
step_done "5. make deploy SWARM=1 (smoke included)"
docker service scale --detach "${STACK}_tts-kokoro=3" >/dev/null
replicas=0
for _ in $(seq 1 150); do
  replicas=$(curl -fsS -H "authorization: Bearer $OPERATOR_TOKEN" http://127.0.0.1:18101/api/health 2>/dev/null \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["models"]["kokoro"]["replicas"])' 2>/dev/null || echo 0)
  [ "$replicas" -ge 3 ] && break
  sleep 2
done
[ "$replicas" -ge 3 ] || fail "/api/health shows $replicas Kokoro replicas after scaling to 3"
echo "ok  /api/health shows 3 Kokoro replicas"
URL=http://127.0.0.1:18101 EXPECT_COMMIT=$HEAD_COMMIT EXPECT_REPLICAS=3 scripts/prod.sh smoke
step_done "5. scale to 3, smoke check"

say "6. remove everything"
# (the EXIT trap removes the stack, the volumes and the Swarm, and checks nothing is left)
