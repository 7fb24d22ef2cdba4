#!/bin/sh
# Build js/ into loop_jupyter/static/ (or into $1): chat and explorer as ES modules for anywidget,
# and their CSS. plotly.js is not bundled: the widgets fetch the installed plotly package's copy
# from Python once per page (js/plotly.js).
set -eu
cd "$(dirname "$0")"
OUT="${1:-../loop_jupyter/static}"
[ -x node_modules/.bin/esbuild ] || npm ci --no-audit --no-fund
ESBUILD=node_modules/.bin/esbuild
mkdir -p "$OUT"
"$ESBUILD" chat.js explorer.js --bundle --format=esm --target=es2020 --minify --legal-comments=eof \
  --log-level=warning --outdir="$OUT"
"$ESBUILD" chat.css explorer.css --bundle --minify --log-level=warning --outdir="$OUT"
