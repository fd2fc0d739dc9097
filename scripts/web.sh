#!/usr/bin/env bash
# The web player (web/): Preact + TypeScript, built by Vite into web/dist, which the gateway serves.
# Usage: scripts/web.sh build   install the locked dependencies if needed, build web/dist
#        scripts/web.sh test    typecheck, unit tests, build, then the end-to-end test in
#                               headless Chromium against the real stack (needs target/debug/
#                               gateway and tts-kokoro-worker, Postgres, Redis and the model)
#        scripts/web.sh e2e     only the end-to-end test (on the current web/dist)
#        scripts/web.sh dev     Vite's dev server, proxying the API to GATEWAY_URL (:8000)
#        scripts/web.sh bench-listen  first sound and stalls in headless Chromium against the
#                               stack as `make dev` runs it (release binaries; make bench-listen)
# Idempotent; installs nothing globally (dependencies go to web/node_modules).
set -euo pipefail
cd "$(dirname "$0")/../web"

need_node() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "web.sh: Node.js and npm are needed (make setup installs them)" >&2
    exit 1
  fi
  # The toolchain (Vite 6, Vitest 3, playwright-core 1.61) is chosen to run on Debian 12's own
  # Node.js 18 as well as on newer ones.
  if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)'; then
    echo "web.sh: Node.js $(node --version) is too old; 18 or later is needed" >&2
    exit 1
  fi
}

# `npm ci` when node_modules is missing or was installed from another lock file.
deps() {
  need_node
  local stamp=node_modules/.yapit-lock.sha256
  local want
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    npm ci --no-audit --no-fund --loglevel=error
    echo "$want" > "$stamp"
  fi
}

build() {
  deps
  node_modules/.bin/vite build --logLevel warn
  echo "web.sh: built web/dist"
}

e2e() {
  if [ ! -x /usr/bin/chromium ]; then
    echo "web.sh: /usr/bin/chromium is missing (make setup installs Debian's chromium)" >&2
    exit 1
  fi
  node_modules/.bin/vitest run --config vitest.e2e.config.ts
}

case "${1:-build}" in
  build)
    build
    ;;
  test)
    deps
    node_modules/.bin/tsc --noEmit
    node_modules/.bin/vitest run
    build
    e2e
    ;;
  e2e)
    deps
    [ -f dist/index.html ] || build
    e2e
    ;;
  dev)
    deps
    exec node_modules/.bin/vite
    ;;
  bench-listen)
    deps
    build
    if [ ! -x /usr/bin/chromium ]; then
      echo "web.sh: /usr/bin/chromium is missing (make setup installs Debian's chromium)" >&2
      exit 1
    fi
    STACK_PROFILE=release node_modules/.bin/vitest run --config vitest.bench-listen.config.ts
    ;;
  *)
    echo "usage: $0 build|test|e2e|dev|bench-listen" >&2
    exit 2
    ;;
esac
