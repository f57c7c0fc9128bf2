#!/usr/bin/env bash
# Takes assets/screenshot.png: the app with reference.ron loaded (or attached
# to a running lab: LAB=NAME), in a real
# window under Xvfb. Needs Debian's xvfb, imagemagick and xdotool, and a
# built binary (cargo build --release; TOPOLAB_BIN picks another).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${TOPOLAB_BIN:-target/release/topolab}
display=:${SCREENSHOT_DISPLAY:-98}
out=${1:-assets/screenshot.png}
Xvfb "$display" -screen 0 1360x860x24 >/dev/null 2>&1 &
xvfb=$!
app=
cleanup() { [ -n "$app" ] && kill "$app" 2>/dev/null; kill "$xvfb" 2>/dev/null; }
trap cleanup EXIT
sleep 1
# A fresh data folder: no recent files; the pointer parked off the canvas.
# With LAB=NAME: attached to that running lab, with 30 requests/s flowing.
if [ -n "${LAB:-}" ]; then
    DISPLAY=$display "$bin" gui --lab "$LAB" --traffic 30 &
    app=$!
    sleep 7
else
    DISPLAY=$display TOPOLAB_DATA_DIR=$(mktemp -d) "$bin" gui presets/reference.ron &
    app=$!
    sleep 4
fi
DISPLAY=$display xdotool mousemove 1350 850
sleep 1
DISPLAY=$display import -window root "$out"
echo "wrote $out"
