#!/bin/sh
# Build js/ into loop_jupyter/static/ (or into $1): chat and explorer as ES modules for anywidget,
# their CSS, and plotly.js as a separate ES module the widgets fetch from Python once per page.
set -eu
cd "$(dirname "$0")"
OUT="${1:-../loop_jupyter/static}"
[ -x node_modules/.bin/esbuild ] || npm ci --no-audit --no-fund
ESBUILD=node_modules/.bin/esbuild
mkdir -p "$OUT"
"$ESBUILD" chat.js explorer.js --bundle --format=esm --target=es2020 --minify --legal-comments=eof \
  --log-level=warning --outdir="$OUT"
"$ESBUILD" chat.css explorer.css --bundle --minify --log-level=warning --outdir="$OUT"
# plotly.js-dist-min is already minified: wrap it as ESM minified again by esbuild (the wrapper would otherwise un-minify it).
"$ESBUILD" plotly_entry.js --bundle --format=esm --target=es2020 --minify --legal-comments=inline \
  --log-level=warning --outfile="$OUT/plotly.js"
