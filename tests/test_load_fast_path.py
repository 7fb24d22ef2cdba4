"""The DuckDB fast path and the line-by-line path agree on every odd event, field by field.

Each odd event sits in its own file beside ordinary ones. Whatever the fast path accepts must load
exactly as the line-by-line path (``strict=True``) loads it; whatever the line-by-line path
rejects, the fast path must hand over to it (never load it, never drop it). The ``fast`` column of
the table says which events the fast path is expected to keep for itself: a checker that turns
too strict costs a slow load, and that is tested too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from loop_jupyter import load_logs_with_report
from loop_jupyter.loaders import braintrust
from loop_jupyter.schema import JSON_FIELDS

from .helpers import span


def _odd(**fields: Any) -> dict[str, Any]:
    event = span("odd", "root", "root", name="odd", type="llm")
    for key, value in fields.items():
        if value is _DROP:
            event.pop(key, None)
        else:
            event[key] = value
    return event


_DROP = object()

# (label, event, fast path keeps it)
CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("plain", _odd(), True),
    ("integer id", _odd(id=12345), True),
    ("integer span_id", _odd(span_id=-7), True),
    ("big integer id", _odd(id=2**70), False),
    ("float id", _odd(id=1.5), False),
    ("float span_id", _odd(span_id=2.0), False),
    ("boolean id", _odd(id=True), False),
    ("object id", _odd(id={"a": 1}), False),
    ("list root_span_id", _odd(root_span_id=["root"]), False),
    ("escaped id", _odd(id='a"b\\c'), True),
    ("unicode id", _odd(id="é中🙂"), True),
    ("no id", _odd(id=_DROP), True),
    ("no id nor span_id", _odd(id=_DROP, span_id=_DROP), False),
    ("no root with parents", _odd(root_span_id=_DROP), False),
    ("no root without parents", _odd(root_span_id=_DROP, span_parents=[]), True),
    ("null parents", _odd(span_parents=None), True),
    ("two parents", _odd(span_parents=["root", "other"]), True),
    ("parent with comma and quote", _odd(span_parents=['ro","ot', "x,y"]), True),
    ("parent with bracket", _odd(span_parents=["[root]", "{x}"]), True),
    ("number in parents", _odd(span_parents=["root", 1]), False),
    ("null in parents", _odd(span_parents=["root", None]), False),
    ("object in parents", _odd(span_parents=[{"a": "b"}]), False),
    ("nested list in parents", _odd(span_parents=[["root"]]), False),
    ("parents as string", _odd(span_parents="root"), False),
    ("empty string parent", _odd(span_parents=[""]), True),
    ("tags", _odd(tags=["a", "b,c", 'd"e']), True),
    ("tags with number", _odd(tags=["a", 2]), False),
    ("tags with object", _odd(tags=["a", {"b": "c"}, "d"]), False),
    ("tags as object", _odd(tags={"a": 1}), False),
    ("is_root true", _odd(is_root=True), True),
    ("is_root false", _odd(is_root=False), True),
    ("is_root string", _odd(is_root="yes"), False),
    ("is_root number", _odd(is_root=1), False),
    ("created iso", _odd(created="2025-03-01T12:00:00Z"), True),
    ("created offset", _odd(created="2025-03-01T14:00:00+02:00"), True),
    ("created naive", _odd(created="2025-03-01 12:00:00"), True),
    ("created ms", _odd(created=1740830400123), True),
    ("created numeric string", _odd(created="1740830400"), True),
    ("created text", _odd(created="yesterday"), False),
    ("created boolean", _odd(created=True), False),
    ("created null", _odd(created=None), True),
    ("metrics with null", _odd(metrics={"start": 1.0, "end": None}), True),
    ("metrics big integer", _odd(metrics={"start": 1.0, "tokens": 2**70}), True),
    ("metrics string value", _odd(metrics={"start": 1.0, "end": "2"}), False),
    ("metrics boolean value", _odd(metrics={"start": 1.0, "cached": True}), False),
    ("metrics false value", _odd(metrics={"cached": False}), False),
    ("metrics nested object", _odd(metrics={"start": 1.0, "usage": {"tokens": 3}}), False),
    ("metrics list value", _odd(metrics={"start": 1.0, "per_call": [1, 2]}), False),
    ("metrics string with comma and colon", _odd(metrics={"start": 1.0, "note": "a,b:c"}), False),
    ("metrics key with colon t", _odd(metrics={"x:t": 1, "a,b": 2, "{": 3, "[": 4}), True),
    ("metrics escaped key", _odd(metrics={'a"b': 1}), True),
    ("metrics empty", _odd(metrics={}), True),
    ("metrics as list", _odd(metrics=[1, 2]), False),
    ("metrics as number", _odd(metrics=3), False),
    ("scores", _odd(scores={"factuality": 0.25, "none": None}), True),
    ("scores string", _odd(scores={"factuality": "high"}), False),
    ("scores boolean", _odd(scores={"ok": True}), False),
    ("span_attributes list", _odd(span_attributes=["llm"]), False),
    ("span_attributes extra", _odd(span_attributes={"name": "n", "type": "LLM", "x": [1]}), True),
    ("context string", _odd(context="ctx"), False),
    ("context object", _odd(context={"caller": "x"}), True),
    (
        "model and tokens",
        _odd(metadata={"model": "gpt-5.1"}, metrics={"prompt_tokens": 3, "completion_tokens": 4.0}),
        True,
    ),
    ("tokens given", _odd(metrics={"prompt_tokens": 3, "tokens": 10, "estimated_cost": 0.5}), True),
    ("start in ms", _odd(metrics={"start": 1740830400123, "end": 1740830401123}), True),
]


def _write(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in events) + "\n", encoding="utf-8")
    return path


def _comparable(frame: pl.DataFrame) -> dict[str, list[Any]]:
    columns = {}
    for name in frame.columns:
        values = frame.get_column(name).to_list()
        if name in JSON_FIELDS:
            values = [None if v is None else json.loads(v) for v in values]
        columns[name] = values
    return columns


@pytest.mark.parametrize(("label", "odd", "fast"), CASES, ids=[case[0] for case in CASES])
def test_fast_path_agrees_with_line_by_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, label: str, odd: dict[str, Any], fast: bool
) -> None:
    events = [span("root", "root", name="turn", type="task"), odd, span("after", "root", "root")]
    path = _write(tmp_path / "logs.jsonl", events)
    kept_by_fast_path: list[bool] = []
    real_fast_load = braintrust._fast_load

    def spy(*args: Any, **kwargs: Any) -> pl.DataFrame | None:
        frame = real_fast_load(*args, **kwargs)
        kept_by_fast_path.append(frame is not None)
        return frame

    monkeypatch.setattr(braintrust, "_fast_load", spy)
    loaded, report = load_logs_with_report(path)
    monkeypatch.setattr(braintrust, "_fast_load", lambda *args, **kwargs: None)
    expected, expected_report = load_logs_with_report(path)
    assert _comparable(loaded) == _comparable(expected), label
    assert [(s.line, s.reason) for s in report.skipped] == [(s.line, s.reason) for s in expected_report.skipped]
    assert report.rows_loaded == expected_report.rows_loaded
    assert kept_by_fast_path == [fast], label
