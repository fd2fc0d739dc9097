#!/usr/bin/env bash
# `make test-cuda`: the Higgs worker's `cuda` feature builds and links here, without a GPU (nvcc,
# the headers and the CUDA libraries from NVIDIA's wheels, the driver stubbed:
# scripts/cuda-toolkit.sh). The workspace's binaries are built with the feature on, so every
# crate but candle's and the worker's is the one `make test` already built (the features of
# shared dependencies stay those of the whole workspace). Then the CUDA binary runs: on the CPU
# it speaks through the whole path with the tiny test checkpoint, and asked for a GPU where
# there is none (the stub driver) it stops with a message that says so.
set -euo pipefail
cd "$(dirname "$0")/.."
# Captured first: `eval "$(...)"` would swallow the script's failure and the build would then
# stop on a missing nvcc, far from the cause.
toolkit=$(scripts/cuda-toolkit.sh) || { echo "test-cuda: the CUDA toolkit could not be set up (above)" >&2; exit 1; }
eval "$toolkit"
"${CARGO:-cargo}" build --workspace --bins --features tts-higgs-worker/cuda
bin=target/debug/tts-higgs-worker
fixtures=tts-higgs-worker/tests/fixtures
export LD_LIBRARY_PATH="$CUDA_ROOT/lib/stubs:$CUDA_ROOT/lib"
export HIGGS_MODEL_DIR=$fixtures/model HIGGS_TOKENIZER_DIR=$fixtures/codec HIGGS_VOICES_DIR=$fixtures/voices
out=$(mktemp --suffix .wav)
trap 'rm -f "$out"' EXIT
"$bin" say --device cpu -o "$out" "The CUDA build, on the CPU."
if message=$(RUST_BACKTRACE=0 "$bin" say --device cuda -o "$out" "No GPU here." 2>&1); then
  echo "test-cuda: the CUDA build claimed a GPU on a machine without one" >&2
  exit 1
fi
grep -q "cannot open the GPU" <<<"$message" \
  || { echo "test-cuda: asked for a GPU without one, it failed otherwise: $message" >&2; exit 1; }
echo "test-cuda: ok: the cuda feature builds and links; the CUDA build speaks on the CPU and names the missing GPU"
