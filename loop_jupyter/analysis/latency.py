"""Slow requests and what distinguishes them: where the time goes in slow traces versus the rest."""

from __future__ import annotations

import polars as pl

from ..artifacts import SqlFilter, Table, ToolResult
from ..tools import ToolContext, tool
from ._across import capped_title, chart, clip, code, compare_bars, fmt_pct, ids_condition

#: Percentiles use linear interpolation (numpy's default) so they can be checked independently.
QUANTILE = "linear"
#: With no threshold, slow means over 60 s when at least this many traces are; otherwise the p95.
MIN_SLOW_TRACES = 5


def self_times(logs: pl.DataFrame) -> pl.DataFrame:
    """Spans with ``self_s``: duration minus the children's durations (never below 0), i.e. the time
    a span spent itself rather than waiting on its children."""
    children = (
        logs.filter(pl.col("parent_id").is_not_null())
        .group_by("root_span_id", "parent_id")
        .agg(children_s=pl.col("duration").sum())
        .rename({"parent_id": "span_id"})
    )
    return logs.join(children, on=["root_span_id", "span_id"], how="left").with_columns(
        self_s=(pl.col("duration") - pl.col("children_s").fill_null(0.0)).clip(lower_bound=0.0)
    )


def _slowest_span(logs: pl.DataFrame) -> pl.DataFrame:
    return (
        logs.filter(~pl.col("is_root") & pl.col("duration").is_not_null())
        .sort(["duration", "name"], descending=[True, False], nulls_last=True)  # name: all a source reads
        .group_by("root_span_id", maintain_order=True)
        .first()
        .select("root_span_id", slowest_span=pl.col("name"), slowest_span_s=pl.col("duration"))
    )


_SLOW_COLUMNS = (
    "root_span_id",
    "created",
    "duration",
    "name",
    "user",
    "span_count",
    "llm_calls",
    "tool_calls",
    "total_tokens",
    "models",
    "has_error",
)


@tool(
    phrases=(
        r"\bslow(est)? (requests?|traces?|calls?|runs?|responses?|conversations?)\b",
        r"\b(traces?|requests?) (that )?(take|took|taking|over|longer than)\b.*\d+ ?(s|secs?|seconds?|min|minutes?)\b",
        r"\bwhich (requests|traces) (are|were) slow\b",
        r"\blong[- ]running (traces?|requests?)\b",
    )
)
def slow_requests(ctx: ToolContext, threshold_s: float = 60.0, limit: int = 50, where: str | None = None) -> ToolResult:
    """Traces whose total duration is over a threshold, slowest first, with the slowest span of each.

    Args:
        threshold_s: the duration in seconds above which a trace counts as slow.
        limit: how many slow traces to list.
        where: optional WHERE condition on the traces view restricting which traces are considered,
            e.g. "list_has_any(models, ['gpt-5.1'])".
    """
    # The few trace columns the answer shows (from a store, only these are read).
    traces = ctx.trace_columns(*_SLOW_COLUMNS, where=where)
    durations = traces.get_column("duration").drop_nulls()
    # Ties (durations are stored in ms) break on the id, so every source lists the same traces.
    slow = traces.filter(pl.col("duration") > threshold_s).sort(["duration", "root_span_id"], descending=[True, False])
    call = code("latency", "slow_requests", {"threshold_s": threshold_s, "limit": limit, "where": where})
    condition = f"duration > {threshold_s:g}" + (f" AND ({where})" if where else "")
    # Nothing to list: the snippet prints the answer (there is no table for `.first(Table)` to read).
    empty_call = code("latency", "slow_requests", {"threshold_s": threshold_s, "limit": limit, "where": where}, ".text")
    if traces.height == 0:
        return ToolResult(
            f"No trace matches {where}.", [SqlFilter(condition, "traces", 0, title="Slow traces"), empty_call]
        )
    if slow.height == 0:
        if durations.len() == 0:  # not "p95 0.0 s": there is no time to compare
            text = (f"None of the {traces.height:,} traces has a duration (no timing metrics), so none can be "
                    f"found over {threshold_s:g} s.")  # fmt: skip
        else:
            untimed = traces.height - durations.len()
            text = (f"No trace takes over {threshold_s:g} s (of {traces.height:,}; p95 "
                    f"{durations.quantile(0.95, QUANTILE):.1f} s"
                    + (f"; {untimed:,} without a duration" if untimed else "") + ").")  # fmt: skip
        return ToolResult(text, [SqlFilter(condition, "traces", 0, title="Slow traces"), empty_call])
    if ctx.pushdown:  # the spans of the listed traces only
        listed = slow.head(limit).get_column("root_span_id").to_list()
        spans = ctx.span_columns("root_span_id", "is_root", "duration", "name", where=ids_condition(listed))
    else:
        spans = ctx.logs
    table = (
        slow.head(limit)
        .join(_slowest_span(spans), on="root_span_id", how="left")
        .select(*_SLOW_COLUMNS, "slowest_span", "slowest_span_s")
    )
    p50, p95 = durations.quantile(0.5, QUANTILE), durations.quantile(0.95, QUANTILE)
    lines = [
        f"{slow.height:,} of {traces.height:,} traces ({fmt_pct(slow.height / traces.height)}) take over "
        f"{threshold_s:g} s ({'these' if where else 'all'} traces: p50 {p50:.1f} s, p95 {p95:.1f} s). Slowest:"
    ]
    for row in table.head(8).iter_rows(named=True):
        lines.append(
            f"- {row['root_span_id']}: {row['duration']:.1f} s, {row['span_count']} spans, "
            f"slowest span {row['slowest_span'] or '?'} ({(row['slowest_span_s'] or 0):.1f} s)"
        )
    ids = slow.get_column("root_span_id").to_list()
    if slow.height > table.height:
        lines.append(
            f"The table lists the slowest {table.height:,} of the {slow.height:,}; all {slow.height:,} are in the SQL "
            f"filter (`{condition}` on traces), or ask again with limit={slow.height}."
        )
    how = f"limit={slow.height} or the SQL filter below"
    return ToolResult(
        "\n".join(lines),
        [
            Table(table, title=capped_title(f"Traces over {threshold_s:g} s", table.height, slow.height, how)),
            SqlFilter(condition, "traces", slow.height, ids, title="Slow traces"),
            call,
        ],
    )


