"""One trace: what happened in order, errors, where the time went, LLM calls and tool calls.

``trace_tree`` (the nested structure the explorer widget draws) is cycle-safe: a span reached
twice is not expanded again, and spans whose parent is missing hang under the root, flagged.
Times are seconds from the trace's first start. *Self time* is a span's duration not covered by
its children; the *critical path* follows, from the root, the child that finished last, then the
child that finished last before that one started, and so on (the spans that set the latency).
"""

from __future__ import annotations

import html
import re
from typing import Any, Literal

import polars as pl

from ..artifacts import Chart, Code, Table, ToolResult, TraceView
from ..engine import QueryError
from ..frame import loads
from ..snippet import literal
from ..tools import ToolContext, tool
from ..tools.text import error_kind, json_text, user_text

View = Literal["llm_timeline", "tools", "waterfall", "errors"]
_EPS = 1e-9


def trace_spans(frame: pl.DataFrame, root_span_id: str) -> pl.DataFrame:
    """The spans of one trace in start order, with ``offset`` (seconds from the trace's first start)."""
    spans = frame.filter(pl.col("root_span_id") == root_span_id)
    if spans.height == 0:
        return spans.with_columns(offset=pl.lit(None, pl.Float64), end_offset=pl.lit(None, pl.Float64))
    t0 = spans.get_column("start").min()
    spans = spans.with_columns(
        offset=(pl.col("start") - pl.lit(t0)).dt.total_microseconds() / 1e6,
    ).with_columns(end_offset=pl.col("offset") + pl.col("duration").fill_null(0.0))
    return spans.sort(["offset", "depth", "span_id"], nulls_last=True)


def _node(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "span_id": row["span_id"],
        "name": row["name"],
        "type": row["type"],
        "offset": row["offset"],
        "duration": row["duration"],
        "model": row["model"],
        "tokens": row["tokens"],
        "error": row["error"],
        "children": [],
    }


def trace_tree(frame: pl.DataFrame, root_span_id: str) -> dict[str, Any] | None:
    """The trace as nested dicts (``span_id, name, type, offset, duration, model, tokens, error,
    children``), children in start order. None when the trace is not in ``frame``."""
    spans = trace_spans(frame, root_span_id)
    if spans.height == 0:
        return None
    rows = spans.to_dicts()
    nodes = {row["span_id"]: _node(row) for row in rows}
    parents = {row["span_id"]: row["parent_id"] for row in rows}
    root_id = (
        root_span_id
        if root_span_id in nodes
        else next((r["span_id"] for r in rows if r["is_root"]), rows[0]["span_id"])
    )
    root = nodes[root_id]
    for row in rows:
        span_id = row["span_id"]
        if span_id == root_id:
            continue
        parent = parents[span_id]
        if parent in nodes and parent != span_id:
            nodes[parent]["children"].append(nodes[span_id])
    # Whatever is not reachable from the root (missing parent, or a cycle) hangs under the root.
    seen: set[str] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if node["span_id"] in seen:
            continue
        seen.add(node["span_id"])
        stack.extend(node["children"])
    for row in rows:
        if row["span_id"] not in seen:
            orphan = nodes[row["span_id"]]
            orphan["orphan"] = True
            root["children"].append(orphan)
            stack = [orphan]
            while stack:  # mark its reachable subtree so it is attached once
                node = stack.pop()
                if node["span_id"] in seen:
                    continue
                seen.add(node["span_id"])
                stack.extend(node["children"])
    return _acyclic(root, set())


def _acyclic(node: dict[str, Any], path: set[str]) -> dict[str, Any]:
    """A copy of ``node`` where a child already on the path (a cycle) is cut."""
    path = path | {node["span_id"]}
    children = [_acyclic(c, path) for c in node["children"] if c["span_id"] not in path]
    return {**node, "children": children}


def _walk(node: dict[str, Any]):
    yield node
    for child in node["children"]:
        yield from _walk(child)


def _union_length(intervals: list[tuple[float, float]]) -> float:
    total, current_start, current_end = 0.0, None, None
    for start, end in sorted(intervals):
        if current_end is None or start > current_end:
            if current_end is not None:
                total += current_end - current_start
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None:
        total += current_end - current_start
    return total


