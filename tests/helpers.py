"""Small shared builders for tests (not fixtures of other projects: those are in ../shared/fixtures)."""

from __future__ import annotations

from typing import Any

import polars as pl

from loop_jupyter.frame import frame_from_events
from loop_jupyter.report import LoadReport


def span(
    span_id: str,
    root: str,
    parent: str | None = None,
    *,
    name: str = "span",
    type: str = "function",
    start: float = 1_760_000_000.0,
    end: float | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A Braintrust log event with sensible defaults."""
    event: dict[str, Any] = {
        "id": span_id,
        "span_id": span_id,
        "root_span_id": root,
        "span_parents": [parent] if parent else [],
        "created": start,
        "span_attributes": {"name": name, "type": type},
        "metrics": {"start": start, "end": start + 1.0 if end is None else end, **fields.pop("metrics", {})},
    }
    event.update(fields)
    return event


def frame_of(events: list[dict[str, Any]]) -> pl.DataFrame:
    report = LoadReport()
    frame = frame_from_events(enumerate(events, start=1), report)
    assert not report.skipped, report.summary()
    return frame
