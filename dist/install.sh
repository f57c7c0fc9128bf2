#!/usr/bin/env bash
# Installs topolab for the current user (or under PREFIX): the binary, the
# desktop entry, the icon and the AppStream metadata. Build it first:
#   cargo build --release
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${PREFIX:-$HOME/.local}
install -Dm755 target/release/topolab "$prefix/bin/topolab"
install -Dm644 dist/topolab.desktop "$prefix/share/applications/topolab.desktop"
install -Dm644 assets/topolab.svg "$prefix/share/icons/hicolor/scalable/apps/topolab.svg"
install -Dm644 dist/io.github.topolab.Topolab.metainfo.xml "$prefix/share/metainfo/io.github.topolab.Topolab.metainfo.xml"
echo "installed topolab under $prefix"
