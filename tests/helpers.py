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


def self_time_by_name(spans: pl.DataFrame) -> pl.DataFrame:
    """Where a trace's time went, computed here: each span's duration minus its children's (never
    below 0), summed by span name; columns ``name``, ``self_s``, the most first, ties on the name."""
    children = spans.group_by("parent_id").agg(child_s=pl.col("duration").sum())
    return (
        spans.join(children, left_on="span_id", right_on="parent_id", how="left")
        .with_columns(self_s=(pl.col("duration") - pl.col("child_s").fill_null(0)).clip(0))
        .group_by("name")
        .agg(pl.col("self_s").sum())
        .sort(["self_s", "name"], descending=[True, False])
    )
