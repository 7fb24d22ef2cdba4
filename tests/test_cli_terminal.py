"""Log text printed to a terminal is shown, never obeyed: no escape sequence from the logs reaches it.

A log file whose names, inputs, outputs, errors, metadata, tags and score names hold OSC 52
(clipboard write), OSC 0 (window title), CSI 2J (clear screen), a bidi override and a C1 CSI is
driven through every command; stdout and stderr must hold none of those bytes, and show them as
visible escapes instead. ``--json`` keeps the text exact.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from loop_jupyter.terminal import echo, safe_text
from tests._analysis_logs import span

ROOT = Path(__file__).resolve().parents[1]
EVIL = "\x1b]52;c;cHduZWQ=\x07\x1b]0;title\x07\x1b[2J\u202e\x9b"
#: Bytes that must never reach a terminal (UTF-8: U+009B is C2 9B, U+202E is E2 80 AE).
RAW = [b"\x1b", b"\x07", "\x9b".encode(), "\u202e".encode()]
SHOWN = "\\x1b]52;c;cHduZWQ=\\x07"


@pytest.fixture(scope="module")
def evil_logs(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("evil") / "evil.jsonl"
    rows = []
    for i in range(6):
        root = f"t{i}"
        rows.append(
            span(
                root, root, name=f"agent{EVIL}", start=i, end=i + 2,
                input={"messages": [{"role": "user", "content": f"hello {EVIL}"}]}, output=f"out {EVIL}",
                error=f"ToolError: boom {EVIL}" if i % 2 else None, metadata={"user": f"u{EVIL}"},
                tags=[f"tag{EVIL}"], scores={f"s{EVIL}": 0.5},
            )
        )  # fmt: skip
        rows.append(
            span(
                f"c{i}", root, root, name=f"llm{EVIL}", type_="llm", model=f"gpt{EVIL}", start=i, end=i + 1,
                output=f"reply {EVIL}", error=f"RateLimitError: {EVIL}" if i % 3 == 0 else None,
            )
        )  # fmt: skip
    lines = [json.dumps(r) for r in rows]
    lines.append('{"broken": "' + EVIL)  # a skipped line, raw controls in its excerpt
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [sys.executable, "-m", "loop_jupyter", *args], capture_output=True, timeout=300, cwd=cwd, env=env, check=False
    )


def _assert_no_raw_controls(done: subprocess.CompletedProcess[bytes]) -> str:
    for stream in (done.stdout, done.stderr):
        for raw in RAW:
            assert raw not in stream, (raw, stream[:3000])
    return done.stdout.decode() + done.stderr.decode()


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(k) + _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


@pytest.mark.parametrize(
    "args",
    [
        ("ask", "What are the most common errors?"),
        ("filter", "error IS NOT NULL"),
        ("filter", "error IS NOT NULL", "--shape", "traces"),
        ("sql", "SELECT name, model, error, output, tags, metadata FROM logs"),
        ("ask", "what are the failure modes?"),
        ("ask", "save the largest failure mode as a dataset and a scorer"),
        ("attribute",),
    ],
)
def test_text_output_shows_controls_and_never_sends_them(evil_logs: Path, args: tuple[str, ...]) -> None:
    done = _run(*args, "--logs", str(evil_logs), cwd=evil_logs.parent)
    assert done.returncode == 0, done.stderr[-3000:]
    shown = _assert_no_raw_controls(done)
    assert SHOWN in shown and "\\u202e" in shown and "\\x9b" in shown, shown[:3000]


def test_load_report_and_refused_query_messages_are_neutralised(evil_logs: Path) -> None:
    done = _run("load", str(evil_logs), cwd=evil_logs.parent)
    assert done.returncode == 2  # a record was skipped (documented: a load with skipped records)
    _assert_no_raw_controls(done)
    # The query itself is echoed in the error: the user's text, but it may be pasted from the logs.
    done = _run("sql", f"SELECT '{EVIL}' FROM nowhere", "--logs", str(evil_logs), cwd=evil_logs.parent)
    assert done.returncode == 3
    shown = _assert_no_raw_controls(done)
    assert SHOWN in shown


@pytest.mark.parametrize(
    "args",
    [
        ("ask", "What are the most common errors?"),
        ("filter", "error IS NOT NULL", "--shape", "traces"),
        ("sql", "SELECT name, model, error, output FROM logs"),
        ("load",),
    ],
)
def test_json_output_keeps_the_text_exact(evil_logs: Path, args: tuple[str, ...]) -> None:
    where = (str(evil_logs),) if args[0] == "load" else ("--logs", str(evil_logs))
    done = _run(*args, *where, "--json", cwd=evil_logs.parent)
    assert done.returncode in (0, 2), done.stderr[-3000:]
    _assert_no_raw_controls(done)  # JSON escapes them itself: \u001b
    value = json.loads(done.stdout)
    texts = _strings(value)
    if args[0] == "filter":  # ids only: the rows behind them are exact through sql --json
        assert value["count"] == 3 and sorted(value["ids"]) == ["t1", "t3", "t5"]
    else:
        assert any(EVIL in text for text in texts), texts[:20]


def test_safe_text_keeps_newlines_tabs_and_text() -> None:
    text = "line 1\n\tcafé 中文 🙂 ‏x\r\x00\x7f\x85\u2028\u2066\ud83d"
    assert safe_text(text) == "line 1\n\tcafé 中文 🙂 \\u200fx\\x0d\\x00\\x7f\\x85\\u2028\\u2066\\ud83d"
    assert safe_text(EVIL) == "\\x1b]52;c;cHduZWQ=\\x07\\x1b]0;title\\x07\\x1b[2J\\u202e\\x9b"


def test_echo_neutralises_a_sequence_split_across_writes(capsys) -> None:
    # ask streams text in pieces: each character is neutralised on its own, so a split changes nothing.
    for piece in ("a\x1b", "]0;t", "\x07b"):
        echo(piece, end="")
    echo("", err=True)
    out = capsys.readouterr().out
    assert out == "a\\x1b]0;t\\x07b"
