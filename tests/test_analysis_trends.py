from __future__ import annotations

import polars as pl
import pytest

from loop_jupyter.analysis.trends import usage_trends
from loop_jupyter.artifacts import Chart, Code, Table

from ._analysis_logs import DAY, demo, frame, run_code, span  # noqa: F401


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    # day 0: alice, bob (bob errors); day 1: alice, carol; day 2: bob, bob, nobody (no user)
    plan = [
        (0, "alice", False),
        (0, "bob", True),
        (1, "alice", False),
        (1, "carol", False),
        (2, "bob", False),
        (2, "bob", False),
        (2, None, False),
    ]
    events = []
    for n, (day, user, err) in enumerate(plan):
        root = f"r{n}"
        events.append(
            span(root, root, start=day * DAY + n, end=day * DAY + n + 1, metadata={"user": user} if user else None)
        )
        if err:
            events.append(span(f"e{n}", root, root, start=day * DAY + n, error="boom"))
    return frame(events)


def test_daily_new_and_returning(logs: pl.DataFrame) -> None:
    result = usage_trends(logs, period="day")
    table = result.first(Table).frame
    assert table["traces"].to_list() == [2, 2, 3]
    assert table["users"].to_list() == [2, 2, 1]
    assert table["new_users"].to_list() == [2, 1, 0]
    assert table["returning_users"].to_list() == [0, 1, 1]
    assert table["error_traces"].to_list() == [1, 0, 0]
    assert result.first(Chart) is not None
    assert run_code(result.first(Code).source, logs).equals(table)
    weekly = usage_trends(logs, period="week").first(Table).frame
    assert weekly["traces"].sum() == 7
    assert usage_trends(logs, period="month").is_error  # type: ignore[arg-type]


def test_demo_matches_plain_polars(demo: pl.DataFrame) -> None:  # noqa: F811
    table = usage_trends(demo, period="day").first(Table).frame
    roots = demo.filter(pl.col("is_root")).with_columns(
        day=pl.col("created").dt.date(), user=pl.col("metadata").str.json_path_match("$.user")
    )
    expected = roots.group_by("day").agg(pl.len(), pl.col("user").n_unique()).sort("day")
    assert table["traces"].to_list() == expected["len"].to_list()
    assert table["users"].to_list() == expected["user"].to_list()
    first = roots.group_by("user").agg(pl.col("day").min())
    assert table["new_users"].sum() == first.height
