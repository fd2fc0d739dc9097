#!/usr/bin/env python3
"""One benchmark cell for the kokoro-onnx Python package, same contract as `<ours-bin> bench`.

    kokoro_onnx_child.py --model-dir DIR --voice VOICE --threads N --runs R --text TEXT

prints exactly one JSON line on stdout:

    {"audio_seconds": f, "wall_seconds": f, "first_audio_seconds": f, "runs": R}

each value the median over R measured runs, after one unmeasured warm-up run. It is started by
bench/bench_kokoro.py in the venv that script builds (.local/bench-venv), one process per cell,
so that the parent can read this process's peak RSS with os.wait4.

What is measured (the clock starts at the request, i.e. before phonemization):
- first_audio_seconds: until `Kokoro.create_stream` (an async generator) yields its first chunk.
  kokoro-onnx only splits a text into batches past 510 phonemes, so a ~500-character paragraph
  is one batch and its first chunk is the whole synthesis.
- wall_seconds / audio_seconds: by default (--rtf-from stream) the same streamed run consumed to
  the end: wall until the last chunk, audio = total samples of all chunks / 24000. For the
  Kokoro v1.0 export (no `duration` output) `create` returns exactly the concatenated stream
  (same batches, same trimming, no extra pauses), so this saves a second synthesis per run.
  --rtf-from create instead times a separate full `Kokoro.create` call per run.

The session: onnxruntime.InferenceSession on CPUExecutionProvider with intra_op_num_threads = N,
inter_op_num_threads = 1 (sequential execution mode), handed to `Kokoro.from_session`;
lang "en-us", speed 1.0, vocabulary from <model-dir>/vocab.json.

espeak-ng (for phonemization) comes from the espeakng-loader wheel (library and data inside
the wheel, so it works offline); set PHONEMIZER_ESPEAK_LIBRARY to use another library, e.g. the
system /usr/lib/x86_64-linux-gnu/libespeak-ng.so.1 (kokoro-onnx honours that variable).
"""
import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", required=True, type=Path,
                   help="folder with kokoro-v1.0.onnx, voices/ and vocab.json")
    p.add_argument("--voice", default="af_heart")
    p.add_argument("--threads", type=int, required=True, help="ONNX Runtime intra-op threads")
    p.add_argument("--runs", type=int, default=3, help="measured runs after one warm-up (median reported)")
    p.add_argument("--text", required=True)
    p.add_argument("--model-file", default="kokoro-v1.0.onnx", help="model file name inside --model-dir")
    p.add_argument("--voices-file", default="voices",
                   help="voice folder (<slug>.bin) or npz inside --model-dir")
    p.add_argument("--rtf-from", choices=("stream", "create"), default="stream",
                   help="where wall/audio seconds come from (see module doc); default: stream")
    args = p.parse_args(argv)
    if args.runs < 1 or args.threads < 1:
        p.error("--runs and --threads must be >= 1")
    return args


def voices_npz(path):
    """kokoro-onnx reads an npz; `make models` keeps the packs as a folder of raw <slug>.bin
    (510x256 float32), which is packed into a temporary npz of 510x1x256 arrays."""
    if not path.is_dir():
        return path
    import tempfile
    import numpy as np

    packs = {p.stem: np.fromfile(p, dtype="<f4").reshape(510, 1, 256) for p in sorted(path.glob("*.bin"))}
    out = Path(tempfile.mkdtemp(prefix="bench-voices-")) / "voices.npz"
    np.savez(out, **packs)
    return out


def build(args):
    import onnxruntime as rt
    from kokoro_onnx import Kokoro

    opts = rt.SessionOptions()
    opts.intra_op_num_threads = args.threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = rt.ExecutionMode.ORT_SEQUENTIAL
    session = rt.InferenceSession(str(args.model_dir / args.model_file), sess_options=opts,
                                  providers=["CPUExecutionProvider"])
    vocab = args.model_dir / "vocab.json"
    return Kokoro.from_session(session, str(voices_npz(args.model_dir / args.voices_file)),
                               vocab_config=str(vocab) if vocab.is_file() else None)


async def streamed(kokoro, text, voice):
    """(first_chunk_s, last_chunk_s, samples, sample_rate) of one create_stream run."""
    t0 = time.perf_counter()
    first = None
    samples = 0
    sample_rate = 24000
    async for chunk, sample_rate in kokoro.create_stream(text, voice, speed=1.0, lang="en-us"):
        if first is None:
            first = time.perf_counter() - t0
        samples += len(chunk)
    return first, time.perf_counter() - t0, samples, sample_rate


def one_run(kokoro, args):
    first, wall, samples, sr = asyncio.run(streamed(kokoro, args.text, args.voice))
    if first is None:
        raise RuntimeError("create_stream yielded no audio")
    if args.rtf_from == "create":
        t0 = time.perf_counter()
        audio, sr = kokoro.create(args.text, args.voice, speed=1.0, lang="en-us")
        wall = time.perf_counter() - t0
        samples = len(audio)
    return {"audio_seconds": samples / sr, "wall_seconds": wall, "first_audio_seconds": first}


def main(argv=None):
    args = parse_args(argv)
    kokoro = build(args)
    if args.voice not in kokoro.get_voices():
        sys.exit(f"kokoro_onnx_child: voice {args.voice!r} not in {kokoro.get_voices()}")
    one_run(kokoro, args)  # warm-up, not measured
    runs = [one_run(kokoro, args) for _ in range(args.runs)]
    out = {k: statistics.median(r[k] for r in runs)
           for k in ("audio_seconds", "wall_seconds", "first_audio_seconds")}
    out["runs"] = args.runs
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
