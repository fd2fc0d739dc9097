#!/usr/bin/env python3
"""Kokoro-82M CPU benchmark: our Rust worker against the kokoro-onnx Python package.

Both implementations run the same model file, voice and texts. For every cell
(implementation x text x threads) one child process is started and waited for with os.wait4,
so each cell's peak resident memory (ru_maxrss) is its own. A child does one unmeasured warm-up
synthesis, then R measured ones, and prints the medians as one JSON line:

    {"audio_seconds": f, "wall_seconds": f, "first_audio_seconds": f, "runs": R}

Implementations
  ours         <ours-bin> bench --model-dir DIR --voice V --threads N --runs R --text TEXT
               The environment is passed through unchanged: the binary finds ONNX Runtime through
               ORT_DYLIB_PATH, e.g.
               ORT_DYLIB_PATH=.venv/lib/python3.11/site-packages/onnxruntime/capi/libonnxruntime.so.1.32.0
  kokoro-onnx  bench/kokoro_onnx_child.py (same arguments, same JSON line) run by the Python of
               the venv .local/bench-venv, which this script creates and fills from
               bench/requirements-kokoro-onnx.txt (exact pins; reused when the installed
               versions match). Intra-op threads = N, inter-op threads = 1; OMP/OpenBLAS threads
               of that child are also set to N. See that file for how it times the stream.

Metrics per cell
  RTF           audio seconds / wall seconds of the whole synthesis (higher is faster)
  first audio   seconds from request to the first audio chunk (lower is better)
  peak RSS      ru_maxrss of the child process, MiB (lower is better)
  ratios        ours / kokoro-onnx for each of the three (RTF ratio > 1: ours faster;
                first-audio and RSS ratio < 1: ours better)

Shared machines: before each cell the harness waits (--wait-idle, default 120 s) for the cores
to go idle, and it measures how much CPU other processes used during each cell (/proc/stat minus
the child's own rusage). Cells where others kept more than 0.15 cores busy are marked "busy" in
the table and the header says so: re-run those on an idle machine.

Texts: short (~30 chars), medium (~130 chars), long (~500 chars) English prose, fixed below.

Usage
  python3 bench/bench_kokoro.py                       # full matrix, 3 runs, both implementations
  python3 bench/bench_kokoro.py --only kokoro-onnx    # while `ours bench` does not exist yet
  python3 bench/bench_kokoro.py --quick               # smoke: 1 run, long text, 2 threads
  python3 bench/bench_kokoro.py --ours-bin target/release/tts-kokoro-worker --out report.md

The header (machine, date, model SHA-256 prefix, command) and markdown table go to stdout and,
with the raw JSON of every cell, to --out. Progress goes to stderr. Exit status is
non-zero if any cell failed (the table still shows the others).
"""
import argparse
import datetime
import hashlib
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENV = ROOT / ".local" / "bench-venv"
REQUIREMENTS = HERE / "requirements-kokoro-onnx.txt"
CHILD = HERE / "kokoro_onnx_child.py"

TEXTS = {
    # 28 characters
    "short": "The kettle began to whistle.",
    # 134 characters
    "medium": (
        "She folded the letter twice, slipped it into her coat pocket, and walked out into "
        "the rain without telling anyone where she was going."
    ),
    # 502 characters
    "long": (
        "The old lighthouse keeper climbed the spiral stairs every evening at dusk, counting "
        "each of the one hundred and twelve steps under his breath. From the lamp room he "
        "could see the whole bay: the fishing boats returning with their nets, the gulls "
        "circling above the harbor, and the dark line of clouds gathering over the western "
        "hills. He wiped the great lens with a soft cloth, lit the wick, and waited for the "
        "beam to sweep across the water. Tonight, he thought, the storm would arrive before "
        "midnight."
    ),
}
IMPLS = ("ours", "kokoro-onnx")
# Warn when the 1-minute load average before the matrix is above this.
LOAD_WARN = 0.5
# A cell during which processes other than its child kept more than this many cores busy on
# average (from /proc/stat minus the child's own rusage) is marked "busy" in the table.
OTHER_CORES_WARN = 0.15
CLK_TCK = os.sysconf("SC_CLK_TCK")


