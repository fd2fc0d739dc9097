# yapit: two commands on a fresh Debian machine.
#   make dev   installs what is missing, fetches the model, builds and runs the product
#   make test  installs what is missing, builds and runs every check and test
SHELL := /bin/bash
.DEFAULT_GOAL := help

CARGO ?= cargo
# The ONNX Runtime library from the onnxruntime wheel `setup` installs. Found by the shell when a
# recipe runs: make's own $(wildcard) caches the folder as it was before `setup` ran.
WITH_ORT = ORT_DYLIB_PATH=$${ORT_DYLIB_PATH:-$$(ls $(CURDIR)/.venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.* 2>/dev/null | head -n 1)}
export KOKORO_MODEL_DIR ?= $(CURDIR)/models
KOKORO_ADDR ?= 127.0.0.1:50051
KOKORO_THREADS ?= 2
KOKORO_REPLICAS ?= 2
export KOKORO_ADDR KOKORO_THREADS KOKORO_REPLICAS

.PHONY: help setup models db redis web build dev test test-web test-compose lint fmt fuzz chaos bench-kokoro bench-gateway bench-scaling bench-g2p bench-listen test-cuda build-higgs-cuda higgs-fixtures clean
.PHONY: prod-build prod-up prod-up-cpu prod-down prod-down-volumes prod-logs prod-ps deploy smoke test-deploy

help:
	@echo "make dev           run the product (installs, fetches the model, builds)"
	@echo "make test          every check and test (installs and fetches what they need)"
	@echo "make chaos         fault scenarios on loopback; a table, and non-zero if anything is lost"
	@echo "make fuzz          property tests of the socket parser and the document parser, many cases"
	@echo "make models        fetch and verify the model files into models/, build the Japanese dictionary"
	@echo "make db            start the project-local PostgreSQL"
	@echo "make redis         start the project-local Redis"
	@echo "make bench-kokoro  Kokoro worker vs kokoro-onnx: real-time factor, first audio, memory"
	@echo "make bench-gateway the synthesis pipeline under load, beside redis-benchmark and a direct gRPC call"
	@echo "make bench-scaling Kokoro replicas x threads under simulated listeners: table, plots, capacity rule"
	@echo "make bench-listen  play click to first sound, and stalls, in Chromium: segments vs whole blocks"
	@echo ""
	@echo "Deployment (docs/deploy.md; settings in compose/.env, from compose/.env.example):"
	@echo "make prod-up-cpu   build if needed and run the stack with Kokoro on CPU (docker compose)"
	@echo "make prod-up       the same with the GPU overlay"
	@echo "make deploy        build at HEAD, bring the stack up (SWARM=1: a Swarm stack), smoke-check it"
	@echo "make smoke URL=…   check a running deployment from outside [EXPECT_COMMIT=…]"
	@echo "make prod-build | prod-down | prod-down-volumes | prod-logs | prod-ps"
	@echo "make test-deploy   really deploy: compose, redeploy, slug repair, Swarm; leaves nothing behind"
	@echo "make bench-g2p     our English and Japanese G2P against misaki's, by category"
	@echo "make build-higgs-cuda  the Higgs worker with CUDA kernels (no GPU needed to build)"
	@echo "make higgs-fixtures    regenerate the Higgs parity fixtures from the Python reference (by hand)"

setup:
	@./scripts/setup.sh

models: setup
	@.venv/bin/python scripts/fetch_models.py
	@CARGO="$(CARGO)" scripts/ja-dict.sh

# The project-local PostgreSQL (own data folder and port; see scripts/postgres.sh).
db: setup
	@scripts/postgres.sh start >/dev/null

# The project-local Redis (own data folder and port; see scripts/redis.sh).
redis: setup
	@scripts/redis.sh start >/dev/null

# The web player, built into web/dist (served by the gateway).
web: setup
	@scripts/web.sh build

# Release binaries of what `make dev` runs; the Higgs worker is built for a GPU host by
# build-higgs-cuda (its CPU build is what `make test` checks).
build: setup
	$(CARGO) build --release --workspace --exclude tts-higgs-worker

dev: models db redis build web
	@$(WITH_ORT) scripts/dev.sh

lint: setup
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test: models db redis lint test-compose
	$(WITH_ORT) DATABASE_URL=$$(scripts/postgres.sh url) REDIS_URL=$$(scripts/redis.sh url) $(CARGO) test --workspace
	$(MAKE) --no-print-directory test-web
	$(MAKE) --no-print-directory test-cuda

# The Higgs worker's `cuda` feature builds and links here, without a GPU (NVIDIA's wheels into
# .cuda/, the driver stubbed), and the CUDA binary runs on the CPU (scripts/test-cuda.sh). Last
# in `make test`: it reuses the workspace's debug build and compiles only candle's CUDA side.
test-cuda: setup
	@CARGO="$(CARGO)" scripts/test-cuda.sh

