# The Higgs Audio v2 worker on an NVIDIA GPU: the binary built with `--features cuda` (candle's
# kernels compiled to PTX for CUDA_COMPUTE_CAP by nvcc from NVIDIA's wheels, scripts/cuda-toolkit.sh)
# and the CUDA runtime libraries it loads (cudart, cuBLAS, cuRAND, NVRTC) from the same wheels.
# The driver (libcuda.so.1) comes from the host through the NVIDIA Container Toolkit. The weights
# are not baked in (6 GB): compose/gpu.yaml mounts HIGGS_MODELS_DIR (docs/higgs-worker.md).
ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      g++ pkg-config libssl-dev python3-venv ca-certificates >/dev/null \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ARG CUDA_COMPUTE_CAP=90
# Folders get one fixed mtime (COPY renews them; see gateway.Dockerfile).
RUN --mount=type=cache,target=/usr/local/cargo/registry,id=yapit-cargo-registry \
    --mount=type=cache,target=/src/target,id=yapit-target-cuda,sharing=locked \
    --mount=type=cache,target=/root/.cache/pip,id=yapit-pip \
    find . -path ./target -prune -o -type d -exec touch -d @0 {} + \
 && scripts/cuda-toolkit.sh /opt/cuda-build >/tmp/cuda.env \
 && . /tmp/cuda.env \
 && cargo build --release --locked -p tts-higgs-worker --features cuda --bin tts-higgs-worker \
 && install -D target/release/tts-higgs-worker /out/tts-higgs-worker \
 && mkdir -p /out/cuda \
 && for lib in cudart cublas cublasLt curand nvrtc nvrtc-builtins; do \
      cp -L "$CUDA_ROOT"/lib/lib$lib.so.* /out/cuda/; \
    done

FROM ${RUNTIME_IMAGE}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      tini >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin yapit
COPY --from=build /out/cuda/ /opt/cuda/lib/
COPY --from=build /out/tts-higgs-worker /usr/local/bin/tts-higgs-worker
ARG GIT_COMMIT=unknown
LABEL org.opencontainers.image.revision=${GIT_COMMIT} org.opencontainers.image.title=yapit-tts-higgs-worker
ENV HIGGS_ADDR=0.0.0.0:50061 HIGGS_DEVICE=cuda \
    HIGGS_MODEL_DIR=/app/models/higgs/model HIGGS_TOKENIZER_DIR=/app/models/higgs/tokenizer \
    HIGGS_VOICES_DIR=/app/models/higgs/voices \
    LD_LIBRARY_PATH=/opt/cuda/lib \
    NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility LOG_FORMAT=json
USER yapit
WORKDIR /app
EXPOSE 50061
# gRPC health of this replica; loading 6 GB of weights and encoding the voices takes a while.
HEALTHCHECK --interval=15s --timeout=5s --start-period=600s --retries=3 CMD ["tts-higgs-worker", "probe"]
ENTRYPOINT ["tini", "--", "tts-higgs-worker"]
CMD ["serve"]