def busy_cpu_seconds():
    """Machine-wide non-idle CPU seconds so far (/proc/stat), None where unreadable."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    except (OSError, ValueError, IndexError):
        return None
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", choices=IMPLS, help="run one implementation only (ours columns show '-')")
    p.add_argument("--ours-bin", type=Path, default=ROOT / "target" / "release" / "tts-kokoro-worker",
                   help="our worker binary (default: %(default)s)")
    p.add_argument("--model-dir", type=Path, default=ROOT / "models",
                   help="folder with kokoro-v1.0.onnx, voices/, vocab.json (default: %(default)s)")
    p.add_argument("--model-file", default="kokoro-v1.0.onnx",
                   help="model file inside --model-dir, hashed for the header (default: %(default)s)")
    p.add_argument("--voice", default="af_heart", help="voice in voices/ (default: %(default)s)")
    p.add_argument("--runs", type=int, default=3, help="measured runs per cell after one warm-up (default: 3)")
    p.add_argument("--threads", default="1,2", help="comma-separated intra-op thread counts (default: 1,2)")
    p.add_argument("--texts", default="short,medium,long",
                   help="comma-separated subset of short,medium,long (default: all)")
    p.add_argument("--quick", action="store_true", help="smoke run: --runs 1 --texts long --threads 2")
    p.add_argument("--out", type=Path, default=ROOT / ".local" / "bench-kokoro.md",
                   help="markdown report with raw JSON (default: %(default)s)")
    p.add_argument("--venv", type=Path, default=VENV, help="venv for kokoro-onnx (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=600, help="seconds before a cell's child is killed (default: 600)")
    p.add_argument("--wait-idle", type=float, default=120,
                   help="before each cell wait up to this many seconds for other processes to leave "
                        "the cores idle (0: don't wait; default: %(default)s)")
    p.add_argument("--kokoro-onnx-rtf-from", choices=("stream", "create"), default="stream",
                   help="kokoro-onnx wall/audio from the streamed run or a separate create() call "
                        "(default: stream; see bench/kokoro_onnx_child.py)")
    args = p.parse_args(argv)
    if args.quick:
        args.runs, args.texts, args.threads = 1, "long", "2"
    try:
        args.threads = [int(t) for t in args.threads.split(",") if t.strip()]
    except ValueError:
        p.error("--threads takes comma-separated integers")
    args.texts = [t.strip() for t in args.texts.split(",") if t.strip()]
    bad = [t for t in args.texts if t not in TEXTS]
    if bad or not args.texts:
        p.error(f"--texts: unknown {bad}, choose from {list(TEXTS)}")
    if args.runs < 1 or not args.threads or min(args.threads) < 1:
        p.error("--runs and --threads must be >= 1")
    args.impls = [args.only] if args.only else list(IMPLS)
    return args


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- kokoro-onnx venv

def pins():
    out = {}
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            out[name.strip()] = version.strip()
    return out


def venv_python(venv):
    return venv / "bin" / "python"


def installed_versions(python, names):
    code = ("import json, sys, importlib.metadata as m\n"
            "out = {}\n"
            "for n in sys.argv[1:]:\n"
            "    try: out[n] = m.version(n)\n"
            "    except m.PackageNotFoundError: out[n] = None\n"
            "print(json.dumps(out))")
    r = subprocess.run([str(python), "-c", code, *names], capture_output=True, text=True)
    return json.loads(r.stdout) if r.returncode == 0 else {}


def ensure_venv(venv):
    """Create/repair the kokoro-onnx venv; returns {package: version} for the report."""
    want = pins()
    python = venv_python(venv)
    have = installed_versions(python, list(want)) if python.exists() else {}
    if have == want:
        log(f"reusing {venv}")
        return want
    if not have:  # missing, or its interpreter does not run: (re)create it
        log(f"creating venv {venv}")
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    log(f"installing {REQUIREMENTS.name} into {venv}")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-r", str(REQUIREMENTS)], check=True, stdout=sys.stderr)
    got = installed_versions(python, list(want))
    if got != want:
        raise SystemExit(f"bench: venv versions {got} do not match pins {want}")
    return got


# ---------------------------------------------------------------- one cell

def run_child(cmd, env, timeout):
    """Run cmd, return (returncode, stdout, stderr, maxrss_kib, elapsed_s, child_cpu_s,
    other_cpu_s) using os.wait4 so the peak RSS and CPU time are this child's alone."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        busy0 = busy_cpu_seconds()
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
        killed = threading.Event()

        def kill():
            killed.set()
            proc.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        elapsed = time.perf_counter() - t0
        busy1 = busy_cpu_seconds()
        own = usage.ru_utime + usage.ru_stime
        other = None if busy0 is None or busy1 is None else max(0.0, (busy1 - busy0) - own)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here; keep Popen consistent
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
        if killed.is_set():
            stderr += f"\n[bench] killed after {timeout:.0f} s timeout"
        # ru_maxrss: KiB on Linux; other: CPU seconds burnt by everything else meanwhile
        return proc.returncode, stdout, stderr, usage.ru_maxrss, elapsed, own, other


