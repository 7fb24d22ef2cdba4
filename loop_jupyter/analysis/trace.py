"""One trace: what happened in order, errors, where the time went, LLM calls and tool calls.

``trace_tree`` (the nested structure the explorer widget draws) is cycle-safe: a span reached
twice is not expanded again, and spans whose parent is missing hang under the root, flagged.
Times are seconds from the trace's first start. *Self time* is a span's duration not covered by
its children; the *critical path* follows, from the root, the child that finished last, then the
child that finished last before that one started, and so on (the spans that set the latency).

The pieces live in :mod:`._trace_parts`; the ``trace_view`` tool in :mod:`.trace_views`; both are
re-exported here.
"""

from __future__ import annotations

import html
from typing import Any

import polars as pl

from ..artifacts import Code, Table, ToolResult, TraceView
from ..snippet import literal
from ..tools import ToolContext, tool
from ..tools.text import error_kind, user_text
from ._trace_anomalies import anomaly_lines, trace_anomalies
from ._trace_parts import (
    WHICH_TRACE,
    _excerpt,
    _missing,
    _short,
    critical_path,
    tool_calls,
    trace_spans,
    trace_steps,
    trace_tree,
    tree_self_times,
)


def _tree_html(node: dict[str, Any], selfs: dict[str, float], on_path: set[str]) -> str:
    """The tree as nested ``<li>``/``<ul>``, built iteratively (a trace of any depth)."""
    parts: list[str] = []
    stack: list[dict[str, Any] | str] = [node]  # nodes still to open, or closing tags
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            parts.append(item)
            continue
        parts.append(_tree_item(item, selfs, on_path))
        if item["children"]:
            stack.extend(["</ul></li>", *reversed(item["children"])])
            parts.append("<ul>")
        else:
            stack.append("</li>")
    return "".join(parts)


def _tree_item(node: dict[str, Any], selfs: dict[str, float], on_path: set[str]) -> str:
    """The opening of one node's ``<li>``: its label and numbers (children follow)."""
    label = html.escape(f"{node['name'] or node['span_id']} [{node['type'] or '?'}]")
    duration = f" {node['duration']:.2f}s" if node["duration"] is not None else ""
    extra = f" self {selfs.get(node['span_id'], 0):.2f}s"
    if node["tokens"]:
        extra += f" · {node['tokens']} tok"
    style = "font-weight:bold;" if node["span_id"] in on_path else ""
    if node["error"]:
        style += "color:#d62728;"
        extra += " · " + html.escape(error_kind(node["error"]) or "error")
    return f'<li><span style="{style}">{label}{duration}</span><small>{extra}</small>'


def _asked(root: dict, spans: pl.DataFrame) -> str:
    """What the user asked: the root's input, else (a root that logged no input, as OpenTelemetry
    agents often do) the user message of the trace's first span that has one."""
    asked = user_text(root["input"], 400)
    if asked.strip():
        return asked
    for value in spans.filter(pl.col("input").is_not_null()).head(20).get_column("input").to_list():
        asked = user_text(value, 400, which="first")
        if asked.strip():
            return asked
    return ""


