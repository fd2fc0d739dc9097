#!/usr/bin/env bash
# `make higgs-fixtures`: regenerates the Higgs parity fixtures from the Python reference
# (boson-multimodal 0.1.1 and torch, a few GB, in .local/higgs-reference), run by hand, never by
# CI: tiny random-weight models on the CPU, their inputs and outputs written under
# tts-higgs-worker/tests/fixtures/{model,codec}/. Deterministic: a re-run rewrites the same files.
# With HIGGS_CHECKPOINT_META=DIR (the published checkpoint's config.json and
# model.safetensors.index.json, the model repo's small files) it also rewrites the manifest.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.local/higgs-reference
if [ ! -x "$venv/bin/python" ] || ! cmp -s scripts/higgs-reference/requirements.txt "$venv/requirements.txt"; then
  echo "higgs-fixtures: installing the reference into $venv (torch, boson-multimodal; a few GB)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r scripts/higgs-reference/requirements.txt
  cp scripts/higgs-reference/requirements.txt "$venv/requirements.txt"
fi
"$venv/bin/python" scripts/higgs-reference/model_fixtures.py
"$venv/bin/python" scripts/higgs-reference/codec_fixtures.py
if [ -n "${HIGGS_CHECKPOINT_META:-}" ]; then
  "$venv/bin/python" scripts/higgs-reference/manifest.py "$HIGGS_CHECKPOINT_META"
fi
git status --short tts-higgs-worker/tests/fixtures