def cell_command(impl, args, text, threads):
    common = ["--model-dir", str(args.model_dir), "--voice", args.voice, "--threads", str(threads),
              "--runs", str(args.runs), "--text", text]
    if impl == "ours":
        return [str(args.ours_bin), "bench", *common], dict(os.environ)
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    cmd = [str(venv_python(args.venv)), str(CHILD), *common,
           "--model-file", args.model_file, "--rtf-from", args.kokoro_onnx_rtf_from]
    return cmd, env


def parse_result(stdout):
    lines = [l for l in stdout.splitlines() if l.strip()]
    if len(lines) != 1:
        raise ValueError(f"expected exactly one JSON line on stdout, got {len(lines)}")
    res = json.loads(lines[0])
    for key in ("audio_seconds", "wall_seconds", "first_audio_seconds", "runs"):
        if not isinstance(res.get(key), (int, float)):
            raise ValueError(f"missing or non-numeric {key!r} in {lines[0]!r}")
    if res["wall_seconds"] <= 0 or res["audio_seconds"] <= 0:
        raise ValueError(f"non-positive seconds in {lines[0]!r}")
    return res


def wait_idle(limit_s):
    """Wait (at most limit_s) until the machine has been idle for 3 s in a row, i.e. other
    processes use under OTHER_CORES_WARN cores; returns the seconds waited."""
    t0 = time.perf_counter()
    quiet = 0
    announced = False
    while time.perf_counter() - t0 < limit_s:
        b0 = busy_cpu_seconds()
        time.sleep(1.0)
        b1 = busy_cpu_seconds()
        if b0 is None or b1 is None:
            return 0.0
        quiet = quiet + 1 if b1 - b0 < OTHER_CORES_WARN else 0
        if quiet >= 3:
            break
        if not quiet and not announced:
            log(f"  machine busy ({b1 - b0:.2f} cores), waiting up to {limit_s:.0f} s for it to go idle")
            announced = True
    return time.perf_counter() - t0


def run_cell(impl, args, name, threads):
    cmd, env = cell_command(impl, args, TEXTS[name], threads)
    if args.wait_idle > 0:
        wait_idle(args.wait_idle)
    log(f"{impl:11s} {name:6s} threads={threads} runs={args.runs} ...")
    rc, stdout, stderr, maxrss_kib, elapsed, own, other = run_child(cmd, env, args.timeout)
    cell = {"impl": impl, "text": name, "chars": len(TEXTS[name]), "threads": threads,
            "returncode": rc, "child_elapsed_s": round(elapsed, 3), "child_cpu_s": round(own, 3),
            "other_cpu_s": None if other is None else round(other, 3),
            "other_cores": None if other is None else round(other / elapsed, 3),
            "peak_rss_mib": maxrss_kib / 1024}
    if cell["other_cores"] is not None and cell["other_cores"] > OTHER_CORES_WARN:
        log(f"  WARNING: other processes kept {cell['other_cores']:.2f} cores busy during this cell")
    try:
        if rc != 0:
            raise RuntimeError(f"exit status {rc}")
        res = parse_result(stdout)
    except Exception as e:  # report and keep going with the other cells
        tail = "\n".join(stderr.strip().splitlines()[-15:])
        cell["error"] = f"{e}; stdout={stdout.strip()[:500]!r}; stderr tail:\n{tail}"
        hint = ""
        if impl == "ours" and not os.environ.get("ORT_DYLIB_PATH"):
            hint = " (ORT_DYLIB_PATH is not set)"
        log(f"  FAILED{hint}: {cell['error']}")
        return cell
    cell.update(res)
    cell["rtf"] = res["audio_seconds"] / res["wall_seconds"]
    log(f"  rtf={cell['rtf']:.2f} first={res['first_audio_seconds']:.2f}s "
        f"audio={res['audio_seconds']:.2f}s rss={cell['peak_rss_mib']:.0f}MiB ({elapsed:.0f}s)")
    return cell


# ---------------------------------------------------------------- report

