#!/usr/bin/env bash
# The Japanese G2P's dictionary (models/ja-dict/): OpenJTalk's naist-jdic, built for jpreprocess
# by the worker's `build-ja-dict` from the dictionary source in Debian's open-jtalk source
# package. The source comes through apt, the project's package registry for system packages:
# deb-src lines are derived from this machine's own apt sources into a private configuration
# under models/.ja-src/, so the system's apt setup is never touched and no root is needed. The
# tarball is checked by SHA-256; a dictionary built from it is kept between runs.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
MODELS="${MODELS_DIR:-$ROOT/models}"
DEST="$MODELS/ja-dict"
WORK="$MODELS/.ja-src"
TARBALL=open-jtalk_1.11.orig.tar.gz
SHA256=20fdc6aeb6c757866034abc175820573db43e4284707c866fcd02c8ec18de71f
CARGO="${CARGO:-cargo}"

# The builder writes SOURCE last (the tarball's SHA-256 and the jpreprocess that built it, whose
# binary format the worker reads), so a dictionary half-written by an interrupted build, or one
# built by another jpreprocess than Cargo.lock's, is rebuilt.
JPREPROCESS="$(sed -n '/^name = "jpreprocess"$/{n;s/^version = "\(.*\)"$/\1/p}' "$ROOT/Cargo.lock")"
if [[ -f "$DEST/SOURCE" ]] && grep -qx "open-jtalk naist-jdic sha256 $SHA256" "$DEST/SOURCE" \
  && grep -qx "jpreprocess $JPREPROCESS" "$DEST/SOURCE"; then
  exit 0
fi

mkdir -p "$WORK"
tarball="$WORK/src/$TARBALL"
if [[ ! -f "$tarball" ]] || ! echo "$SHA256  $tarball" | sha256sum --check --status; then
  rm -rf "$WORK/src" "$WORK/lists"
  mkdir -p "$WORK/src" "$WORK/lists/partial"
  sources="$WORK/deb-src.sources"
  : >"$sources"
  # deb822 files (Debian 12 and later) and one-line lists, each with its binary lines made
  # source lines.
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] && sed 's/^Types: deb$/Types: deb-src/' "$f" >>"$sources" && echo >>"$sources"
  done
  list="$WORK/deb-src.list"
  : >"$list"
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" ]] && sed -n 's/^deb /deb-src /p' "$f" >>"$list"
  done
  apt_opts=(-o "Dir::Etc::SourceList=$list" -o "Dir::Etc::SourceParts=$WORK/parts"
    -o "Dir::State::Lists=$WORK/lists" -o "Debug::NoLocking=1"
    # Downloads as this user: apt's own _apt user may not reach models/ (its warning is noise).
    -o "APT::Sandbox::User=$(id -un)")
  mkdir -p "$WORK/parts"
  cp "$sources" "$WORK/parts/deb-src.sources"
  echo "ja-dict: fetching the open-jtalk source package through apt" >&2
  apt-get "${apt_opts[@]}" -qq update
  (cd "$WORK/src" && apt-get "${apt_opts[@]}" -qq source --download-only open-jtalk >/dev/null)
  if ! echo "$SHA256  $tarball" | sha256sum --check --status; then
    echo "ja-dict: $TARBALL is missing or fails its SHA-256 ($SHA256)" >&2
    exit 1
  fi
fi

rm -rf "$WORK/open_jtalk-1.11"
tar -xzf "$tarball" -C "$WORK" open_jtalk-1.11/mecab-naist-jdic
echo "ja-dict: building the dictionary (once)" >&2
"$CARGO" run --quiet -p tts-kokoro-worker -- build-ja-dict \
  --source "$WORK/open_jtalk-1.11/mecab-naist-jdic" --source-sha256 "$SHA256" --out "$DEST"
rm -rf "$WORK/open_jtalk-1.11"
