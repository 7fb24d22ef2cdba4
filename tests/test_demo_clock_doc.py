"""What README.md and docs/cli.md tell a new user about the demo logs' numbers: drawn relative to the
current time, they change from one run to the next (two `ask` runs seconds apart gave 379 and 339
rate-limit spans); `now=` pins them, and a file written once by `demo` loads to the same spans."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

import loop_jupyter as lj
from loop_jupyter.demo import write_demo_jsonl
from loop_jupyter.demo.settings import DAYS

NOW = datetime(2026, 11, 1, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]


def _errors(frame: pl.DataFrame) -> int:
    return frame.filter(pl.col("error").is_not_null()).height


def test_figures_follow_the_clock_and_now_pins_them() -> None:
    first = lj.demo_logs(n_traces=300, now=NOW)
    assert first.equals(lj.demo_logs(n_traces=300, now=NOW))
    later = [lj.demo_logs(n_traces=300, now=NOW + timedelta(seconds=s)) for s in (7, 61)]
    assert any(_errors(frame) != _errors(first) or frame.height != first.height for frame in later)


def test_a_written_demo_file_loads_to_the_same_spans(tmp_path: Path) -> None:
    written = write_demo_jsonl(tmp_path / "demo_logs.jsonl", n_traces=300, now=NOW)
    loaded = lj.load_logs(tmp_path / "demo_logs.jsonl")
    assert loaded.height == written.height and _errors(loaded) == _errors(written)
    assert sorted(loaded["id"].to_list()) == sorted(written["id"].to_list())


def test_the_docs_say_so() -> None:
    for doc in ("README.md", "docs/cli.md"):
        text = " ".join((ROOT / doc).read_text().split())
        assert f"drawn over the {DAYS} days before the current time" in text, doc