# The Higgs worker built for a GPU host (CUDA_COMPUTE_CAP: 90 H100/H200, 89 L4, 86 A10, 80 A100):
# target/cuda/release/tts-higgs-worker, loading cudart, cuBLAS, cuRAND and NVRTC from .cuda/root/lib
# or the system's CUDA 13 (docs/higgs-worker.md).
build-higgs-cuda: setup
	@toolkit=$$(scripts/cuda-toolkit.sh) && eval "$$toolkit" \
	 && $(CARGO) build --release -p tts-higgs-worker --features cuda --target-dir target/cuda

# The Higgs parity fixtures, made by hand from the Python reference (boson-multimodal and torch,
# a few GB, in .local/higgs-reference): tiny random-weight models run on the CPU, their outputs
# committed under tts-higgs-worker/tests/fixtures/ (docs/higgs-worker.md).
higgs-fixtures:
	@scripts/higgs-reference/make-fixtures.sh

# `docker compose config` of every overlay combination (needs the Docker CLI and Compose only).
test-compose:
	@scripts/compose-check.sh

# The web player's unit tests and its end-to-end test in headless Chromium against the real
# stack (the debug binaries of the gateway and the worker).
test-web: models db redis
	$(CARGO) build --workspace --bins
	$(WITH_ORT) scripts/web.sh test

fmt:
	$(CARGO) fmt --all

# Fault scenarios on loopback (workers dying, a worker process and the gateway binary SIGKILLed,
# Redis restarts, a gateway stopping, a sign-up flood, one user's 24 sockets): prints a table,
# fails if anything is lost, stuck, rendered or billed twice, or silent over 5 s. About a minute;
# stops by itself.
chaos: db redis
	DATABASE_URL=$$(scripts/postgres.sh url) REDIS_URL=$$(scripts/redis.sh url) $(CARGO) test -p gateway --test api chaos:: -- --ignored --nocapture

# Property tests ("fuzzing" on stable Rust) of the WebSocket message parser and the Markdown, HTML
# and plain text -> blocks path, with FUZZ_CASES generated inputs each (default 20,000); bounded,
# needs no database. A failure prints the smallest input that fails; keep it as a test.
fuzz: setup
	PROPTEST_CASES=$${FUZZ_CASES:-20000} $(CARGO) test -p gateway --lib -- documents::parse::tests::fuzz:: listen::frames::tests::any_

bench-kokoro: models build
	$(WITH_ORT) python3 bench/bench_kokoro.py --ours-bin ./target/release/tts-kokoro-worker --model-dir $(KOKORO_MODEL_DIR) $(BENCH_ARGS)

bench-gateway: models db redis build
	$(WITH_ORT) scripts/bench-gateway.sh $(BENCH_ARGS)

# Replicas x threads over the machine's grid, 3 runs each (BENCH_ARGS="--grid 1x2,2x1 --repeats 3",
# "--url https://…" for a running deployment); report and plots in .local/bench-scaling/.
bench-scaling: models db redis build
	$(WITH_ORT) scripts/bench-scaling.sh $(BENCH_ARGS)

# What a listener waits for, in headless Chromium against the stack as `make dev` runs it
# (release binaries, KOKORO_REPLICAS x KOKORO_THREADS): play click to first sound and stall time
# over BENCH_SECONDS (60) at 1x and 2x, with segments and with whole-block playback; a table.
# About five minutes once built.
bench-listen: models db redis
	$(CARGO) build --release -p gateway -p tts-kokoro-worker --bins
	$(WITH_ORT) scripts/web.sh bench-listen

# Deployment: scripts/prod.sh does the work (docs/deploy.md). Kokoro's model is baked into its
# image from models/, so every target that may build depends on `models`.
prod-build: models
	@scripts/prod.sh build

prod-up: models
	@OVERLAYS=all scripts/prod.sh up

prod-up-cpu: models
	@OVERLAYS=cpu scripts/prod.sh up

prod-down:
	@scripts/prod.sh down

prod-down-volumes:
	@scripts/prod.sh down-volumes

prod-logs:
	@scripts/prod.sh logs

prod-ps:
	@scripts/prod.sh ps

deploy: models
	@scripts/prod.sh deploy

smoke:
	@test -n "$(URL)" || { echo "usage: make smoke URL=https://… [EXPECT_COMMIT=…]" >&2; exit 2; }
	@URL="$(URL)" EXPECT_COMMIT="$(EXPECT_COMMIT)" scripts/prod.sh smoke

test-deploy: models
	@scripts/test-deploy.sh
# Our English G2P against misaki 0.9.4 with spaCy, then our Japanese G2P against its JAG2P (its own
# venv in .local/bench-g2p/).
bench-g2p: models build
	scripts/bench-g2p.sh $(BENCH_ARGS)

clean:
	$(CARGO) clean