def sha256_prefix(path, n=12):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:n]


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def other_summary(cells):
    vals = [c["other_cores"] for c in cells if c.get("other_cores") is not None]
    if not vals:
        return "unknown"
    busy = sum(v > OTHER_CORES_WARN for v in vals)
    text = f"max {max(vals):.2f} cores"
    if busy:
        text += (f" — **{busy} cell(s) marked busy (> {OTHER_CORES_WARN} cores used by other"
                 f" processes): their numbers are skewed, re-run on an idle machine**")
    return text


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def table(cells, args):
    by = {(c["impl"], c["text"], c["threads"]): c for c in cells}
    head = ["text", "chars", "threads",
            "ours RTF", "ours first (s)", "ours RSS (MiB)",
            "k-onnx RTF", "k-onnx first (s)", "k-onnx RSS (MiB)",
            "RTF ratio", "first ratio", "RSS ratio"]
    rows = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    for name in args.texts:
        for threads in args.threads:
            vals = {}
            for impl in IMPLS:
                c = by.get((impl, name, threads))
                ok = c is not None and "error" not in c
                vals[impl] = (c["rtf"] if ok else None,
                              c["first_audio_seconds"] if ok else None,
                              c["peak_rss_mib"] if ok else None)
            o, k = vals["ours"], vals["kokoro-onnx"]
            failed = [impl for impl in IMPLS if (impl, name, threads) in by and "error" in by[(impl, name, threads)]]
            busy = [impl for impl in IMPLS if (impl, name, threads) in by
                    and (by[(impl, name, threads)].get("other_cores") or 0) > OTHER_CORES_WARN]
            label = name + (" (FAILED: " + ", ".join(failed) + ")" if failed else "") \
                + (" (busy: " + ", ".join(busy) + ")" if busy else "")
            rows.append("| " + " | ".join([
                label, str(len(TEXTS[name])), str(threads),
                fmt(o[0], ".2f"), fmt(o[1], ".2f"), fmt(o[2], ".0f"),
                fmt(k[0], ".2f"), fmt(k[1], ".2f"), fmt(k[2], ".0f"),
                fmt(ratio(o[0], k[0]), ".2f"), fmt(ratio(o[1], k[1]), ".2f"), fmt(ratio(o[2], k[2]), ".2f"),
            ]) + " |")
    return "\n".join(rows)


def header(args, versions, command, cells):
    model = args.model_dir / args.model_file
    lines = [
        "# Kokoro-82M CPU benchmark: ours vs kokoro-onnx",
        "",
        f"- machine: nproc={os.cpu_count()}, CPU: {cpu_model()}, {platform.system()} {platform.release()}",
        f"- date: {args.started} (start)",
        f"- model: {model.name} sha256:{sha256_prefix(model)}…, voice {args.voice}, "
        f"runs {args.runs} (median, after 1 warm-up), one child process per cell",
        f"- command: `{command}`",
        f"- load average (1 min) before the matrix: {args.load_start:.2f}; CPU used by other processes"
        f" during the cells: {other_summary(cells)}",
        f"- implementations: {', '.join(args.impls)}"
        + (f"; ours = {args.ours_bin}, ORT_DYLIB_PATH={os.environ.get('ORT_DYLIB_PATH', '(unset)')}"
           if "ours" in args.impls else ""),
    ]
    if versions:
        lines.append("- kokoro-onnx venv: " + ", ".join(f"{k}=={v}" for k, v in versions.items()
                                                        if k in ("kokoro-onnx", "onnxruntime", "espeakng-loader",
                                                                 "phonemizer", "numpy"))
                     + f"; wall/audio from {args.kokoro_onnx_rtf_from}")
    lines += [
        "- RTF = audio s / wall s (higher is faster); first = s to first audio chunk; RSS = peak ru_maxrss;"
        " ratios = ours / kokoro-onnx",
    ]
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    command = shlex.join(["python3", sys.argv[0], *(sys.argv[1:] if argv is None else argv)])
    model = args.model_dir / args.model_file
    if not model.is_file():
        raise SystemExit(f"bench: model {model} not found (run the model fetch step first)")
    if "ours" in args.impls and not args.ours_bin.is_file():
        raise SystemExit(f"bench: our binary {args.ours_bin} not found; build it, pass --ours-bin, "
                         f"or run with --only kokoro-onnx")
    versions = ensure_venv(args.venv) if "kokoro-onnx" in args.impls else {}

    args.started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    args.load_start = os.getloadavg()[0]
    if args.load_start > LOAD_WARN:
        log(f"WARNING: 1-minute load average is {args.load_start:.2f}; other work on this machine "
            f"will skew the numbers")
    t0 = time.perf_counter()
    cells = []
    for name in args.texts:
        for threads in args.threads:
            for impl in args.impls:
                cells.append(run_cell(impl, args, name, threads))
    log(f"matrix done in {time.perf_counter() - t0:.0f} s")

    report = header(args, versions, command, cells) + "\n\n" + table(cells, args) + "\n"
    print(report, end="")
    raw = {"texts": {n: TEXTS[n] for n in args.texts}, "cells": cells}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report + "\n## Raw results\n\n```json\n" + json.dumps(raw, indent=2) + "\n```\n")
    log(f"report written to {args.out}")
    return 1 if any("error" in c for c in cells) else 0


if __name__ == "__main__":
    sys.exit(main())
