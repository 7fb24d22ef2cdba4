"""The clock-relative answers re-checked on other days: the example questions, follow-ups and planner
phrasings with a time window ("last 5 days", "yesterday", "this week", "since Nov 1"), run in a
pytest subprocess whose clock (Python's and DuckDB's) is moved by libfaketime (Debian's faketime).

CI failed on days the tests had not seen. The instants are ones that broke them: a run that
crosses midnight at a month's end into Nov 1 (the window was read at import, the query after
midnight; "since Nov 1" then starts today), a date in early November ("since Nov 1" is this year's
Nov 1 then, last year's before), and a Monday noon (one user's errors "this week": none yet).
Each subprocess also gets its own PYTHONHASHSEED.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FAKETIME = shutil.which("faketime")

#: (start instant in UTC, hash seed). The clock runs on from the start.
INSTANTS = [("2027-10-31 23:59:40", 11), ("2027-11-07 06:00:00", 12), ("2027-06-14 12:00:00", 13)]
FILES = ["tests/test_example_questions.py", "tests/test_followups.py", "tests/test_planner.py"]
#: The tests whose answers depend on the clock (test ids name the question).
CLOCK_WORDS = "last or week or yesterday or today or days or hours or since or past or phrasings"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(FAKETIME is None, reason="needs Debian's faketime (apt-get install faketime)"),
]


def _env(seed: int) -> dict[str, str]:
    return {**os.environ, "TZ": "UTC", "PYTHONHASHSEED": str(seed), "PYTHONPATH": str(ROOT)}


def test_faketime_moves_python_and_duckdb_clocks() -> None:
    probe = (
        "import datetime, duckdb; c = duckdb.connect(); c.execute(\"SET TimeZone='UTC'\");"
        "print(datetime.datetime.now(datetime.UTC).year, c.execute('SELECT year(now())').fetchone()[0])"
    )
    out = subprocess.run(
        [FAKETIME, "2031-06-01 12:00:00", sys.executable, "-c", probe],
        env=_env(0), capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert out.stdout.split() == ["2031", "2031"]


def test_clock_relative_answers_on_other_days() -> None:
    pytest_args = [*FILES, "-k", CLOCK_WORDS, "-q", "-p", "no:cacheprovider", "-m", "not browser and not slow", "-x"]
    runs = {}
    for instant, seed in INSTANTS:  # side by side: each is mostly one demo and its questions
        command = [FAKETIME, instant, sys.executable, "-m", "pytest", *pytest_args]
        runs[instant] = subprocess.Popen(
            command, cwd=ROOT, env=_env(seed), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    failed = {}
    for instant, run in runs.items():
        out, _ = run.communicate(timeout=1200)
        if run.returncode != 0:
            failed[instant] = out[-3000:]
    assert not failed, "\n\n".join(f"--- at {instant} UTC:\n{out}" for instant, out in failed.items())