def tree_self_times(tree: dict[str, Any]) -> dict[str, float]:
    """Per span: its duration minus the union of its children's time (clipped to the span)."""
    out: dict[str, float] = {}
    for node in _walk(tree):
        if node["duration"] is None or node["offset"] is None:
            out[node["span_id"]] = 0.0
            continue
        start, end = node["offset"], node["offset"] + node["duration"]
        covered = [
            (max(c["offset"], start), min(c["offset"] + c["duration"], end))
            for c in node["children"]
            if c["duration"] is not None and c["offset"] is not None
        ]
        covered = [(a, b) for a, b in covered if b > a]
        out[node["span_id"]] = max(0.0, node["duration"] - _union_length(covered))
    return out


def critical_path(tree: dict[str, Any]) -> list[str]:
    """Span ids on the critical path, root first, then in the order they ran."""
    path: list[str] = []

    def visit(node: dict[str, Any]) -> None:
        path.append(node["span_id"])
        if node["duration"] is None or node["offset"] is None:
            return
        cursor = node["offset"] + node["duration"]
        chosen = []
        for child in sorted(
            (c for c in node["children"] if c["duration"] is not None and c["offset"] is not None),
            key=lambda c: (-(c["offset"] + c["duration"]), c["span_id"]),
        ):
            if child["offset"] + child["duration"] <= cursor + _EPS:
                chosen.append(child)
                cursor = child["offset"]
        for child in reversed(chosen):
            visit(child)

    visit(tree)
    return path


def _excerpt(value: str | None, limit: int = 160) -> str:
    if value is None:
        return ""
    text = json_text(value, limit + 1) or value
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _missing(ctx: ToolContext, root_span_id: str) -> ToolResult:
    return ToolResult(f"Trace {literal(root_span_id)} is not in the logs.", is_error=True)


def trace_steps(frame: pl.DataFrame, root_span_id: str) -> pl.DataFrame:
    """One row per span in start order with self time, critical-path flag, tokens and error kind."""
    spans = trace_spans(frame, root_span_id)
    tree = trace_tree(frame, root_span_id)
    if tree is None:
        return spans
    selfs = tree_self_times(tree)
    on_path = set(critical_path(tree))
    return spans.select(
        pl.int_range(1, pl.len() + 1).alias("step"),
        "span_id",
        "name",
        "type",
        "depth",
        pl.col("offset").round(3).alias("start_s"),
        pl.col("duration").round(3).alias("duration_s"),
        pl.col("span_id").replace_strict(selfs, default=0.0, return_dtype=pl.Float64).round(3).alias("self_s"),
        pl.col("span_id").is_in(list(on_path)).alias("critical_path"),
        "model",
        "prompt_tokens",
        "completion_tokens",
        "tokens",
        pl.col("error").map_elements(error_kind, return_dtype=pl.String).alias("error"),
    )


def tool_calls(frame: pl.DataFrame, root_span_id: str) -> pl.DataFrame:
    spans = trace_spans(frame, root_span_id).filter(pl.col("type") == "tool")
    return pl.DataFrame(
        [
            {
                "step_start_s": round(r["offset"], 3) if r["offset"] is not None else None,
                "tool": r["name"],
                "arguments": _excerpt(r["input"], 200),
                "result": _excerpt(r["output"], 200),
                "error": _excerpt(r["error"], 200),
                "duration_s": r["duration"],
            }
            for r in spans.iter_rows(named=True)
        ],
        schema={
            "step_start_s": pl.Float64,
            "tool": pl.String,
            "arguments": pl.String,
            "result": pl.String,
            "error": pl.String,
            "duration_s": pl.Float64,
        },
    )


