from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from loop_jupyter import LoadError, load_logs, load_logs_with_report, load_report, save
from loop_jupyter.loaders import braintrust
from loop_jupyter.schema import JSON_FIELDS, is_canonical

from .helpers import span

ODD_VALUES = [
    {"big": 1180591620717411303424, "neg": -(2**70), "f": 0.1, "tiny": 5e-324, "e": 1e300},
    {"unicode": "é中文🙂\u0000ctrl", "nested": [[[[{"deep": [1, None, True, False]}]]]]},
    'a plain string with "quotes" and \\ backslashes',
    [1, "two", {"three": 3}],
    12345,
    True,
]


def _events() -> list[dict]:
    events = []
    for index, value in enumerate(ODD_VALUES):
        root = f"r{index}"
        events.append(span(root, root, name="turn", type="task", input=value, output={"echo": value}))
        events.append(span(f"{root}-c", root, root, name="llm", type="llm", metadata={"model": "gpt-5.1", "v": value}))
    return events


def _write_jsonl(path: Path, events: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in events) + "\n", encoding="utf-8")
    return path


def test_open_json_survives_round_trip_exactly(tmp_path: Path) -> None:
    events = _events()
    big = "x" * 961_000
    events.append(span("huge", "huge", name="turn", type="task", input={"prompt": big}))
    frame = load_logs(_write_jsonl(tmp_path / "logs.jsonl", events))
    assert is_canonical(frame)
    by_id = {row["id"]: row for row in frame.iter_rows(named=True)}
    for event in events:
        row = by_id[event["id"]]
        for field in JSON_FIELDS:
            if field in event:
                assert json.loads(row[field]) == event[field], (event["id"], field)
    assert len(json.loads(by_id["huge"]["input"])["prompt"]) == 961_000


def test_fast_path_and_line_by_line_path_agree(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "logs.jsonl", _events())
    fast = load_logs(path)
    slow, report = load_logs_with_report(path, strict=True)  # strict skips the fast path
    assert report.rows_loaded == fast.height == len(_events())
    for column in fast.columns:
        left, right = fast.get_column(column).to_list(), slow.get_column(column).to_list()
        if column in JSON_FIELDS:
            left = [None if v is None else json.loads(v) for v in left]
            right = [None if v is None else json.loads(v) for v in right]
        assert left == right, column


def test_malformed_lines_are_reported_with_line_numbers(tmp_path: Path) -> None:
    good = [json.dumps(e) for e in _events()[:4]]
    lines = [
        good[0],
        '{"id": "truncated", "input": {"a": ',
        good[1],
        "",
        '{"id": "bad-scores", "scores": {"Factuality": "high"}}',
        '{"id": "bad-tags", "tags": "production"}',
        "[1, 2, 3]",
        good[2],
        '{"id": "bad-time", "created": "not a time"}',
        '{"span_parents": ["x"]}',
        good[3],
    ]
    path = tmp_path / "logs.jsonl"
    path.write_bytes("\n".join(lines).encode() + b"\n\xff\xfe broken utf8\n")
    frame, report = load_logs_with_report(path)
    assert frame.height == 4
    skipped = {p.line: p.reason for p in report.skipped}
    assert set(skipped) == {2, 5, 6, 7, 9, 10, 12}
    assert "invalid JSON" in skipped[2]
    assert "scores.Factuality" in skipped[5]
    assert "tags" in skipped[6]
    assert "object" in skipped[7]
    assert "created" in skipped[9]
    assert "id" in skipped[10]
    assert "UTF-8" in skipped[12]
    assert report.records_read == report.rows_loaded + len(report.skipped) == 11
    assert load_report(load_logs(path)) is not None


def test_strict_raises_on_first_problem_with_line(tmp_path: Path) -> None:
    path = tmp_path / "logs.jsonl"
    path.write_text(json.dumps(_events()[0]) + "\n{nope\n")
    with pytest.raises(LoadError, match=r"line 2|:2"):
        load_logs(path, strict=True)


@pytest.mark.parametrize(
    "created",
    [
        "2025-03-01T12:00:00Z",
        "2025-03-01T12:00:00+00:00",
        "2025-03-01T14:00:00+02:00",
        "2025-03-01T12:00:00",
        "2025-03-01 12:00:00",
        1740830400,
        1740830400.0,
        1740830400000,
        1740830400000000,
        1740830400000000000,
        "1740830400",
    ],
)
def test_timestamps_in_every_format(tmp_path: Path, created: object) -> None:
    event = {"id": "a", "span_id": "a", "root_span_id": "a", "created": created}
    for fast in (True, False):
        path = _write_jsonl(tmp_path / f"t{fast}.jsonl", [event])
        frame = load_logs(path, strict=not fast)
        assert frame.get_column("created").item() == datetime(2025, 3, 1, 12, tzinfo=UTC)


def test_missing_parent_and_cycle_load_with_warnings(tmp_path: Path) -> None:
    events = [
        span("root", "root"),
        span("orphan", "root", "ghost"),
        span("a", "root", "b"),
        span("b", "root", "a"),
    ]
    frame, report = load_logs_with_report(_write_jsonl(tmp_path / "l.jsonl", events))
    assert frame.height == 4 and not report.skipped
    warned = " ".join(p.reason for p in report.warnings)
    assert "ghost" in warned and "cycle" in warned
    depth = dict(zip(frame["id"], frame["depth"], strict=True))
    assert depth["root"] == 0 and depth["orphan"] is None and depth["a"] is None


def test_json_array_export(tmp_path: Path) -> None:
    path = tmp_path / "logs.json"
    path.write_text(json.dumps(_events()))
    frame, report = load_logs_with_report(path)
    assert report.format == "braintrust" and frame.height == len(_events())
    assert set(frame.filter(pl.col("type") == "llm").get_column("parent_id")) == set(
        frame.filter(pl.col("is_root")).get_column("span_id")
    )


def test_save_and_load_back_parquet_and_arrow(tmp_path: Path) -> None:
    frame = load_logs(_write_jsonl(tmp_path / "l.jsonl", _events()))
    for name in ("logs.parquet", "logs.arrow"):
        path = save(frame, tmp_path / name)
        back = load_logs(path)
        assert back.equals(frame)
        with pytest.raises(FileExistsError):
            save(frame, path)
    assert load_logs(frame.to_pandas()).height == frame.height


def test_unknown_shape_says_what_was_seen(tmp_path: Path) -> None:
    path = tmp_path / "mystery.json"
    path.write_text(json.dumps({"foo": 1, "bar": [1, 2]}))
    with pytest.raises(LoadError, match=r"keys \['bar', 'foo'\].*Supported: braintrust"):
        load_logs(path)


def test_detect() -> None:
    assert braintrust.detect({"id": "a", "span_id": "a"})
    assert not braintrust.detect({"resourceSpans": []})
