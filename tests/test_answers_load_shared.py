"""Issue 14 item 19: a folder whose files share a trace id was merged without a word. The demo
logs are written as Braintrust JSONL and cut in two files; which traces end up in both files is
computed from the raw JSON lines."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import orjson
import pytest

from loop_jupyter import demo
from loop_jupyter.loaders import SHARED_LISTED, load_logs_with_report

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def lines(tmp_path_factory) -> list[bytes]:
    path = tmp_path_factory.mktemp("demo") / "demo.jsonl"
    demo.write_demo_jsonl(path, 120, seed=5, now=NOW)
    return [line for line in path.read_bytes().splitlines() if line.strip()]


def _roots(lines: list[bytes]) -> set[str]:
    return {orjson.loads(line)["root_span_id"] for line in lines}


def test_traces_split_over_files_are_reported(tmp_path_factory, lines: list[bytes]) -> None:
    tmp_path = tmp_path_factory.mktemp("parts")
    # Cut in the middle of a trace: its spans are in both files.
    cut = len(lines) // 2
    first, second = lines[:cut], lines[cut:]
    shared = _roots(first) & _roots(second)
    assert shared
    (tmp_path / "part-1.jsonl").write_bytes(b"\n".join(first) + b"\n")
    (tmp_path / "part-2.jsonl").write_bytes(b"\n".join(second) + b"\n")
    frame, report = load_logs_with_report(tmp_path)
    assert frame.height == len(lines)
    said = {m.group(1) for w in report.warnings if (m := re.match(r"trace (\S+) is in 2 files", w.reason))}
    assert said <= shared and len(said) == min(len(shared), SHARED_LISTED)
    for w in report.warnings:
        m = re.match(
            r"trace (\S+) is in 2 files \(part-1.jsonl, part-2.jsonl\): merged into one trace of (\d+) spans", w.reason
        )
        if m:
            spans = sum(orjson.loads(line)["root_span_id"] == m.group(1) for line in lines)
            assert int(m.group(2)) == spans
    more = [w for w in report.warnings if "more traces are split" in w.reason]
    assert len(said) + (int(more[0].reason.split()[0].replace(",", "")) if more else 0) == len(shared)
    assert "merged into one trace" in report.summary()
    # Merged for real: the same trees as the file in one piece, and no false "orphan" warning left.
    whole_path = tmp_path_factory.mktemp("whole") / "all.jsonl"
    whole_path.write_bytes(b"\n".join(lines) + b"\n")
    whole, _ = load_logs_with_report(whole_path)
    cols = ["id", "parent_id", "depth", "is_root", "root_span_id"]
    assert frame.select(cols).sort("id").equals(whole.select(cols).sort("id"))
    assert not [w for w in report.warnings if "orphan" in w.reason or "never reach a root" in w.reason]
    # Splitting a trace over files is not a bad record: strict loading still loads it.
    strict_frame, _ = load_logs_with_report(tmp_path, strict=True)
    assert strict_frame.height == len(lines)


def test_files_without_shared_traces_say_nothing(tmp_path, lines: list[bytes]) -> None:
    by_root: dict[str, list[bytes]] = {}
    for line in lines:
        by_root.setdefault(orjson.loads(line)["root_span_id"], []).append(line)
    roots = sorted(by_root)
    half = len(roots) // 2
    for name, chosen in (("a.jsonl", roots[:half]), ("b.jsonl", roots[half:])):
        (tmp_path / name).write_bytes(b"\n".join(line for r in chosen for line in by_root[r]) + b"\n")
    _, report = load_logs_with_report(tmp_path)
    assert not [w for w in report.warnings if "files" in w.reason]


def test_a_span_in_two_files_is_reported(tmp_path, lines: list[bytes]) -> None:
    (tmp_path / "a.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    (tmp_path / "b.jsonl").write_bytes(lines[0] + b"\n")
    span_id = orjson.loads(lines[0])["id"]
    frame, report = load_logs_with_report(tmp_path)
    assert frame.height == len(lines) + 1
    assert any(w.reason == f"span id {span_id} is in a.jsonl, b.jsonl (both rows loaded)" for w in report.warnings)
