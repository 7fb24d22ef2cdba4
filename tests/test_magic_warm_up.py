"""``%load_ext loop_jupyter`` imports, in the background, what the first Plotly figure shown in a kernel
imports (nbformat → jsonschema → rfc3987_syntax's ~40 lark grammars: 2-3 s on 2 cores, measured 9 s
under load). The first ``%loop`` answer with a chart paid it: in a fresh kernel "%loop plot latency"
took 5.1 s when asked 4 s after loading the extension, 1.6 s with the warm-up (4.7 → 2.9 s asked at once).

Each case runs in a fresh interpreter: the warm-up only matters, and only starts, where nbformat is not
imported yet (pytest's plugins import it here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("nbformat")
ROOT = Path(__file__).resolve().parents[1]

PRELUDE = """
import json, sys, threading
from datetime import datetime, timezone
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
import loop_jupyter as lj
from loop_jupyter import magic
"""


def _run(script: str, tmp_path: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LOOP_JUPYTER_LOG_RUNS": "0", "LOOP_JUPYTER_CONFIG": "none.toml"}
    for key in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "LOOP_JUPYTER_MODELS"):
        env.pop(key, None)
    done = subprocess.run(
        [sys.executable, "-c", PRELUDE + script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_loading_the_extension_imports_nbformat_in_the_background(tmp_path: Path) -> None:
    got = _run(
        """
before = "nbformat" in sys.modules
magic.load_ipython_extension(shell)
threads = [t for t in threading.enumerate() if t.name == "loop-jupyter-warm-up"]
for t in threads:
    t.join(120)
print(json.dumps({"before": before, "threads": len(threads), "after": "nbformat" in sys.modules,
                  "again": magic.warm_up() is None}))
""",
        tmp_path,
    )
    assert got == {"before": False, "threads": 1, "after": True, "again": True}


def test_answers_and_charts_are_the_same_while_the_warm_up_runs(tmp_path: Path) -> None:
    """The magic's first answer, with its chart shown while the warm-up may still be importing, is the
    answer a Loop gives in the same interpreter afterwards: text, tool calls and every artifact."""
    got = _run(
        """
import plotly.io as pio
logs = lj.demo_logs(n_traces=400, seed=3, now=datetime(2026, 5, 20, 12, tzinfo=timezone.utc))
shell.user_ns["logs"] = logs
magic.load_ipython_extension(shell)
pio.renderers.default = "json"  # what a kernel shows, without a browser
shell.run_line_magic("loop", "plot latency")
first = magic.last_answer().to_json()
warm = [t.is_alive() for t in threading.enumerate() if t.name == "loop-jupyter-warm-up"]
again = lj.Loop(logs).ask("plot latency").to_json()
keep = ("text", "tool_calls", "artifacts")
print(json.dumps({"same": {k: first[k] for k in keep} == {k: again[k] for k in keep},
                  "kinds": [a["kind"] for a in first["artifacts"]], "warm": warm}))
""",
        tmp_path,
    )
    assert got["same"], got
    assert "chart" in got["kinds"], got
