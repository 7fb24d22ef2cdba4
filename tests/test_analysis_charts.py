from __future__ import annotations

import polars as pl
import pytest

from loop_jupyter.analysis.charts import chart
from loop_jupyter.artifacts import Chart, Code, Table

from ._analysis_logs import DAY, demo, frame, run_code, span  # noqa: F401


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    events = []
    for n in range(8):
        root, day = f"r{n}", n % 4
        events.append(span(root, root, start=day * DAY + n, end=day * DAY + n + 10 + n))
        events.append(
            span(
                f"l{n}",
                root,
                root,
                type_="llm",
                model="a" if n % 2 else "b",
                start=day * DAY + n,
                tokens=(100, n),
                cost=0.01 * n,
                error="x" if n == 0 else None,
            )
        )
    return frame(events)


@pytest.mark.parametrize("kind", ["latency_histogram", "latency_percentiles", "tokens_by_model", "error_rate", "cost"])
def test_every_kind_charts_and_reproduces(logs: pl.DataFrame, kind: str) -> None:
    result = chart(logs, kind)
    fig = result.first(Chart).figure
    assert fig.layout.title.text and fig.layout.template.layout.paper_bgcolor is not None
    data = result.first(Table).frame
    assert run_code(result.first(Code).source, logs).equals(data)


def test_numbers(logs: pl.DataFrame) -> None:
    tokens = chart(logs, "tokens_by_model").first(Table).frame
    assert dict(tokens.group_by("model").agg(pl.col("tokens").sum()).iter_rows()) == {
        "a": 4 * 100 + 1 + 3 + 5 + 7,
        "b": 4 * 100 + 0 + 2 + 4 + 6,
    }
    rate = chart(logs, "error_rate").first(Table).frame
    assert rate["error_traces"].sum() == 1 and rate["traces"].sum() == 8
    cost = chart(logs, "cost").first(Table).frame
    assert cost["cost"].sum() == pytest.approx(0.01 * sum(range(8)))
    assert chart(logs, "nope").is_error  # type: ignore[arg-type]


def test_demo_error_rate(demo: pl.DataFrame) -> None:  # noqa: F811
    rate = chart(demo, "error_rate").first(Table).frame
    errored = demo.filter(pl.col("error").is_not_null())["root_span_id"].n_unique()
    assert rate["error_traces"].sum() == errored