@tool(
    phrases=(
        r"\b(summari[sz]e|explain|describe|walk me through|what happened in)\b.*\btrace\b",
        r"\bwhat happened\b.*\b(trace|request|conversation|run)\b",
        r"\bwhere did the time go\b",
        r"\bwhere (was|is|did) (the|its|all the) time (spent|go)\b",
        r"\btime breakdown\b",
        r"\bcritical path\b",
    )
)
def summarize_trace(ctx: ToolContext, root_span_id: str | None = None) -> ToolResult:
    """Summarize one trace: what is anomalous in it against the rest of the logs (a span many times
    its name's p50, a retry storm, an error swallowed below a root without one), what happened in
    order, errors, total latency and where it went (self time and critical path), tokens per LLM
    call, and each tool call with its arguments and result or error.

    Args:
        root_span_id: the trace's root span id (defaults to the first selected trace).
    """
    root_span_id = root_span_id or (ctx.selection[0] if ctx.selection else None)
    if not root_span_id:
        return ToolResult(WHICH_TRACE, is_error=True)
    tree = trace_tree(ctx.logs, root_span_id)
    if tree is None:
        return _missing(ctx, root_span_id)
    steps = trace_steps(ctx.logs, root_span_id)
    spans = trace_spans(ctx.logs, root_span_id)
    total = float(spans.get_column("end_offset").max() or 0.0)
    selfs = tree_self_times(tree)
    on_path = critical_path(tree)
    errors = steps.filter(pl.col("error").is_not_null())
    llm = steps.filter(pl.col("type") == "llm").select(
        "step", "name", "model", "prompt_tokens", "completion_tokens", "tokens", "duration_s"
    )
    tools = tool_calls(ctx.logs, root_span_id)
    by_name = (
        steps.group_by("name", "type")
        .agg(spans=pl.len(), self_s=pl.col("self_s").sum())
        .with_columns(share=(pl.col("self_s") / total if total > 0 else pl.lit(None, pl.Float64)).round(3))
        .sort(["self_s", "name"], descending=[True, False])
    )
    root = spans.filter(pl.col("span_id") == tree["span_id"]).row(0, named=True)
    anomalies = trace_anomalies(ctx, spans)
    lines = [
        f"Trace {root_span_id}: {spans.height} spans, {total:.2f} s, {llm.height} LLM calls "
        f"({int(llm.get_column('tokens').sum() or 0):,} tokens), {tools.height} tool calls, {errors.height} errors.",
        *anomaly_lines(anomalies),
        f"Asked: {_short(_asked(root, spans), 200)}",
        f"Answered: {_excerpt(root['output'], 200) or '(no output)'}",
        "In order:",
    ]
    for row in steps.head(30).iter_rows(named=True):
        detail = f"{row['duration_s']:.2f}s" if row["duration_s"] is not None else "?"
        if row["tokens"]:
            detail += f", {row['tokens']} tokens"
        if row["error"]:
            detail += f", ERROR {row['error']}"
        lines.append(
            f"{row['step']}. +{row['start_s'] or 0:.2f}s {'  ' * (row['depth'] or 0)}{row['name']} "
            f"[{row['type']}] {detail}"
        )
    if steps.height > 30:
        lines.append(f"... {steps.height - 30} more spans")
    names = dict(zip(steps.get_column("span_id"), steps.get_column("name"), strict=True))
    lines.append("Critical path: " + " → ".join(str(names.get(s)) for s in on_path[:12]))
    top = by_name.head(3).iter_rows(named=True)
    lines.append("Time went to: " + "; ".join(f"{r['name']} {r['self_s']:.2f}s self" for r in top))
    for row in tools.head(10).iter_rows(named=True):
        outcome = f"error: {row['error']}" if row["error"] else f"→ {row['result'][:100]}"
        lines.append(f"Tool {row['tool']}({row['arguments'][:100]}) {outcome}")
    view = TraceView(
        root_span_id,
        html=f'<ul class="loop-trace-tree">{_tree_html(tree, selfs, set(on_path))}</ul>',
        title=f"Trace {root_span_id}",
    )
    code = (
        "from loop_jupyter.analysis.trace import summarize_trace, trace_steps, trace_tree\n\n"
        f"steps = trace_steps(logs, {literal(root_span_id)})  # one row per span: self time, critical path, tokens\n"
        f"tree = trace_tree(logs, {literal(root_span_id)})\n"
        f"summarize_trace(logs, {literal(root_span_id)}).text"
    )
    artifacts = [
        view,
        Table(anomalies, title="Anomalies against the rest of the logs"),
        Table(steps, title="Spans in order"),
        Table(by_name, title="Where the time went (self time by span name)"),
    ]
    if llm.height:
        artifacts.append(Table(llm, title="LLM calls"))
    if tools.height:
        artifacts.append(Table(tools, title="Tool calls"))
    artifacts.append(Code(code, title="Reproduce"))
    return ToolResult("\n".join(lines), artifacts)


# Imported after summarize_trace is registered: the registry's order breaks ties when the offline
# planner routes a question, and summarize_trace came first when both lived in this module.
from .trace_views import View, available_tools, html_table, infer_view, trace_view  # noqa: E402

__all__ = [
    "View",
    "available_tools",
    "critical_path",
    "html_table",
    "infer_view",
    "summarize_trace",
    "tool_calls",
    "trace_spans",
    "trace_steps",
    "trace_tree",
    "trace_view",
    "tree_self_times",
]
