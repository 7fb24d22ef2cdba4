from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from loop_jupyter.analysis.latency import latency_patterns, slow_requests
from loop_jupyter.artifacts import Code, SqlFilter, Table
from loop_jupyter.engine import engine_for

from ._analysis_logs import demo, frame, run_code, span  # noqa: F401


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    # 6 slow traces (90 s) whose "chat" LLM call on gpt-4o takes 69 s; 4 fast ones (10 s, 4 s call
    # on gpt-4o-mini); every trace calls "search" for 2 s.
    events = []
    for t in range(10):
        root, slow, base = f"r{t}", t < 6, t * 1000.0
        events.append(span(root, root, name="agent", start=base, end=base + (90 if slow else 10)))
        events.append(
            span(
                f"l{t}",
                root,
                root,
                name="chat",
                type_="llm",
                model="gpt-4o" if slow else "gpt-4o-mini",
                start=base + 1,
                end=base + (70 if slow else 5),
            )
        )
        events.append(span(f"k{t}", root, root, name="search", type_="tool", start=base + 1, end=base + 3))
    return frame(events)


def test_slow_requests(logs: pl.DataFrame) -> None:
    result = slow_requests(logs, threshold_s=60)
    table = result.first(Table).frame
    assert table["root_span_id"].to_list() == [f"r{t}" for t in range(5, -1, -1)] or set(table["root_span_id"]) == {
        f"r{t}" for t in range(6)
    }
    assert table["slowest_span"].unique().to_list() == ["chat"]
    assert table["slowest_span_s"].to_list() == [69.0] * 6
    sql = result.first(SqlFilter)
    assert engine_for(logs).count(sql.sql, shape="traces") == sql.count == 6
    assert run_code(result.first(Code).source, logs).equals(table)
    assert slow_requests(logs, threshold_s=100).text.startswith("No trace takes over 100 s")


def test_latency_patterns_self_time(logs: pl.DataFrame) -> None:
    result = latency_patterns(logs)  # 6 traces over 60 s: threshold 60
    where = result.first(Table).frame
    chat = where.filter((pl.col("dimension") == "span name") & (pl.col("value") == "chat")).row(0, named=True)
    assert chat["slow_s_per_trace"] == pytest.approx(69.0) and chat["other_s_per_trace"] == pytest.approx(4.0)
    assert chat["extra_s_per_trace"] == pytest.approx(65.0)
    # The root's self time is the time outside its children: 90 - 71 vs 10 - 6.
    agent = where.filter((pl.col("dimension") == "span name") & (pl.col("value") == "agent")).row(0, named=True)
    assert (agent["slow_s_per_trace"], agent["other_s_per_trace"]) == pytest.approx((19.0, 4.0))
    gpt4o = where.filter((pl.col("dimension") == "model") & (pl.col("value") == "gpt-4o")).row(0, named=True)
    assert gpt4o["slow_presence"] == 1.0 and gpt4o["other_presence"] == 0.0
    assert where.filter(pl.col("dimension") == "span name")["value"][0] == "chat"
    by_model = result.frames[2]
    assert dict(by_model.select("model", "p95_s").iter_rows()) == {"gpt-4o": 69.0, "gpt-4o-mini": 4.0}
    assert "chat +65.0" in result.text


def test_demo_percentiles_match_numpy(demo: pl.DataFrame) -> None:  # noqa: F811
    roots = demo.filter(pl.col("is_root"))
    expected_slow = roots.filter(pl.col("duration") > 60).height
    result = slow_requests(demo, threshold_s=60, limit=10_000)
    assert result.first(Table).frame.height == expected_slow > 0
    patterns = latency_patterns(demo)
    by_tool = patterns.frames[3]
    tools = demo.filter((pl.col("type") == "tool") & pl.col("duration").is_not_null())
    for name, p50, p95 in by_tool.select("tool", "p50_s", "p95_s").iter_rows():
        durations = tools.filter(pl.col("name") == name)["duration"].to_numpy()
        assert p50 == pytest.approx(np.percentile(durations, 50))
        assert p95 == pytest.approx(np.percentile(durations, 95))
    shape = patterns.frames[1]
    assert shape.filter(pl.col("slow"))["traces"][0] == expected_slow
