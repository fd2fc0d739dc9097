# The gateway with the web player it serves. It migrates and seeds the catalogue at start
# (SEED_ON_START, idempotent) before it listens, so every deploy applies seed/catalog.toml.
# Build from the repository root: docker build -f docker/gateway.Dockerfile --build-arg GIT_COMMIT=… .
# RUST_IMAGE, RUNTIME_IMAGE and NODE_IMAGE let an offline machine use local images
# (scripts/docker.sh bases builds them).
ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm,id=yapit-npm \
    npm ci --no-audit --no-fund --loglevel=error
COPY web/ ./
RUN node_modules/.bin/vite build --logLevel warn

FROM ${RUST_IMAGE} AS build
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      pkg-config libssl-dev ca-certificates >/dev/null \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The commit /api/version reports: build.rs bakes GIT_COMMIT in (.git is not in the context).
# Declared after the sources so a new commit reuses every layer above; the target folder is a
# cache mount, so only the crates that changed compile again. COPY gives folders a new mtime, and
# a build script that watches a folder (seed's migrations) would rerun on every build: folders get
# one fixed mtime (the files in them keep theirs, so a new migration is still seen).
ARG GIT_COMMIT=unknown
RUN --mount=type=cache,target=/usr/local/cargo/registry,id=yapit-cargo-registry \
    --mount=type=cache,target=/src/target,id=yapit-target,sharing=locked \
    find . -path ./target -prune -o -type d -exec touch -d @0 {} + \
 && GIT_COMMIT=${GIT_COMMIT} cargo build --release --locked -p gateway --bin gateway \
 && install -D target/release/gateway /out/gateway

FROM ${RUNTIME_IMAGE}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libssl3 ca-certificates tini >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin yapit \
 && mkdir -p /app /data/audio /data/web && chown yapit /data/audio /data/web
COPY --from=build /out/gateway /usr/local/bin/gateway
COPY docker/gateway-start.sh /usr/local/bin/yapit-gateway-start
COPY --from=web /web/dist /app/web
ARG GIT_COMMIT=unknown
LABEL org.opencontainers.image.revision=${GIT_COMMIT} org.opencontainers.image.title=yapit-gateway
ENV GATEWAY_ADDR=0.0.0.0:8000 WEB_DIR=/data/web AUDIO_DIR=/data/audio LOG_FORMAT=json
USER yapit
WORKDIR /app
EXPOSE 8000
# The probe asks this container's own /api/health (200 also while degraded: workers come and go).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["gateway", "probe"]
# tini as PID 1 forwards SIGTERM, on which the gateway drains as it does outside a container;
# the start script publishes the web player into WEB_DIR first (docker/gateway-start.sh).
ENTRYPOINT ["tini", "--", "yapit-gateway-start"]
