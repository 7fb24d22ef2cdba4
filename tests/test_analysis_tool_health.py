from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from loop_jupyter.analysis.tool_health import tool_health
from loop_jupyter.artifacts import Chart, Code, Table

from ._analysis_logs import DAY, demo, frame, run_code, span  # noqa: F401


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    # Two weeks (the first starts Mon 2025-11-10): "search" is called 10 times a week and fails
    # 1 then 4 times; "deploy" 2 calls a week, fails 1 then 0; "lookup" never fails.
    events = []
    plan = {"search": (10, [1, 4]), "deploy": (2, [1, 0]), "lookup": (3, [0, 0])}
    n = 0
    for week in range(2):
        for name, (calls, fails) in plan.items():
            for i in range(calls):
                n += 1
                root = f"r{n}"
                start = week * 7 * DAY + i * 60
                events.append(span(root, root, name="agent", start=start, end=start + 10))
                events.append(
                    span(
                        f"t{n}",
                        root,
                        root,
                        name=name,
                        type_="tool",
                        start=start + 1,
                        end=start + 1 + (i % 4),
                        error="boom" if i < fails[week] else None,
                    )
                )
    return frame(events)


def test_blast_radius_ranking_and_week_over_week(logs: pl.DataFrame) -> None:
    result = tool_health(logs)
    table = result.first(Table).frame
    assert table["name"].to_list() == ["search", "deploy", "lookup"]
    search = table.row(0, named=True)
    assert (search["calls"], search["errors"]) == (20, 5)
    assert search["error_rate"] == pytest.approx(0.25) and search["blast_radius"] == pytest.approx(5.0)
    assert search["success_rate_prev_week"] == pytest.approx(0.9)
    assert search["success_rate_last_week"] == pytest.approx(0.6)
    assert search["success_rate_change"] == pytest.approx(-0.3)
    deploy = table.row(1, named=True)
    assert deploy["error_rate"] == pytest.approx(0.25) and deploy["blast_radius"] == pytest.approx(1.0)
    durations = logs.filter(pl.col("name") == "search")["duration"].to_numpy()
    assert search["p95_s"] == pytest.approx(np.percentile(durations, 95))
    assert len(result.artifacts) and result.first(Chart) is not None
    assert run_code(result.first(Code).source, logs).equals(table)
    assert "search: 20 calls, 5 errors (25.0%), success w/w -30.0 pts" in result.text


def test_demo_matches_group_by(demo: pl.DataFrame) -> None:  # noqa: F811
    table = tool_health(demo).first(Table).frame
    tools = demo.filter(pl.col("type") == "tool")
    expected = {
        name: (calls, errors)
        for name, calls, errors in tools.group_by("name").agg(pl.len(), pl.col("error").is_not_null().sum()).iter_rows()
    }
    assert {r[0]: (r[1], r[2]) for r in table.select("name", "calls", "errors").iter_rows()} == expected
    assert table["blast_radius"].to_list() == pytest.approx(table["errors"].cast(pl.Float64).to_list())
    assert table["blast_radius"].is_sorted(descending=True)
    assert table["name"][0] in ("query_database", "fetch_url", "deploy_app")
