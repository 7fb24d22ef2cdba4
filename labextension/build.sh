#!/bin/sh
# Build the prebuilt JupyterLab extension into loop_jupyter/labextension/ (shipped in the wheel as
# share/jupyter/labextensions/loop-jupyter, see pyproject.toml). Needs node and the jupyterlab
# Python package (for its core package versions: the shared modules the extension must match).
set -eu
cd "$(dirname "$0")"
[ -x node_modules/.bin/build-labextension ] || npm ci --no-audit --no-fund
PYTHON="${PYTHON:-python}"
CORE="$("$PYTHON" -c 'import jupyterlab, os; print(os.path.join(os.path.dirname(jupyterlab.__file__), "staging"))')"
rm -rf ../loop_jupyter/labextension/static
node_modules/.bin/build-labextension --core-path "$CORE" .
cp install.json ../loop_jupyter/labextension/install.json
