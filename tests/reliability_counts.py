"""Print the reliability suite's case counts (used for docs/reliability.md).

/work/venv/bin/python -m tests.reliability_counts
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"


def corpus(name: str) -> int:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return sum(1 for line in lines if line.strip() and not line.startswith("#"))


def collected(test_file: str) -> int:
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly", test_file],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sum(1 for line in out.splitlines() if "::" in line)


def main() -> None:
    from tests.test_reliability_files import INTERRUPTIONS
    from tests.test_reliability_models import FAULTS, PROVIDERS

    injections = [json.loads(line) for line in (DATA / "injections.jsonl").read_text(encoding="utf-8").splitlines()]
    rows = {
        "hostile SQL refused (hostile_sql.txt)": corpus("hostile_sql.txt"),
        "runaway SQL stopped by time/row limit (runaway_sql.txt)": corpus("runaway_sql.txt"),
        "runaway SQL stopped by memory limit (runaway_memory_sql.txt)": corpus("runaway_memory_sql.txt"),
        "tricky but harmless SQL that must run (harmless_tricky_sql.txt)": corpus("harmless_tricky_sql.txt"),
        "injection spans (injections.jsonl)": len(injections),
        "injection kinds": len({c["kind"] for c in injections}),
        "injection phrasings/languages/encodings": len({c["how"] for c in injections}),
        "tool calls an obedient model makes on injections": sum(len(c["obey"]) for c in injections),
        "model faults": len(FAULTS),
        "model fault runs (faults x providers)": len(FAULTS) * len(PROVIDERS),
        "file interruption kinds": len(INTERRUPTIONS),
    }
    for test_file in (
        "tests/test_reliability_logs.py",
        "tests/test_engine.py",
        "tests/test_reliability_sql.py",
        "tests/test_reliability_injection.py",
        "tests/test_reliability_models.py",
        "tests/test_reliability_files.py",
        "tests/test_reliability_hostile_logs.py",
    ):
        rows[f"collected tests in {test_file}"] = collected(test_file)
    width = max(len(k) for k in rows)
    for key, value in rows.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
