"""Malformed logs: every valid span loads, every invalid line is reported with its line and reason,
and the counts add up exactly (read = loaded + reported)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loop_jupyter import load_logs_with_report

from .helpers import frame_of, span

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@st.composite
def valid_event(draw: st.DrawFn, index: int) -> dict:
    span_id = f"s{index}"
    event = {"id": span_id, "span_id": span_id, "root_span_id": span_id}
    for field in ("input", "output", "expected", "metadata"):
        if draw(st.booleans()):
            event[field] = draw(json_values)
    if draw(st.booleans()):
        event["scores"] = draw(st.dictionaries(st.text(min_size=1, max_size=6), st.floats(0, 1), max_size=3))
    if draw(st.booleans()):
        event["tags"] = draw(st.lists(st.text(max_size=6), max_size=3))
    if draw(st.booleans()):
        event["created"] = draw(
            st.sampled_from(["2025-01-02T03:04:05Z", "2025-01-02T03:04:05", 1735787045, 1735787045123, "1735787045"])
        )
    return event


# Each bad line and the word its reason must contain.
BAD_LINES = [
    (b'{"id": "t", "input": {"a": ', "JSON"),
    (b"{not json}", "JSON"),
    (b'"just a string"', "object"),
    (b"[1, 2]", "object"),
    (b'{"id": "w1", "tags": "production"}', "tags"),
    (b'{"id": "w2", "tags": [1, 2]}', "tags"),
    (b'{"id": "w3", "scores": {"Factuality": "high"}}', "scores"),
    (b'{"id": "w4", "scores": [0.5]}', "scores"),
    (b'{"id": "w5", "metrics": {"start": "noon"}}', "metrics"),
    (b'{"id": "w6", "span_parents": "p"}', "span_parents"),
    (b'{"id": "w7", "is_root": "yes"}', "is_root"),
    (b'{"id": "w8", "created": "yesterday-ish"}', "created"),
    (b'{"id": "w9", "created": true}', "created"),
    (b'{"id": "w10", "span_attributes": "llm"}', "span_attributes"),
    (b'{"id": {"nested": 1}}', "id"),
    (b'{"input": "no id at all"}', "id"),
    (b'{"id": "w11", "span_parents": ["p"]}', "root_span_id"),
    (b'{"id": "bad-\xff\xfe-utf8"}', "UTF-8"),
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mixed_good_and_bad_lines_add_up(tmp_path: Path, data: st.DataObject) -> None:
    n_good = data.draw(st.integers(0, 12))
    good = [data.draw(valid_event(i)) for i in range(n_good)]
    bad = data.draw(st.lists(st.sampled_from(BAD_LINES), max_size=8))
    lines: list[tuple[bytes, str | None]] = [(json.dumps(e).encode(), None) for e in good] + list(bad)
    order = data.draw(st.permutations(range(len(lines))))
    path = tmp_path / f"logs-{abs(hash(tuple(order)))}.jsonl"
    body = [lines[i] for i in order]
    path.write_bytes(b"\n".join(line for line, _ in body) + b"\n")
    if not body:
        path.write_bytes(b"")
    frame, report = load_logs_with_report(path, format="braintrust")

    assert report.records_read == report.rows_loaded + len(report.skipped) == len(body)
    assert sorted(frame.get_column("id").to_list()) == sorted(e["id"] for e in good)
    expected_bad = {number: word for number, (_, word) in enumerate(body, start=1) if word is not None}
    assert {p.line for p in report.skipped} == set(expected_bad)
    for problem in report.skipped:
        assert expected_bad[problem.line].lower() in problem.reason.lower(), problem
    for event in good:
        row = frame.filter(pl.col("id") == event["id"]).row(0, named=True)
        for field in ("input", "output", "expected", "metadata"):
            if field in event:
                # JSON null and an absent field are the same thing in a log event.
                assert (None if row[field] is None else json.loads(row[field])) == event[field]


def test_empty_and_blank_files(tmp_path: Path) -> None:
    for body in (b"", b"\n\n  \n"):
        path = tmp_path / "empty.jsonl"
        path.write_bytes(body)
        frame, report = load_logs_with_report(path)
        assert frame.height == 0 and report.records_read == 0 and report.warnings


def test_ten_megabyte_field_and_deep_nesting(tmp_path: Path) -> None:
    deep: object = "bottom"
    for _ in range(200):
        deep = {"d": [deep]}
    events = [
        {"id": "big", "span_id": "big", "root_span_id": "big", "output": "y" * 10_000_000},
        {"id": "deep", "span_id": "deep", "root_span_id": "deep", "input": deep},
    ]
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in events))
    frame, report = load_logs_with_report(path)
    assert report.ok and frame.height == 2
    assert len(json.loads(frame.filter(pl.col("id") == "big")["output"].item())) == 10_000_000
    assert json.loads(frame.filter(pl.col("id") == "deep")["input"].item()) == deep


def test_duplicate_ids_load_and_are_reported(tmp_path: Path) -> None:
    event = {"id": "dup", "span_id": "dup", "root_span_id": "dup", "input": 1}
    path = tmp_path / "dup.jsonl"
    path.write_text(json.dumps(event) + "\n" + json.dumps({**event, "input": 2}) + "\n")
    frame, report = load_logs_with_report(path)
    assert frame.height == 2
    assert any("duplicate" in p.reason for p in report.warnings)


def test_depth_survives_colliding_id_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    # Parents are looked up by 64-bit hashes of the ids; ids whose hashes collide (forced here: every
    # hash is 0) must take the exact lookup and give the same depths.
    events = [span("r", "r"), span("a", "r", "r"), span("b", "r", "a"), span("c", "r", "b"), span("o", "r", "ghost")]
    expected = frame_of(events).select("span_id", "depth")
    monkeypatch.setattr(
        pl.Series, "hash", lambda self, *a, **k: pl.Series(self.name, [0] * self.len(), dtype=pl.UInt64)
    )
    assert frame_of(events).select("span_id", "depth").equals(expected)
    assert expected.get_column("depth").to_list() == [0, 1, 2, 3, None]
