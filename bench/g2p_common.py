"""What `make bench-g2p`'s comparisons share: their options, the corpus and our phonemes."""

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def options(doc: str, corpus: str) -> argparse.Namespace:
    """--bin (our worker), --model-dir and --corpus (default bench/<corpus>)."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", type=Path, default=ROOT / "target/release/tts-kokoro-worker")
    p.add_argument("--model-dir", type=Path, default=ROOT / "models")
    p.add_argument("--corpus", type=Path, default=ROOT / "bench" / corpus)
    return p.parse_args()


def corpus(path: Path) -> list[list[str]]:
    """The corpus's (category, sentence) rows; blank lines and # comments left out."""
    return [line.split("\t", 1) for line in path.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def ours(args: argparse.Namespace, voice: str, sentences: list[str]) -> list[str]:
    """`tts-kokoro-worker phonemize -` with `voice`: one line of phonemes per sentence."""
    out = subprocess.run(
        [str(args.bin), "phonemize", "--model-dir", str(args.model_dir), "--voice", voice, "-"],
        input="\n".join(sentences) + "\n", capture_output=True, text=True, check=True,
    )
    lines = out.stdout.splitlines()
    if len(lines) != len(sentences):
        sys.exit(f"bench-g2p: phonemize answered {len(lines)} lines for {len(sentences)} sentences")
    return lines
