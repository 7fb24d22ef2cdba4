"""`loop-jupyter ... | head`: a reader that stops early is not a crash.

Piping the CLI into `head` (or a pager quit early) closes stdout under it; the next write raised
BrokenPipeError and the user got a Python traceback on stderr, exit 1 ("an unexpected crash"): seen with
`loop-jupyter ask "What are the most common errors?" | head -3`. Now it stops quietly with 141, the
status a shell reports for a command ended by SIGPIPE (128 + 13)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")
@pytest.mark.parametrize(
    "command",
    [
        ["sql", "SELECT name, count(*) AS n FROM logs GROUP BY 1 ORDER BY 2 DESC"],
        ["filter", "type = 'llm'", "--limit", "5"],
        ["ask", "What are the most common errors?"],
    ],
)
def test_a_reader_that_has_gone_is_not_a_crash(command: list[str], tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LOOP_JUPYTER_LOG_RUNS": "0"}
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line (`| head -0`, a pager quit at once)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "loop_jupyter", *command],
            cwd=tmp_path,
            env=env,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr[-2000:]
    assert done.returncode == 141, (done.returncode, done.stderr[-2000:])
