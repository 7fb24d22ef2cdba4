"""The bench scripts run end to end at a tiny size (proof they work; no timing assertions)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_bench_scripts_run_at_small_scale(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run_all.py"), "--scale", "small", "--output", str(out),
         "--only", "load,big_fields,filters,traces,trace_open,context,demo"],
        check=True, cwd=ROOT, timeout=600, env=dict(os.environ, BENCH_RESULTS=str(tmp_path / "results")),
    )  # fmt: skip
    text = out.read_text()
    assert "| figure |" in text and "traces view" in text and "filter" in text and "1–10 MB fields" in text
