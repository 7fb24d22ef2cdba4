"""Standard charts over the logs: latency, tokens by model, error rate, cost, over time."""

from __future__ import annotations

import re
from typing import Any, Literal

import plotly.express as px
import polars as pl

from ..artifacts import Table, ToolResult
from ..tools import ToolContext, tool
from ._across import COLORS, code
from ._across import chart as chart_artifact
from .query_chart import query_chart

QUANTILE = "linear"
ChartKind = Literal["latency_histogram", "latency_percentiles", "tokens_by_model", "error_rate", "cost"]


#: Words of a request → the chart kind, tested in order ("latency by day" is percentiles over time).
KIND_WORDS: list[tuple[str, str]] = [
    ("error_rate", r"\berror[- ]?rates?\b|\b(errors?|failures?)\b"),
    ("cost", r"\b(cost|costs|spend|spending|price|dollars?)\b"),
    ("tokens_by_model", r"\btokens?\b"),
    ("latency_histogram", r"\b(histogram|distribution)\b"),
    (
        "latency_percentiles",
        r"\b(by|per|each|every|over|across) (the )?(days?|hours?|weeks?|time|date)\b|\b(daily|hourly|trend|"
        r"timeline|time series|percentiles?|p50|p95|p99)\b",
    ),
]
#: "by day", "hourly": the bucket asked for, instead of the automatic one.
EVERY_WORDS = (
    ("1d", r"\b(by|per|each|every|a) day\b|\bdaily\b"),
    ("1h", r"\b(by|per|each|every|an) hour\b|\bhourly\b"),
)


def kind_for(description: str | None) -> ChartKind:
    """The chart a request in words asks for; a latency histogram when nothing says otherwise."""
    text = description or ""
    for kind, pattern in KIND_WORDS:
        if re.search(pattern, text, re.IGNORECASE):
            return kind  # type: ignore[return-value]
    return "latency_histogram"


def every_for(description: str | None) -> str | None:
    return next((e for e, p in EVERY_WORDS if re.search(p, description or "", re.IGNORECASE)), None)


def _bucket(frame: pl.DataFrame, column: str = "created", every: str | None = None) -> str:
    """Hourly buckets for logs spanning under three days, else daily (unless ``every`` is asked for)."""
    if every:
        return every
    times = frame.get_column(column).drop_nulls()
    if times.len() and (times.max() - times.min()).total_seconds() < 3 * 86400:
        return "1h"
    return "1d"


def chart_data(ctx: ToolContext, kind: str, every: str | None = None) -> tuple[pl.DataFrame, str]:
    """The numbers behind a chart, and the bucket used ("1h" or "1d"; "" for the histogram)."""
    if kind in ("latency_histogram", "latency_percentiles", "error_rate"):
        # Four trace columns (from a store, only these are read).
        traces = ctx.trace_columns("root_span_id", "created", "duration", "has_error")
    if kind == "latency_histogram":
        return traces.filter(pl.col("duration").is_not_null()).select("root_span_id", "created", "duration"), ""
    if kind == "latency_percentiles":
        every = _bucket(traces, every=every)
        return (
            traces.filter(pl.col("duration").is_not_null())
            .group_by(time=pl.col("created").dt.truncate(every))
            .agg(
                traces=pl.len(),
                p50_s=pl.col("duration").quantile(0.5, QUANTILE),
                p95_s=pl.col("duration").quantile(0.95, QUANTILE),
                p99_s=pl.col("duration").quantile(0.99, QUANTILE),
            )
            .sort("time"),
            every,
        )
    if kind == "error_rate":
        every = _bucket(traces, every=every)
        return (
            traces.group_by(time=pl.col("created").dt.truncate(every))
            .agg(traces=pl.len(), error_traces=pl.col("has_error").sum())
            .with_columns(error_rate=pl.col("error_traces") / pl.col("traces"))
            .sort("time"),
            every,
        )
    wanted = ("start", "created", "model", "tokens", "prompt_tokens", "completion_tokens", "cost")
    measure = "tokens" if kind == "tokens_by_model" else "cost"
    # From a store: the spans that carry the measure, these columns only.
    spans = ctx.span_columns(*wanted, where=f"{measure} IS NOT NULL") if ctx.pushdown else ctx.logs
    logs = spans.with_columns(time=pl.coalesce("start", "created"))
    if ctx.pushdown:  # the bucket follows the time range of all the spans, as in memory
        bounds = ctx.sql(
            "SELECT min(coalesce(start, created)) AS time FROM logs UNION ALL "
            "SELECT max(coalesce(start, created)) AS time FROM logs"
        )
        every = _bucket(bounds, "time", every)
    else:
        every = _bucket(logs, "time", every)
    if kind == "tokens_by_model":
        return (
            logs.filter(pl.col("tokens").is_not_null())
            .group_by(time=pl.col("time").dt.truncate(every), model=pl.col("model").fill_null("(no model)"))
            .agg(
                tokens=pl.col("tokens").sum(),
                prompt_tokens=pl.col("prompt_tokens").sum(),
                completion_tokens=pl.col("completion_tokens").sum(),
                calls=pl.len(),
            )
            .sort("time", "model"),
            every,
        )
    if kind == "cost":
        return (
            logs.filter(pl.col("cost").is_not_null())
            .group_by(time=pl.col("time").dt.truncate(every), model=pl.col("model").fill_null("(no model)"))
            .agg(cost=pl.col("cost").sum(), calls=pl.len())
            .sort("time", "model"),
            every,
        )
    raise ValueError(f"unknown chart kind {kind!r}")


