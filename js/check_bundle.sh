#!/bin/sh
# CI: rebuild js/ into a temp dir and fail if the committed bundle in loop_jupyter/static differs.
set -eu
cd "$(dirname "$0")"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
sh build.sh "$TMP"
STATUS=0
for f in chat.js explorer.js chat.css explorer.css; do
  if ! cmp -s "$TMP/$f" "../loop_jupyter/static/$f"; then
    echo "loop_jupyter/static/$f differs from a fresh build of js/: run js/build.sh and commit" >&2
    STATUS=1
  fi
done
# Nothing else lives in static/ (plotly.js comes from the plotly package, not from here).
for f in ../loop_jupyter/static/*; do
  case "$(basename "$f")" in chat.js|explorer.js|chat.css|explorer.css) ;;
    *) echo "$f is not built from js/: remove it" >&2; STATUS=1 ;; esac
done
[ "$STATUS" = 0 ] && echo "committed bundle matches js/ sources"
exit "$STATUS"
