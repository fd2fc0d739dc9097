# Sourced by the benchmark scripts: finds ONNX Runtime for the workers and checks that the
# release binaries they run are built. Usage: require_release_binaries NAME…
if [ -z "${ORT_DYLIB_PATH:-}" ]; then
  ORT_DYLIB_PATH=$(ls "$PWD"/.venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.* 2>/dev/null | head -n 1 || true)
fi
: "${ORT_DYLIB_PATH:?ORT_DYLIB_PATH must point at libonnxruntime.so (make setup installs it)}"
export ORT_DYLIB_PATH

require_release_binaries() {
  local script bin
  script=$(basename "$0")
  for bin in "$@"; do
    [ -x "target/release/$bin" ] || { echo "$script: target/release/$bin is missing: cargo build --release --workspace" >&2; exit 1; }
  done
}