def _by_model(data: pl.DataFrame, column: str, label: str, unit: str) -> tuple[Any, pl.DataFrame]:
    """A bar per time bucket stacked by model for ``column``, and its totals per model, largest first."""
    fig = px.bar(
        data,
        x="time",
        y=column,
        color="model",
        color_discrete_sequence=COLORS,
        labels={"time": unit.capitalize(), column: label, "model": "Model"},
    )
    per_model = (
        data.group_by("model")
        .agg(pl.col(column).sum())
        .sort([column, "model"], descending=[True, False], nulls_last=True)
    )
    return fig, per_model


@tool(
    phrases=(
        r"\b(chart|plot|graph|histogram|visuali[sz]e|show)\b.*\b(latency|duration|tokens?|errors?|error rate|cost|spend)\b",
        r"\b(latency|duration) (histogram|distribution|percentiles? over time)\b",
        r"\b(tokens?|cost|spend|error rate) over time\b",
    )
)
def chart(
    ctx: ToolContext, kind: ChartKind | None = None, description: str | None = None, query: str | None = None
) -> ToolResult:
    """A standard chart over the logs, with the numbers behind it; or a chart of a query's rows.

    Args:
        kind: "latency_histogram" (trace durations), "latency_percentiles" (p50/p95/p99 trace
            duration over time), "tokens_by_model" (tokens over time per model), "error_rate"
            (share of traces with an error over time) or "cost" (estimated cost over time per model).
        description: the chart asked for in words ("latency by day"); picks the kind when none is
            given, and "by day" / "hourly" picks the time bucket.
        query: instead of a standard chart, a read-only SQL query whose rows to chart (first column
            on the x axis, first numeric column after it as the value): e.g. an earlier answer's query.
    """
    if query:
        return query_chart(ctx, query, description)
    kind = kind or kind_for(description)
    asked_every = every_for(description)
    call = code("charts", "chart", {"kind": kind, "description": description})
    try:
        data, every = chart_data(ctx, kind, asked_every)
    except ValueError as exc:
        return ToolResult(str(exc) + "; use one of " + ", ".join(ChartKind.__args__), is_error=True)
    if data.height == 0:
        missing = {"cost": "metrics.estimated_cost", "tokens_by_model": "token metrics"}.get(kind, "timing metrics")
        return ToolResult(f"Nothing to chart: no span has {missing}.", [call])
    unit = "hour" if every == "1h" else "day"
    if kind == "latency_histogram":
        d = data.get_column("duration")
        p50, p95, p99 = (d.quantile(q, QUANTILE) for q in (0.5, 0.95, 0.99))
        fig = px.histogram(
            data, x="duration", nbins=60, color_discrete_sequence=COLORS, labels={"duration": "Trace duration (s)"}
        )
        fig.update_yaxes(title_text="Traces")
        for value, label in ((p50, "p50"), (p95, "p95"), (p99, "p99")):
            fig.add_vline(x=value, line_dash="dash", line_color="#888888", annotation_text=f"{label} {value:.1f}s")
        title = "Trace duration"
        text = f"{d.len():,} traces: p50 {p50:.2f} s, p95 {p95:.2f} s, p99 {p99:.2f} s, max {d.max():.2f} s."
    elif kind == "latency_percentiles":
        plot = data.unpivot(index="time", on=["p50_s", "p95_s", "p99_s"], variable_name="percentile", value_name="s")
        fig = px.line(
            plot.with_columns(pl.col("percentile").str.replace("_s", "")),
            x="time",
            y="s",
            color="percentile",
            markers=True,
            color_discrete_sequence=COLORS,
            labels={"time": unit.capitalize(), "s": "Trace duration (s)", "percentile": "Percentile"},
        )
        title = f"Trace duration percentiles per {unit}"
        worst = data.sort(["p95_s", "time"], descending=[True, False], nulls_last=True).row(0, named=True)
        text = f"{data.height} {unit}s; worst p95 {worst['p95_s']:.2f} s on {worst['time']:%Y-%m-%d %H:%M}."
    elif kind == "error_rate":
        fig = px.line(
            data,
            x="time",
            y="error_rate",
            markers=True,
            color_discrete_sequence=[COLORS[3]],
            hover_data=["traces", "error_traces"],
            labels={"time": unit.capitalize(), "error_rate": "Traces with an error"},
        )
        fig.update_yaxes(tickformat=".0%")
        title = f"Error rate per {unit}"
        total = data["error_traces"].sum() / data["traces"].sum()
        worst = data.sort(["error_rate", "time"], descending=[True, False], nulls_last=True).row(0, named=True)
        text = (
            f"{data.height} {unit}s; overall {total:.1%} of traces have an error; highest "
            f"{worst['error_rate']:.1%} on {worst['time']:%Y-%m-%d %H:%M}."
        )
    elif kind == "tokens_by_model":
        fig, per_model = _by_model(data, "tokens", "Tokens", unit)
        title = f"Tokens per {unit} by model"
        text = "Tokens by model: " + ", ".join(f"{m}: {t:,}" for m, t in per_model.head(6).iter_rows())
    else:
        fig, per_model = _by_model(data, "cost", "Estimated cost (USD)", unit)
        title = f"Estimated cost per {unit} by model"
        text = f"Total ${data['cost'].sum():,.2f}; " + ", ".join(
            f"{m}: ${c:,.2f}" for m, c in per_model.head(6).iter_rows()
        )
    return ToolResult(text, [chart_artifact(fig, title), Table(data, title=title + " (data)"), call])
