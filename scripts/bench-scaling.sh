#!/usr/bin/env bash
# `make bench-scaling`: Kokoro replicas × threads under simulated listeners. Starts the
# project-local Postgres and Redis, gives the benchmark a database of its own (dropped on exit),
# and runs target/release/bench-scaling, which starts and stops the workers and gateway of every
# run itself. Arguments go to bench-scaling; its doc comment (bench/scaling/src/main.rs) lists
# them. Expects `cargo build --release --workspace` to have run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

source scripts/bench-common.sh
require_release_binaries gateway tts-kokoro-worker bench-scaling

ADMIN_URL=$(scripts/postgres.sh start)
REDIS_URL=$(scripts/redis.sh start)
PSQL=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)/psql
DB=yapit_bench_scaling
DATABASE_URL=${ADMIN_URL%/*}/$DB
psql_admin() { "$PSQL" "$ADMIN_URL" -qtAX -v ON_ERROR_STOP=1 "$@"; }
# The postmaster's pid, so the benchmark can count Postgres's CPU (all its backends included).
POSTGRES_PID=$(head -n 1 "$(psql_admin -c 'show data_directory')/postmaster.pid")

psql_admin -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
cleanup() { psql_admin -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM

target/release/bench-scaling --database-url "$DATABASE_URL" --redis-url "$REDIS_URL" \
  --postgres-pid "$POSTGRES_PID" --model-dir "${KOKORO_MODEL_DIR:-$ROOT/models}" "$@"