def _tree_html(node: dict[str, Any], selfs: dict[str, float], on_path: set[str]) -> str:
    label = html.escape(f"{node['name'] or node['span_id']} [{node['type'] or '?'}]")
    duration = f" {node['duration']:.2f}s" if node["duration"] is not None else ""
    extra = f" self {selfs.get(node['span_id'], 0):.2f}s"
    if node["tokens"]:
        extra += f" · {node['tokens']} tok"
    style = "font-weight:bold;" if node["span_id"] in on_path else ""
    if node["error"]:
        style += "color:#d62728;"
        extra += " · " + html.escape(error_kind(node["error"]) or "error")
    children = "".join(_tree_html(c, selfs, on_path) for c in node["children"])
    inner = f"<ul>{children}</ul>" if children else ""
    return f'<li><span style="{style}">{label}{duration}</span><small>{extra}</small>{inner}</li>'


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


WHICH_TRACE = (
    "Which trace? Give a root_span_id, select a trace in the explorer, or name one in the question "
    "('the slowest trace', 'the latest trace from John Smith', 'trace <id>')."
)


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
    """Summarize one trace: what happened in order, errors, total latency and where it went (self
    time and critical path), tokens per LLM call, and each tool call with its arguments and result
    or error.

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
    lines = [
        f"Trace {root_span_id}: {spans.height} spans, {total:.2f} s, {llm.height} LLM calls "
        f"({int(llm.get_column('tokens').sum() or 0):,} tokens), {tools.height} tool calls, {errors.height} errors.",
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
        Table(steps, title="Spans in order"),
        Table(by_name, title="Where the time went (self time by span name)"),
    ]
    if llm.height:
        artifacts.append(Table(llm, title="LLM calls"))
    if tools.height:
        artifacts.append(Table(tools, title="Tool calls"))
    artifacts.append(Code(code, title="Reproduce"))
    return ToolResult("\n".join(lines), artifacts)


# -- views -------------------------------------------------------------------------------------------
_TYPE_COLORS = {
    "llm": "#636efa",
    "tool": "#00cc96",
    "task": "#ab63fa",
    "function": "#ffa15a",
    "score": "#19d3f3",
}


def _timeline(spans: pl.DataFrame, title: str) -> Any:
    import plotly.graph_objects as go

    rows = spans.to_dicts()
    labels = [f"{i + 1}. {'· ' * (r['depth'] or 0)}{r['name']}" for i, r in enumerate(rows)]
    colors = ["#d62728" if r["error"] else _TYPE_COLORS.get(r["type"] or "", "#8c8c8c") for r in rows]
    texts = [
        (f"{r['prompt_tokens'] or 0}→{r['completion_tokens'] or 0} tok" if r["tokens"] else "")
        + (" ⚠" if r["error"] else "")
        for r in rows
    ]
    hover = [
        f"{html.escape(r['name'] or '')} [{r['type']}]<br>start +{r['offset']:.3f}s, {r['duration'] or 0:.3f}s"
        + (f"<br>model {html.escape(r['model'])}" if r["model"] else "")
        + (f"<br>prompt {r['prompt_tokens']} / completion {r['completion_tokens']} tokens" if r["tokens"] else "")
        + (f"<br>error: {html.escape(error_kind(r['error']) or '')}" if r["error"] else "")
        for r in rows
    ]
    figure = go.Figure(
        go.Bar(
            y=labels,
            x=[r["duration"] or 0.0 for r in rows],
            base=[r["offset"] or 0.0 for r in rows],
            orientation="h",
            marker_color=colors,
            text=texts,
            textposition="auto",
            hovertext=hover,
            hoverinfo="text",
        )
    )
    figure.update_layout(
        title=title,
        xaxis_title="seconds from the start of the trace",
        yaxis={"autorange": "reversed", "title": None},
        height=max(240, 28 * len(rows) + 120),
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
        template="plotly_white",
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return figure


def _tool_definitions(value: Any) -> list[tuple[str, str]]:
    """(name, description) of tool definitions in the shapes seen in logs (OpenAI, Anthropic, names)."""
    out = []
    if isinstance(value, dict) and "tools" in value:
        value = value["tools"]
    if not isinstance(value, list):
        return out
    for item in value:
        if isinstance(item, str):
            out.append((item, ""))
        elif isinstance(item, dict):
            fn = item.get("function") if isinstance(item.get("function"), dict) else item
            name = fn.get("name")
            if isinstance(name, str):
                out.append((name, str(fn.get("description") or "")))
    return out


def available_tools(spans: pl.DataFrame) -> pl.DataFrame:
    """Tools the agent was given (metadata.tools, or tool definitions in LLM inputs) and their use."""
    defined: dict[str, str] = {}
    for row in spans.iter_rows(named=True):
        for field in ("metadata", "input"):
            raw = row[field]
            if raw is None or '"tools"' not in raw:
                continue
            try:
                parsed = loads(raw)
            except ValueError:
                continue
            if isinstance(parsed, dict) and "tools" in parsed:
                for name, description in _tool_definitions(parsed["tools"]):
                    defined.setdefault(name, description)
    calls = spans.filter(pl.col("type") == "tool")
    used = calls.group_by("name").agg(
        calls=pl.len(),
        errors=pl.col("error").is_not_null().sum(),
        last_output=pl.col("output").last(),
        last_error=pl.col("error").drop_nulls().last(),
    )
    table = pl.DataFrame(
        {"tool": list(defined), "description": list(defined.values()), "available": [True] * len(defined)},
        schema={"tool": pl.String, "description": pl.String, "available": pl.Boolean},
    )
    table = table.join(used.rename({"name": "tool"}), on="tool", how="full", coalesce=True).with_columns(
        available=pl.col("available").fill_null(False),
        calls=pl.col("calls").fill_null(0).cast(pl.Int64),
        errors=pl.col("errors").fill_null(0).cast(pl.Int64),
    )
    return table.with_columns(
        last_output=pl.col("last_output").map_elements(lambda v: _excerpt(v, 200), return_dtype=pl.String),
        last_error=pl.col("last_error").map_elements(lambda v: _excerpt(v, 200), return_dtype=pl.String),
    ).sort(["available", "calls", "tool"], descending=[True, True, False])


def html_table(frame: pl.DataFrame, title: str = "") -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row) + "</tr>"
        for row in frame.iter_rows()
    )
    caption = f"<caption>{html.escape(title)}</caption>" if title else ""
    return f'<table class="loop-table">{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def infer_view(text: str) -> View:
    lowered = text.lower()
    if re.search(r"\btools?\b", lowered):
        return "tools"
    if re.search(r"\b(errors?|fail\w*|exceptions?)\b", lowered):
        return "errors"
    if re.search(r"\b(waterfall|gantt|all (the )?spans|every span|full)\b", lowered) and not re.search(
        r"\b(llm|model) calls?\b", lowered
    ):
        return "waterfall"
    return "llm_timeline"


@tool(
    phrases=(
        r"\b(timeline|waterfall|gantt)\b",
        r"\b(llm|model) calls?\b.*\b(trace|timeline|tokens)\b",
        r"\btools? (available|defined|it had|the agent had)\b",
        r"\b(list|show)\b.*\btools\b.*\b(trace|outputs?)\b",
        r"\b(explain|describe|walk me through)\b.*\btool calls?\b",
    )
)
def trace_view(
    ctx: ToolContext,
    root_span_id: str | None = None,
    view: View | None = None,
    description: str | None = None,
    where: str | None = None,
) -> ToolResult:
    """A custom view of one trace: "llm_timeline" (waterfall of the LLM calls with token counts),
    "waterfall" (every span), "tools" (tools available to the agent and what each call returned),
    or "errors" (the failing spans and where they sit in the tree).

    Args:
        root_span_id: the trace's root span id (defaults to the first selected trace).
        view: "llm_timeline", "waterfall", "tools" or "errors" (read from the description when not given).
        description: the view wanted, in words ("list the tools it had and their outputs").
        where: a filter on spans keeping only some spans of the trace (timeline and waterfall).
    """
    view = view or infer_view(description or "")
    root_span_id = root_span_id or (ctx.selection[0] if ctx.selection else None)
    if not root_span_id:
        return ToolResult(WHICH_TRACE, is_error=True)
    spans = trace_spans(ctx.logs, root_span_id)
    if spans.height == 0:
        return _missing(ctx, root_span_id)
    code = (
        "from loop_jupyter.analysis.trace import trace_view\n\n"
        f"result = trace_view(logs, {literal(root_span_id)}, view={literal(view)})\n"
        "result.artifacts[0]"
    )
    if view in ("llm_timeline", "waterfall"):
        subset = spans.filter(pl.col("type") == "llm") if view == "llm_timeline" else spans
        if where:
            try:
                keep = ctx.engine.filter(where).get_column("span_id").implode()
            except QueryError as exc:
                return ToolResult(f"Cannot apply the filter: {exc.reason}", is_error=True)
            subset = subset.filter(pl.col("span_id").is_in(keep))
        if subset.height == 0:
            return ToolResult(f"Trace {root_span_id} has no LLM calls.", [Code(code)])
        what = "LLM calls" if view == "llm_timeline" else "spans"
        figure = _timeline(subset, f"Trace {root_span_id}: {subset.height} {what}")
        tokens = int(subset.get_column("tokens").sum() or 0)
        text = (
            f"{view} of trace {root_span_id}: {subset.height} {what}, {tokens:,} tokens, "
            f"{float(spans.get_column('end_offset').max() or 0):.2f} s in total."
        )
        view_artifact = TraceView(root_span_id, figure=figure, title=f"{what.capitalize()} of {root_span_id}")
        return ToolResult(text, [view_artifact, Chart(figure, title=view_artifact.title), Code(code)])
    if view == "tools":
        table = available_tools(spans)
        unused = table.filter(pl.col("available") & (pl.col("calls") == 0)).get_column("tool").to_list()
        undefined = table.filter(~pl.col("available")).get_column("tool").to_list()
        text = f"Trace {root_span_id}: {table.filter(pl.col('available')).height} tools available, "
        text += f"{int(table.get_column('calls').sum())} tool calls."
        if unused:
            text += f" Never called: {', '.join(unused[:10])}."
        if undefined:
            text += f" Called but not in the definitions: {', '.join(undefined[:10])}."
        calls = tool_calls(ctx.logs, root_span_id)
        body = html_table(table, "Tools available and used") + html_table(calls, "Tool calls in order")
        return ToolResult(
            text,
            [
                TraceView(root_span_id, html=body, title=f"Tools of {root_span_id}"),
                Table(table, title="Tools"),
                Table(calls, title="Tool calls"),
                Code(code),
            ],
        )
    if view == "errors":
        names = dict(zip(spans.get_column("span_id"), spans.get_column("name"), strict=True))
        parents = dict(zip(spans.get_column("span_id"), spans.get_column("parent_id"), strict=True))

        def path(span_id: str) -> str:
            out, seen = [], set()
            while span_id in names and span_id not in seen:
                seen.add(span_id)
                out.append(str(names[span_id]))
                span_id = parents.get(span_id)
            return " › ".join(reversed(out))

        failing = spans.filter(pl.col("error").is_not_null())
        table = pl.DataFrame(
            [
                {
                    "start_s": round(r["offset"], 3),
                    "span": r["name"],
                    "type": r["type"],
                    "path": path(r["span_id"]),
                    "error": _excerpt(r["error"], 300),
                    "input": _excerpt(r["input"], 200),
                }
                for r in failing.iter_rows(named=True)
            ],
            schema={
                "start_s": pl.Float64,
                "span": pl.String,
                "type": pl.String,
                "path": pl.String,
                "error": pl.String,
                "input": pl.String,
            },
        )
        text = f"Trace {root_span_id}: {table.height} failing spans" + (
            ": " + "; ".join(f"{r['span']}: {r['error'][:80]}" for r in table.head(5).iter_rows(named=True))
            if table.height
            else "."
        )
        return ToolResult(
            text,
            [
                TraceView(root_span_id, html=html_table(table, "Errors"), title=f"Errors of {root_span_id}"),
                Table(table, title="Errors"),
                Code(code),
            ],
        )
    return ToolResult(f"Unknown view {view!r}: use llm_timeline, waterfall, tools or errors.", is_error=True)


__all__ = [
    "available_tools",
    "critical_path",
    "summarize_trace",
    "tool_calls",
    "trace_spans",
    "trace_steps",
    "trace_tree",
    "trace_view",
    "tree_self_times",
]