def _where_time_goes(spans: pl.DataFrame, key: str, counts: dict[bool, int]) -> pl.DataFrame:
    """Per value of ``key``: seconds per trace (self time) and share of traces containing it, slow vs other."""
    grouped = (
        spans.filter(pl.col(key).is_not_null())
        .group_by(key, "slow")
        .agg(seconds=pl.col("self_s").sum(), traces=pl.col("root_span_id").n_unique(), spans=pl.len())
        .with_columns(n=pl.col("slow").replace_strict({True: counts[True], False: counts[False]}, default=0))
        .with_columns(s_per_trace=pl.col("seconds") / pl.col("n"), presence=pl.col("traces") / pl.col("n"))
    )
    slow = grouped.filter(pl.col("slow")).select(
        key, slow_s_per_trace="s_per_trace", slow_presence="presence", slow_spans="spans"
    )
    other = grouped.filter(~pl.col("slow")).select(
        key, other_s_per_trace="s_per_trace", other_presence="presence", other_spans="spans"
    )
    return (
        slow.join(other, on=key, how="full", coalesce=True)
        .with_columns(pl.col("^(slow|other)_.*$").fill_null(0))
        .with_columns(extra_s_per_trace=pl.col("slow_s_per_trace") - pl.col("other_s_per_trace"))
        .sort(["extra_s_per_trace", key], descending=[True, False])
        .select(
            pl.col(key).cast(pl.String).alias("value"),
            "extra_s_per_trace",
            "slow_s_per_trace",
            "other_s_per_trace",
            "slow_presence",
            "other_presence",
            "slow_spans",
            "other_spans",
        )
    )


def _percentiles(spans: pl.DataFrame, key: str) -> pl.DataFrame:
    return (
        spans.filter(pl.col(key).is_not_null() & pl.col("duration").is_not_null())
        .group_by(key)
        .agg(
            calls=pl.len(),
            p50_s=pl.col("duration").quantile(0.5, QUANTILE),
            p95_s=pl.col("duration").quantile(0.95, QUANTILE),
            slow_p50_s=pl.col("duration").filter(pl.col("slow")).quantile(0.5, QUANTILE),
            other_p50_s=pl.col("duration").filter(~pl.col("slow")).quantile(0.5, QUANTILE),
        )
        .sort(["p95_s", key], descending=[True, False])
    )


def resolve_threshold(durations: pl.Series, threshold_s: float | None) -> float:
    """The slow threshold: as given, else 60 s when enough traces exceed it, else the p95."""
    if threshold_s is not None:
        return threshold_s
    if (durations > 60.0).sum() >= MIN_SLOW_TRACES:
        return 60.0
    return float(durations.quantile(0.95, QUANTILE) or 0.0)


