"""Issue 14 item 12: a capped table says it is capped and how to see all (slow requests listed 50
while the SQL card said 63 match). The expected count is computed from the frame with Polars."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from loop_jupyter import demo
from loop_jupyter.analysis.latency import slow_requests
from loop_jupyter.artifacts import SqlFilter, Table

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    return demo.demo_logs(2000, seed=0, now=NOW)


def _slow_count(logs: pl.DataFrame, threshold: float) -> int:
    roots = logs.filter(pl.col("is_root")).select("root_span_id", "duration")
    return roots.filter(pl.col("duration") > threshold).height


def test_capped_slow_table_says_so_and_how_to_see_all(logs: pl.DataFrame) -> None:
    want = _slow_count(logs, 60)
    assert want > 50
    result = slow_requests(logs, threshold_s=60)
    table = result.first(Table)
    assert table.frame.height == 50
    assert result.first(SqlFilter).count == want
    assert f"first 50 of {want}" in table.title and "capped" in table.title
    assert f"limit={want}" in table.title and f"limit={want}" in result.text
    # Following the hint shows them all, and an uncapped table does not claim a cap.
    full = slow_requests(logs, threshold_s=60, limit=want).first(Table)
    assert full.frame.height == want and "capped" not in full.title
