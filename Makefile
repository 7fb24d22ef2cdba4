# Two commands do all set-up on a fresh machine:  make demo  and  make test
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
QUESTION ?= What are the most common errors?

.PHONY: demo ask lab test test-wheel test-fast browser-deps bundle check-bundle bench lint

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'  # dev includes the [lab] extra
	touch $@

# The main job: JupyterLab on a copy of the quickstart notebook over the built-in demo logs (after a
# terminal answer). The copies go to work/ (gitignored; never linted or tested), not the repository root.
# Run as root, `loop-jupyter lab` passes --allow-root. Without a browser (CI=1 or NO_LAB=1) JupyterLab
# starts headless, the quickstart is fetched from it, and it stops.
demo: $(VENV)/.installed
	$(PY) -m loop_jupyter ask "$(QUESTION)"
	@if [ -z "$$CI" ] && [ -z "$$NO_LAB" ]; then $(PY) -m loop_jupyter lab --dir work; \
	else $(PY) -m loop_jupyter lab --dir work --check; fi

ask: $(VENV)/.installed
	$(PY) -m loop_jupyter ask "$(QUESTION)"

lab: $(VENV)/.installed
	$(PY) -m loop_jupyter lab --dir work

# Debian's chromium for the browser tests (playwright cannot download browsers here), and faketime
# for tests/test_clock_shift.py (answers re-checked at instants that once broke them).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing: browser tests will be skipped"; fi; }
	@command -v faketime >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null; } \
	      || echo "faketime not installed: the clock-shift tests will be skipped"; \
	  else echo "faketime missing: the clock-shift tests will be skipped"; fi; }

# Rebuild js/ with the pinned esbuild and fail if the committed bundle differs from its source.
check-bundle:
	@if command -v npm >/dev/null 2>&1; then \
	  [ -d js/node_modules ] || npm ci --prefix js --no-audit --no-fund --silent; \
	  sh js/check_bundle.sh; \
	else echo "npm missing: bundle drift check skipped"; fi

test: $(VENV)/.installed browser-deps check-bundle
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest tests notebooks --nbval-lax -p no:cacheprovider -m "not wheel" --durations=25

# The wheel as a user installs it: built, installed into a fresh venv from the package index, asked a
# question, its packaged quickstart served and executed (tests/test_wheel_install.py; .ci/run runs it).
test-wheel: $(VENV)/.installed
	$(PY) -m pytest tests/test_wheel_install.py -m wheel -p no:cacheprovider -q --durations=5

test-fast: $(VENV)/.installed
	$(PY) -m pytest tests -m "not browser and not slow and not wheel" -x -q

bench: $(VENV)/.installed
	$(PY) bench/run_all.py

lint: $(VENV)/.installed
	$(PY) -m ruff check . && $(PY) -m ruff format --check .