@tool(
    phrases=(
        r"\blatency (patterns?|breakdown|analysis|drivers?)\b",
        r"\bwhat makes (traces?|requests?|it|them) slow\b",
        r"\bwhy (are|is) (some |the )?(traces?|requests?|it|they|things) slow\b",
        r"\bwhere (does|is) (the )?time (go|spent)\b",
        r"\b(p50|p95|p99|percentiles?)\b.*\b(model|tool)s?\b",
        r"\bwhat distinguishes slow\b",
        r"\bpatterns?\b.*\b(high[- ]latency|slow|long[- ]running|latency)\b",
        r"\b(high[- ]latency|slow)\b.*\b(patterns?|in common)\b",
    )
)
def latency_patterns(ctx: ToolContext, threshold_s: float | None = None) -> ToolResult:
    """What distinguishes slow traces from the rest: which span names, models, tools and depths take
    the time (self time per trace, slow vs other), and p50/p95 span latency by model and by tool.

    Args:
        threshold_s: traces over this many seconds count as slow; by default 60 s when at least 5
            traces exceed it, otherwise the 95th percentile of trace duration.
    """
    traces = ctx.engine.traces
    durations = traces.get_column("duration").drop_nulls()
    call = code("latency", "latency_patterns", {"threshold_s": threshold_s})
    if durations.len() == 0:
        return ToolResult("No trace has a duration: timing metrics are missing.", [call])
    threshold = resolve_threshold(durations, threshold_s)
    flags = traces.select("root_span_id", slow=(pl.col("duration") > threshold).fill_null(False))
    counts = {bool(k): int(v) for k, v in flags.group_by("slow").len().iter_rows()}
    counts.setdefault(True, 0)
    counts.setdefault(False, 0)
    if counts[True] == 0:
        return ToolResult(f"No trace is over {threshold:.1f} s.", [call])
    spans = (
        # Roots included: their self time is the time spent outside any child span.
        self_times(ctx.logs)
        .join(flags, on="root_span_id", how="left")
        .with_columns(
            tool=pl.when(pl.col("type") == "tool").then(pl.col("name")),
            llm_model=pl.when(pl.col("type") == "llm").then(pl.coalesce("model", pl.col("name"))),
        )
    )
    by = {
        "span name": _where_time_goes(spans, "name", counts),
        "model": _where_time_goes(spans.filter(pl.col("type") == "llm"), "llm_model", counts),
        "tool": _where_time_goes(spans, "tool", counts),
        "depth": _where_time_goes(spans, "depth", counts),
    }
    shape = (
        traces.join(flags, on="root_span_id")
        .group_by("slow")
        .agg(
            traces=pl.len(),
            median_duration_s=pl.col("duration").median(),
            mean_spans=pl.col("span_count").mean(),
            mean_llm_calls=pl.col("llm_calls").mean(),
            mean_tool_calls=pl.col("tool_calls").mean(),
            mean_max_depth=pl.col("max_depth").mean(),
            mean_tokens=pl.col("total_tokens").mean(),
            error_rate=pl.col("has_error").mean(),
        )
        .sort("slow", descending=True)
    )
    by_model = _percentiles(spans.filter(pl.col("type") == "llm"), "llm_model").rename({"llm_model": "model"})
    by_tool = _percentiles(spans, "tool")
    combined = pl.concat([frame.with_columns(dimension=pl.lit(name)) for name, frame in by.items()]).select(
        "dimension", pl.exclude("dimension")
    )
    slow_row = shape.filter(pl.col("slow")).row(0, named=True)
    other_rows = shape.filter(~pl.col("slow"))
    other_row = other_rows.row(0, named=True) if other_rows.height else dict.fromkeys(slow_row, 0)
    lines = [
        f"Slow = over {threshold:.1f} s: {counts[True]:,} of {counts[True] + counts[False]:,} traces. "
        f"Slow vs other: {slow_row['mean_llm_calls']:.1f} vs {other_row['mean_llm_calls'] or 0:.1f} LLM calls, "
        f"{slow_row['mean_tool_calls']:.1f} vs {other_row['mean_tool_calls'] or 0:.1f} tool calls, "
        f"depth {slow_row['mean_max_depth'] or 0:.1f} vs {other_row['mean_max_depth'] or 0:.1f}.",
        "Extra self-time per slow trace (slow minus other, s/trace):",
    ]
    for name, frame in by.items():
        top = frame.filter(pl.col("extra_s_per_trace") > 0).head(3)
        if top.height:
            parts = ", ".join(
                f"{clip(r['value'], 40)} +{r['extra_s_per_trace']:.1f}" for r in top.iter_rows(named=True)
            )
            lines.append(f"- {name}: {parts}")
    for label, frame, key in (("model", by_model, "model"), ("tool", by_tool, "tool")):
        if frame.height:
            parts = ", ".join(
                f"{clip(r[key], 30)} p50 {r['p50_s']:.1f}/p95 {r['p95_s']:.1f}"
                for r in frame.head(4).iter_rows(named=True)
            )
            lines.append(f"Span latency by {label} (s): {parts}")
    fig = compare_bars(
        by["span name"].head(10),
        "value",
        {"slow_s_per_trace": "slow traces", "other_s_per_trace": "other traces"},
        "Self time per trace (s)",
        "Span name",
    )
    return ToolResult(
        "\n".join(lines),
        [
            Table(combined, title="Where the time goes: slow vs other traces"),
            Table(shape, title="Slow vs other traces"),
            Table(by_model, title="LLM span latency by model"),
            Table(by_tool, title="Tool span latency by tool"),
            chart(fig, f"Self time per trace by span name, traces over {threshold:.1f} s vs the rest"),
            SqlFilter(f"duration > {threshold:g}", "traces", counts[True], title="Slow traces"),
            call,
        ],
    )
