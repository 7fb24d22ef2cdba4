"""What is anomalous in one trace against the rest of the logs, for the trace summary:

- a **slow span**: at least :data:`SLOW_FACTOR` × the p50 duration of the spans of the same name
  (and type) across the logs, and at least :data:`MIN_SECONDS` long;
- a **retry storm**: the same tool called :data:`RETRY_RUN` or more times in a row under one parent
  (a model call: when at least two of them failed), or a call made again right after it failed;
- a **swallowed error**: spans below the root failed while the root reports no error;
- a **slow trace**: the whole trace slower than 95% of the traces.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from ..safejson import loads
from ..tools import ToolContext
from ..tools.text import shorten

SLOW_FACTOR = 10.0
MIN_SECONDS = 1.0
#: A p50 needs this many spans of the name across the logs.
MIN_PEERS = 5
RETRY_RUN = 3
#: How many slow spans are named (the table has them all).
SHOWN = 3

COLUMNS = {"kind": pl.String, "span_id": pl.String, "name": pl.String, "detail": pl.String, "ratio": pl.Float64}


def _whole(ctx: ToolContext) -> ToolContext:
    """The context over all the logs (a trace in scope sees only its own spans)."""
    unscoped = getattr(ctx, "unscoped", None)
    return unscoped if unscoped is not None else ctx


def name_medians(ctx: ToolContext) -> pl.DataFrame:
    """p50 duration and count of the spans of each (name, type) across the logs (cached). In SQL, so
    a store computes it where the spans are (no sample: one trace's summary stays exact)."""
    whole = _whole(ctx)
    key = ("trace_anomalies:p50", id(whole.source if whole.pushdown else whole.logs))
    if key not in whole.cache:
        whole.cache[key] = whole.sql(
            "SELECT name, type, median(duration) AS p50, count(*) AS peers FROM logs "
            "WHERE duration IS NOT NULL GROUP BY name, type"
        )
    return whole.cache[key]


def _root_durations(ctx: ToolContext, duration: float) -> dict[str, Any]:
    """How many traces have a duration, their p50 and p95, and how many are faster than ``duration``."""
    return (
        _whole(ctx)
        .sql(
            "SELECT count(*) AS n, median(duration) AS p50, quantile_cont(duration, 0.95) AS p95, "
            f"count(*) FILTER (WHERE duration < {float(duration)!r}) AS faster "
            "FROM logs WHERE is_root AND duration IS NOT NULL"
        )
        .row(0, named=True)
    )


def trace_anomalies(ctx: ToolContext, spans: pl.DataFrame) -> pl.DataFrame:
    """One row per anomaly of the trace whose spans (``trace_spans``, in start order) are given:
    ``kind, span_id, name, detail, ratio``, the largest first within each kind."""
    rows: list[dict[str, Any]] = []
    rows += _slow_trace(ctx, spans)
    rows += _slow_spans(ctx, spans)
    rows += _retries(spans)
    rows += _swallowed(spans)
    return pl.DataFrame(rows, schema=COLUMNS)


def _slow_trace(ctx: ToolContext, spans: pl.DataFrame) -> list[dict[str, Any]]:
    roots = spans.filter(pl.col("is_root") & pl.col("duration").is_not_null())
    if roots.height != 1:
        return []
    root = roots.row(0, named=True)
    found = _root_durations(ctx, root["duration"])
    total, p50, p95, faster = found["n"], found["p50"], found["p95"], found["faster"]
    if total < 20 or not p50 or root["duration"] <= p95:
        return []
    rank = (f"the slowest of {total:,} traces" if faster == total - 1
            else f"slower than {faster:,} of {total:,} traces")  # fmt: skip
    detail = (
        f"the trace took {root['duration']:,.1f} s, {root['duration'] / p50:.1f}× the p50 trace ({p50:,.1f} s); {rank}"
    )
    return [{"kind": "slow trace", "span_id": root["span_id"], "name": root["name"], "detail": detail,
             "ratio": root["duration"] / p50}]  # fmt: skip


def _slow_spans(ctx: ToolContext, spans: pl.DataFrame) -> list[dict[str, Any]]:
    medians = name_medians(ctx)
    slow = (
        spans.filter(~pl.col("is_root") & (pl.col("duration") >= MIN_SECONDS))
        .join(medians, on=["name", "type"], how="inner")
        .filter((pl.col("peers") >= MIN_PEERS) & (pl.col("p50") > 0))
        .with_columns(ratio=pl.col("duration") / pl.col("p50"))
        .filter(pl.col("ratio") >= SLOW_FACTOR)
        .sort(["ratio", "span_id"], descending=[True, False])
    )
    return [
        {
            "kind": "slow span",
            "span_id": r["span_id"],
            "name": r["name"],
            "detail": f"{r['name']} took {r['duration']:,.1f} s, {r['ratio']:,.0f}× its p50 across the logs "
            f"({r['p50']:,.2f} s over {r['peers']:,} {r['name']} spans)",
            "ratio": r["ratio"],
        }
        for r in slow.iter_rows(named=True)
    ]


def _retries(spans: pl.DataFrame) -> list[dict[str, Any]]:
    """Runs of the same tool or model call in a row under one parent (start order)."""
    calls = spans.filter(pl.col("type").is_in(["tool", "llm"]) & ~pl.col("is_root"))
    out: list[dict[str, Any]] = []
    for _, siblings in calls.group_by("parent_id", maintain_order=True):
        run: list[dict[str, Any]] = []
        for row in [*siblings.iter_rows(named=True), None]:
            if row is not None and run and row["name"] == run[-1]["name"]:
                run.append(row)
                continue
            failed = sum(r["error"] is not None for r in run)
            retried = len(run) >= 2 and all(r["error"] is not None for r in run[:-1])
            # Model calls in a row are an agent's loop when its tools hang below them: a storm only
            # when they fail and are called again.
            storm = len(run) >= RETRY_RUN and (run[0]["type"] == "tool" or failed >= 2)
            if storm or retried:
                kind = "retry storm" if storm else "retry"
                what = f"{run[0]['name']} called {len(run)} times in a row"
                what += f" ({failed} failed)" if failed else ""
                out.append({"kind": kind, "span_id": run[0]["span_id"], "name": run[0]["name"],
                            "detail": what, "ratio": float(len(run))})  # fmt: skip
            run = [row] if row is not None else []
    return sorted(out, key=lambda r: -r["ratio"])


def _swallowed(spans: pl.DataFrame) -> list[dict[str, Any]]:
    roots = spans.filter(pl.col("is_root"))
    if roots.height != 1 or roots.get_column("error")[0] is not None:
        return []
    failed = spans.filter(~pl.col("is_root") & pl.col("error").is_not_null())
    if failed.height == 0:
        return []
    first = failed.row(0, named=True)
    names = failed.get_column("name").unique(maintain_order=True).to_list()
    detail = (f"{failed.height} span{'s' if failed.height > 1 else ''} failed ({', '.join(names[:3])}; first: "
              f"{_error_text(first['error'])}) but the root reports no error: the failure was swallowed")  # fmt: skip
    return [{"kind": "swallowed error", "span_id": first["span_id"], "name": first["name"], "detail": detail,
             "ratio": float(failed.height)}]  # fmt: skip


def _error_text(error: str) -> str:
    """The error's message, short ("Error code: 529 - {'type': 'error', …")."""
    try:
        parsed = loads(error)
    except ValueError:
        parsed = error
    if isinstance(parsed, dict):
        parsed = parsed.get("message") or parsed.get("type") or parsed.get("error") or parsed
    return shorten(" ".join(str(parsed).split()), 70)


def anomaly_lines(anomalies: pl.DataFrame) -> list[str]:
    """The lines of the summary: each anomaly (slow spans capped at :data:`SHOWN`), or that none."""
    if anomalies.height == 0:
        return [
            f"Nothing anomalous against the rest of the logs (no span {SLOW_FACTOR:g}× its name's p50, "
            "no retries, no swallowed error)."
        ]
    lines = ["Anomalies against the rest of the logs:"]
    slow = 0
    for row in anomalies.iter_rows(named=True):
        if row["kind"] == "slow span":
            slow += 1
            if slow > SHOWN:
                continue
        lines.append(f"- {row['kind']}: {row['detail']}")
    if slow > SHOWN:
        lines.append(f"- … {slow - SHOWN} more slow spans (in the Anomalies table)")
    return lines
