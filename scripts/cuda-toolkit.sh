#!/usr/bin/env bash
# The CUDA 13 toolkit that building tts-higgs-worker with `--features cuda` needs, from NVIDIA's
# wheels on the Python package index: nvcc and its headers (candle compiles its kernels to PTX at
# build time), cudart, cuBLAS, cuRAND and NVRTC. No GPU and no driver are needed to build: the
# driver library (libcuda) is linked against a stub made here from the symbols cudarc declares,
# as the CUDA toolkit's own stubs/libcuda.so is; the real one comes from the host at run time
# (the NVIDIA driver, or the NVIDIA Container Toolkit in a container).
#
# Usage: scripts/cuda-toolkit.sh [DIR]   (default: .cuda)
# Prints the environment to build with, e.g. `eval "$(scripts/cuda-toolkit.sh)"` then
# `cargo build --release -p tts-higgs-worker --features cuda`.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(realpath -m "${1:-.cuda}")
# One CUDA release throughout (13.2: cudarc 0.19 knows it). nvcc's own dependencies (the device
# compiler nvvm and the crt headers) are pinned too: left free they come from a newer release,
# whose PTX this ptxas refuses.
wheels=(
  nvidia-cuda-nvcc==13.2.86
  nvidia-nvvm==13.2.86
  nvidia-cuda-crt==13.2.86
  nvidia-cuda-runtime==13.2.86
  nvidia-cuda-nvrtc==13.2.86
  nvidia-cuda-cccl==13.2.86
  nvidia-cublas==13.2.2.2
  nvidia-curand==10.4.2.66
)
stamp="$dir/.installed"
if [ "$(cat "$stamp" 2>/dev/null)" != "${wheels[*]}" ]; then
  echo "cuda-toolkit: installing ${wheels[*]} into $dir" >&2
  rm -rf "$dir"
  # The wheels take about 3 GB once unpacked (and their download beside them while pip works).
  mkdir -p "$dir"
  free_kb=$(df -Pk "$dir" | awk 'NR == 2 { print $4 }')
  if [ "$free_kb" -lt $((4 * 1024 * 1024)) ]; then
    echo "cuda-toolkit: $((free_kb / 1024)) MB free under $dir; NVIDIA's CUDA wheels need about 4 GB" >&2
    exit 1
  fi
  python3 -m venv "$dir/venv"
  if ! "$dir/venv/bin/pip" install -q --disable-pip-version-check "${wheels[@]}" >&2; then
    echo "cuda-toolkit: pip could not install NVIDIA's CUDA wheels into $dir (its message is above)" >&2
    exit 1
  fi
  root=$(echo "$dir"/venv/lib/python3*/site-packages/nvidia/cu13)
  ln -sfn "$root" "$dir/root"
  # The linker wants unversioned names; the wheels ship only the sonames.
  for lib in "$root"/lib/lib*.so.*; do
    base=$(basename "$lib"); ln -sfn "$base" "$root/lib/${base%%.so.*}.so"
  done
  echo "${wheels[*]}" >"$stamp"
fi
root="$dir/root"
# The driver stub: every cu* function cudarc's driver bindings name, each a no-op, under the
# driver's soname so the binary loads the real libcuda.so.1 at run time.
cudarc=$("${CARGO:-cargo}" metadata --format-version 1 --all-features --locked | python3 -c '
import json, sys
pkgs = json.load(sys.stdin)["packages"]
print(next(p["manifest_path"] for p in pkgs if p["name"] == "cudarc").rsplit("/", 1)[0])')
# cudarc's build looks in $CUDA_ROOT/lib/stubs, as for the toolkit's own stub.
stubs="$root/lib/stubs"
if [ ! -f "$stubs/libcuda.so" ] || [ "$stubs/libcuda.so" -ot "$cudarc/src/driver/sys/mod.rs" ]; then
  mkdir -p "$stubs"
  grep -ohE '^\s+fn cu[A-Za-z0-9_]+\(' "$cudarc"/src/driver/sys/mod.rs | sort -u \
    | sed -E 's/^\s+fn (cu[A-Za-z0-9_]+)\(/int \1(void) { return 999; }/' >"$stubs/libcuda.c"
  cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$stubs/libcuda.so" "$stubs/libcuda.c"
  # Under its soname too, so a CUDA build can start on a machine without a GPU (make test-cuda
  # checks it says so): every driver call fails there.
  ln -sfn libcuda.so "$stubs/libcuda.so.1"
fi
cat <<ENV
export CUDA_ROOT="$root" CUDA_PATH="$root" CUDA_HOME="$root"
export PATH="$root/bin:\$PATH"
export CUDA_COMPUTE_CAP="\${CUDA_COMPUTE_CAP:-90}"
ENV
