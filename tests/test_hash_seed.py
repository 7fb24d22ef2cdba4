"""What the user sees does not follow PYTHONHASHSEED: the same input gives the same report and the
same scores in processes with different string hashes (set iteration order differs between them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import json, sys
from loop_jupyter.analysis.docs_search import docs_index
from loop_jupyter.loaders import tau_bench
from loop_jupyter.report import LoadReport

report = LoadReport()
tau_bench.load(sys.argv[1], report)
scores = docs_index().bm25("why are my traces slow with errors and high cost per model")
print(json.dumps({"unmapped": list(report.unmapped), "bm25": [float(x).hex() for x in scores]}))
"""


def _run(seed: int, path: Path) -> dict:
    env = {**os.environ, "PYTHONHASHSEED": str(seed), "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(path)], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.splitlines()[-1])


def test_load_report_and_docs_scores_do_not_follow_the_hash_seed(tmp_path: Path) -> None:
    extra = {f"field_{c}": c for c in "abcdefgh"}  # unmapped keys, one occurrence each
    path = tmp_path / "messages.jsonl"  # one {"messages": [...], ...} conversation a line
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}], **extra}) + "\n")
    runs = [_run(seed, path) for seed in (0, 1, 2, 3)]
    assert sorted(runs[0]["unmapped"]) == sorted(extra)
    assert all(run == runs[0] for run in runs), [run["unmapped"] for run in runs]
