"""The open trace's parent index (widgets/explorer_trace.py), grouped in Polars, pages the tree as
the per-span Python loop it replaced did: orphans at the top level, a repeated span id at its last
position, children in start order, null parents and starts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from loop_jupyter import demo
from loop_jupyter.widgets.explorer_trace import _OpenTrace

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def _reference(trace: _OpenTrace) -> tuple[dict[str, list[int]], dict[str, int]]:
    """The index as the loop built it: children by parent key, position by span id."""
    ids = trace.spans.get_column("span_id").to_list()
    known = set(ids)
    children: dict[str, list[int]] = {}
    for position, parent in enumerate(trace.spans.get_column("parent_id").to_list()):
        key = parent if parent is not None and parent in known else ""
        children.setdefault(key, []).append(position)
    return children, {span_id: i for i, span_id in enumerate(ids)}


def _odd_trace() -> pl.DataFrame:
    """A demo trace plus an orphan, a span with no parent, a repeated id and spans without a start."""
    logs = demo.demo_logs(40, seed=11, now=NOW)
    root = logs.group_by("root_span_id").len().sort(["len", "root_span_id"]).row(-1)[0]
    trace = logs.filter(pl.col("root_span_id") == root)
    first = trace.row(1, named=True)
    extra = [
        {**first, "span_id": "orphan", "parent_id": "not-in-trace"},
        {**first, "span_id": "loose", "parent_id": None},
        {**first, "span_id": first["span_id"], "name": "repeated"},
        {**first, "span_id": "no-start", "start": None},
        {**first, "span_id": "child-of-no-start", "parent_id": "no-start", "start": first["start"] - timedelta(1)},
    ]
    return pl.concat([trace, pl.DataFrame(extra, schema=trace.schema)])


@pytest.mark.parametrize("limit", [1, 3, 50])
def test_the_grouped_index_pages_as_the_loop_did(limit: int) -> None:
    logs = _odd_trace()
    trace = _OpenTrace(logs, logs.get_column("root_span_id")[0])
    children, position = _reference(trace)
    assert trace.position == position
    ids = trace.spans.get_column("span_id").to_list()
    repeated = logs.row(1, named=True)["span_id"]
    assert ids.count(repeated) == 2 and position[repeated] == len(ids) - 1 - ids[::-1].index(repeated)
    for parent in [*children, "no-such-parent"]:
        expected = children.get(parent, [])
        for offset in range(0, len(expected) + limit, limit):
            page = trace.page(parent, offset, limit)
            chosen = expected[offset : offset + limit]
            assert page["total"] == len(expected)
            assert [n["span_id"] for n in page["nodes"]] == [trace.spans.get_column("span_id")[p] for p in chosen]
            counts = [len(children.get(trace.spans.get_column("span_id")[p], ())) for p in chosen]
            assert [n["n_children"] for n in page["nodes"]] == counts
    top = {n["span_id"] for n in trace.page("", 0, 1000)["nodes"]}
    assert {"orphan", "loose"} <= top and "child-of-no-start" not in top
