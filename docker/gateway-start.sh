#!/bin/sh
# The gateway image's entry point. Publishes this image's web player into WEB_DIR (a volume that
# outlives deploys) before the gateway starts: hashed assets accumulate, so a browser still
# running the previous deploy's page can load the chunks it names; index.html is copied last, so
# it never names an asset that is not there yet. Then the gateway replaces this shell (tini stays
# PID 1 and forwards SIGTERM).
set -eu
if [ "${1:-}" != probe ] && [ "${WEB_DIR:-}" != /app/web ]; then
  mkdir -p "$WEB_DIR/assets"
  cp -R /app/web/assets/. "$WEB_DIR/assets/"
  find /app/web -maxdepth 1 -type f ! -name index.html -exec cp {} "$WEB_DIR/" \;
  cp /app/web/index.html "$WEB_DIR/index.html.new"
  mv "$WEB_DIR/index.html.new" "$WEB_DIR/index.html"
fi
exec gateway "$@"
