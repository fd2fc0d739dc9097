#!/usr/bin/env bash
# Installs what building, running and testing yapit needs on a Debian machine, and nothing that is
# already there. Idempotent: a second run only checks. Needs root or sudo for apt.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# Debian packages: libespeak-ng for the grapheme-to-phoneme fallback, python3-venv for the
# ONNX Runtime wheel and the model fetcher, pkg-config, a C toolchain and OpenSSL headers for
# -sys crates, PostgreSQL and Redis for the gateway (run project-locally by scripts/postgres.sh and
# scripts/redis.sh; redis-tools brings redis-benchmark for `make bench-gateway`), Node.js for the
# web player's build and Chromium for its end-to-end tests (driven by playwright-core).
APT_PACKAGES=(build-essential pkg-config libssl-dev libespeak-ng-dev espeak-ng-data python3-venv
  curl ca-certificates postgresql redis-server redis-tools chromium)
# Node.js 18 or newer; Debian's own when none is on the PATH.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  APT_PACKAGES+=(nodejs npm)
fi
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo is missing; install the Rust toolchain (rustup) first" >&2
  exit 1
fi
for c in rustfmt clippy; do
  rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
done

# Python virtual environment holding the ONNX Runtime shared library the worker loads at run time
# (ort's load-dynamic). The version is pinned here and in Cargo.toml's ort api feature.
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
ORT_VERSION=1.32.0
if ! .venv/bin/python -c "import onnxruntime, sys; sys.exit(onnxruntime.__version__ != '$ORT_VERSION')" 2>/dev/null; then
  .venv/bin/pip install -q --disable-pip-version-check "onnxruntime==$ORT_VERSION"
fi
# The `onnx` package, for the model fetcher's graph surgery (scripts/fetch_models.py exposes the
# predicted phoneme durations). Pinned: the timed model's SHA-256 is what this version writes.
ONNX_VERSION=1.23.2
if ! .venv/bin/python -c "import onnx, sys; sys.exit(onnx.__version__ != '$ONNX_VERSION')" 2>/dev/null; then
  .venv/bin/pip install -q --disable-pip-version-check "onnx==$ONNX_VERSION"
fi
