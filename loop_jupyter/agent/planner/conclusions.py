"""The conclusion an offline answer opens with: one or two sentences a person would write, with
figures taken from the tool's own artifacts (its tables and SQL filter), before the evidence.

"Rate limiting is the top failure: 362 spans in 323 traces (16.2%), mostly in
anthropic.messages.create, since Dec 16." A tool without a sentence here keeps its text as it is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import polars as pl

from ...analysis.trends import synthetic_times
from ...artifacts import SqlFilter, Table
from ...tools import ToolContext
from ...tools.working_reads import working_trace_count

#: Error kinds (analysis.errors' categories) as a person names them.
KIND_NAMES = {"rate_limit": "Rate limiting", "overloaded": "Provider overload", "timeout": "A timeout",
              "context_overflow": "Context-window overflow"}  # fmt: skip
AGG_WORDS = {"avg": "average", "sum": "total", "median": "median", "max": "maximum", "min": "minimum"}
#: Query LIMIT the planner uses for groups: a table this long may be cut.
GROUP_LIMIT = 50


#: A question about where a trace's time went ("where was the time spent?"): its summary opens with that.
_TIME_QUESTION = re.compile(r"\b(time|spent|spend)\b", re.IGNORECASE)


def conclude(call: dict[str, Any], artifacts: list[Any], ctx: ToolContext | None, question: str = "") -> str:
    """The opening sentence(s) for one tool call's result, or "" when there is none to write.
    ``question``: what was asked, when it decides what comes first (a trace's time, for a question
    about time)."""
    builder = BUILDERS.get(call["name"])
    if builder is None or ctx is None:
        return ""
    try:
        text = builder(call.get("input", {}), artifacts, ctx)
        if call["name"] == "summarize_trace" and _TIME_QUESTION.search(question):
            text = " ".join(t for t in (_time_went(artifacts), text) if t)
        return text
    except Exception:  # a conclusion is a courtesy: the evidence below stays the answer
        return ""


def _time_went(artifacts: list[Any]) -> str:
    """Where one trace's time went: the span name with the most self time, and its share."""
    by_name = _table(artifacts, "Where the time went")
    if by_name is None or by_name.height == 0:
        return ""
    top = by_name.row(0, named=True)
    share = f" ({top['share']:.0%} of the trace)" if top.get("share") is not None else ""
    return f"Most of the time went to {top['name']}: {top['self_s']:.2f} s of its own{share}."


def _table(artifacts: list[Any], title: str = "") -> pl.DataFrame | None:
    found = [a.frame for a in artifacts if isinstance(a, Table) and (a.title or "").startswith(title)]
    return found[0] if found else None


def _filter(artifacts: list[Any]) -> SqlFilter | None:
    found = [a for a in artifacts if isinstance(a, SqlFilter)]
    return found[0] if found else None


def _day(value: Any) -> str:
    if isinstance(value, datetime | date):
        return f"{value:%b} {value.day}, {value.year}"
    return str(value)


def _share(part: float, whole: float) -> str:
    return f"{part / whole:.1%}" if whole else "n/a"


def _common_errors(args: dict[str, Any], artifacts: list[Any], ctx: ToolContext) -> str:
    groups = _table(artifacts, "Most common errors")
    sql = _filter(artifacts)
    # ctx.count / ctx.sql: all the logs of a store, in its SQL (ctx.engine is a store's working sample)
    total = ctx.count(shape="traces")
    if groups is None or sql is None:
        return ""
    if groups.height == 0:
        return f"No span has an error in these {total:,} traces."
    top = groups.row(0, named=True)
    name = KIND_NAMES.get(top["kind"])
    if name is None or top["kind"] == "timeout":
        short = re.split(r"\s*(?:<|\(|:\s|\bat\b|…)", top["message"], maxsplit=1)[0].strip(" .:'\"`[{")
        if len(short.split()) < 2:  # "Parameter '<name>' is ...": one word says nothing; the message, clipped
            short = top["message"] if len(top["message"]) <= 60 else top["message"][:59].rstrip() + "…"
        name = f"{name} ({short})" if name else f"“{short}”"
    names = [s.rsplit(": ", 1)[0] for s in (top.get("by_span") or [])] or list(top.get("span_names") or [])
    where = (
        f", all in {names[0]}"
        if len(top.get("span_names") or names) == 1
        else (f", mostly in {names[0]}" if names else "")
    )
    # No "since Jan 1, 1970" when the times are made up (formats that record none: synthetic_times).
    since = f", since {_day(top['first_seen'])}" if top.get("first_seen") and not synthetic_times(ctx) else ""
    first = (f"{name} is the top failure: {top['spans']:,} spans in {top['traces']:,} traces "
             f"({_share(top['traces'], total)} of traces){where}{since}.")  # fmt: skip
    overall = ctx.sql(f"SELECT count(*) AS n, count(DISTINCT root_span_id) AS t FROM logs WHERE {sql.sql}").row(0)
    kinds = "one kind" if groups.height == 1 else f"{groups.height} groups"
    return first + f" Errors overall: {overall[0]:,} spans in {overall[1]:,} of {total:,} traces, in {kinds}."


def _slow_requests(args: dict[str, Any], artifacts: list[Any], ctx: ToolContext) -> str:
    sql = _filter(artifacts)
    slow = _table(artifacts, "Traces over")
    if sql is None:
        return ""
    threshold = re.search(r"duration > ([\d.]+)", sql.sql)
    over = f"over {float(threshold.group(1)):g} s" if threshold else "too long"
    where = args.get("where")
    total, timed = ctx.sql("SELECT count(*), count(duration) FROM traces" + (f" WHERE {where}" if where else "")).row(0)
    if sql.count == 0 and not total and where:
        return f"No trace matches {where}, so none takes {over}."
    if sql.count == 0 and total and not timed:
        return f"None of the {total:,} traces has a duration (no timing metrics), so none can be found {over}."
    if sql.count == 0 or slow is None or slow.height == 0:
        return f"No trace takes {over} (of {total:,})."
    top = slow.row(0, named=True)
    text = f"{sql.count:,} of {total:,} traces ({_share(sql.count, total)}) take {over}; the slowest took {top['duration']:,.1f} s"
    if top.get("slowest_span") and top.get("duration"):
        text += f", {top['slowest_span_s'] / top['duration']:.0%} of it in {top['slowest_span']}"
    # Most common first, equal counts by name (value_counts' own order among ties follows the rows' order).
    steps = (
        slow.get_column("slowest_span")
        .drop_nulls()
        .value_counts()
        .sort(["count", "slowest_span"], descending=[True, False])
    )
    if steps.height:
        step, count = steps.row(0)
        listed = "all" if slow.height == sql.count else f"{slow.height} listed"
        text += (
            f". {step} is the slowest step in {count} of the {listed}"
            if listed != "all"
            else f". {step} is the slowest step in {count} of them"
        )
    return text + "."


def _frustrated(args: dict[str, Any], artifacts: list[Any], ctx: ToolContext) -> str:
    users = _table(artifacts, "Frustrated users")
    signals = _table(artifacts, "Frustration signals")
    total = working_trace_count(ctx)  # the traces the tool scored (a store's sample: its ids, not its spans)
    if users is None:
        return ""
    if users.height == 0:
        return f"No user shows frustration in these {total:,} traces."
    count = int(users["frustrated_traces"].sum())
    top = users.row(0, named=True)
    text = (f"{users.height:,} users are frustrated in {count:,} of {total:,} traces ({_share(count, total)}); "
            f"{top['user']} the most, in {top['frustrated_traces']:,} traces.")  # fmt: skip
    if signals is not None and signals.height:
        signal, traces = signals.sort(["traces", "signal"], descending=[True, False]).row(0)  # ties by name
        text += f" The commonest signal is {signal} ({traces:,} traces)."
    return text


def _root_causes(args: dict[str, Any], artifacts: list[Any], ctx: ToolContext) -> str:
    features = _table(artifacts, "Over-represented")
    sql = _filter(artifacts)
    total = ctx.engine.traces.height
    if features is None or sql is None:
        return ""
    n = sql.count
    if features.height == 0:
        return f"Nothing stands out in the {n:,} symptom traces against the rest."
    top = features.row(0, named=True)
    lift = "only in them" if math.isinf(top["lift"]) else f"{top['lift']:.1f}×"
    return (f"The strongest difference in the {n:,} symptom traces ({_share(n, total)} of {total:,}) is "
            f"{top['kind']}: {top['feature']} — in {top['share_in_symptom']:.1%} of them vs "
            f"{top['share_in_rest']:.1%} of the rest ({lift}).")  # fmt: skip


def _generate_filter(args: dict[str, Any], artifacts: list[Any], ctx: ToolContext) -> str:
    shape, where = args.get("shape", "spans"), args.get("where", "")
    if shape == "traces":
        row = ctx.sql(f"SELECT count(*) FILTER (WHERE {where}), count(*) FROM traces").row(0)
        return f"{row[0]:,} of {row[1]:,} traces match ({_share(row[0], row[1])})."
    row = ctx.sql(f"SELECT count(*), count(DISTINCT root_span_id) FROM logs WHERE {where}").row(0)
    if not row[0]:
        return "No span matches."
    top = ctx.sql(f"SELECT name, count(*) AS n FROM logs WHERE {where} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1").row(0)
    most = f"all {top[0]}" if top[1] == row[0] else f"most often {top[0]} ({top[1]:,})"
    spans = f"{row[0]:,} spans match" if row[0] > 1 else "1 span matches"
    return f"{spans}, in {row[1]:,} trace{'s' if row[1] > 1 else ''}; {most}."


def _measure(column: str) -> tuple[str, Callable[[float], str]]:
    """Words and format of a measure column of the planner's aggregates ("avg_duration")."""
    agg, _, metric = column.partition("_")
    if column.endswith("_rate"):
        return column.replace("_", " "), lambda v: f"{v:.1%}"
    words = AGG_WORDS.get(agg, agg) + " " + metric.replace("total_", "").replace("_", " ")
    if metric.endswith("duration"):
        return words, lambda v: f"{v:,.2f} s"
    if metric.endswith("cost"):
        return words, lambda v: f"${v:,.4f}"
    return words, lambda v: f"{v:,.0f}" if float(v).is_integer() or abs(v) >= 100 else f"{v:,.2f}"


def _run_sql(args: dict[str, Any], artifacts: list[Any], ctx: ToolContext) -> str:
    frame = _table(artifacts, "Query result")
    query = str(args.get("query", ""))
    if frame is None:
        return ""
    if frame.height == 0:
        return "The query returned no rows."
    numeric = [c for c in frame.columns if frame.schema[c].is_numeric()]
    counts = [c for c in numeric if c in ("n", "traces")]
    measures = [c for c in numeric if c not in counts]
    outer = re.search(r"\bFROM\s+(\w+)", query, re.IGNORECASE)  # the outer FROM comes first
    unit = "traces" if outer and outer.group(1).lower() == "traces" else "spans"
    if " GROUP BY " not in query.upper():
        if frame.height != 1 or not numeric:
            return ""
        row = frame.row(0, named=True)
        parts = []
        for c in measures:
            if row[c] is None:
                continue
            if "_" not in c:  # count(DISTINCT ...) AS users
                parts.append(f"{row[c]:,} {c}")
                continue
            words, fmt = _measure(c)
            parts.append(f"the {words} is {fmt(row[c])}")
        if not parts:
            return f"{row[counts[0]]:,} {unit} match." if counts else ""
        over = f"Over {row[counts[0]]:,} {unit}, " if counts else ""
        text = over + " and ".join(parts)
        return text[0].upper() + text[1:] + "."
    group = frame.columns[0]
    cut = frame.height >= GROUP_LIMIT
    value = measures[0] if measures else (counts[0] if counts else None)
    if value is None:
        return ""
    ranked = frame.drop_nulls(value).sort(value, descending=True, maintain_order=True)
    if ranked.height == 0:  # "which tools are slowest" on logs without timing: say so, not a table of nulls
        why = " (the spans have no timing metrics)" if "duration" in value else ""
        return f"{value} is empty in all {frame.height:,} rows{why}, so nothing can be ranked by it."
    top, low = ranked.row(0, named=True), ranked.row(-1, named=True)
    label = (lambda v: _day(v)) if frame.schema[group].is_temporal() else str
    if not measures:
        total = int(frame[value].sum())
        share = "" if cut else f" of {total:,} ({_share(top[value], total)})"
        tied = ranked.filter(pl.col(value) == top[value]).get_column(group).to_list()
        if len(tied) > 1:
            named = ", ".join(label(t) for t in tied[:3]) + (", …" if len(tied) > 3 else "")
            each = "" if cut else f" of {total:,}"
            return f"{len(tied)} {group}s tie for the most {unit}, {top[value]:,} each{each}: {named} — {frame.height} {group} groups."
        text = f"{label(top[group])} has the most {unit}: {top[value]:,}{share}"
        if ranked.height > 1:
            second = ranked.row(1, named=True)
            text += f", then {label(second[group])} ({second[value]:,})"
        return text + f" — {frame.height} {group} groups{' listed' if cut else ''}."
    words, fmt = _measure(value)
    n = f" over {top[counts[0]]:,} {unit}" if counts else ""
    text = f"{label(top[group])} has the highest {words}: {fmt(top[value])}{n}"
    if ranked.height > 1:
        ratio = f", {top[value] / low[value]:.1f}× " if low[value] else ", vs "
        text += f"{ratio}{label(low[group])}'s {fmt(low[value])} (the lowest)"
    return text + "."


def _summarize_trace(args: dict[str, Any], artifacts: list[Any], ctx: ToolContext) -> str:
    anomalies = _table(artifacts, "Anomalies")
    if anomalies is None:
        return ""
    if anomalies.height == 0:
        return "Nothing in this trace stands out against the rest of the logs."
    details = anomalies.get_column("detail").to_list()
    first = details[0]
    also = f" Also: {'; '.join(details[1:3])}." if len(details) > 1 else ""
    return f"What stands out in this trace: {first}.{also}"


def _latency_patterns(args: dict[str, Any], artifacts: list[Any], ctx: ToolContext) -> str:
    """Where slow traces spend the time the others do not: the span name with the most extra self
    time per trace (ties by name), before the definitions and the other dimensions."""
    where = _table(artifacts, "Where the time goes")
    sql = _filter(artifacts)
    if where is None or sql is None:
        return ""
    names = where.filter((pl.col("dimension") == "span name") & (pl.col("extra_s_per_trace") > 0))
    if names.height == 0:
        return ""
    top = names.sort(["extra_s_per_trace", "value"], descending=[True, False]).row(0, named=True)
    threshold = re.search(r"duration > ([\d.]+)", sql.sql)
    over = f"over {float(threshold.group(1)):g} s" if threshold else "slow"
    return (f"Traces {over} ({sql.count:,}) spend the most extra time in {top['value']}: "
            f"{top['slow_s_per_trace']:,.1f} s per trace against {top['other_s_per_trace']:,.1f} s in the others "
            f"(+{top['extra_s_per_trace']:,.1f} s).")  # fmt: skip


BUILDERS: dict[str, Callable[[dict[str, Any], list[Any], ToolContext], str]] = {
    "latency_patterns": _latency_patterns,
    "common_errors": _common_errors,
    "slow_requests": _slow_requests,
    "frustrated_users": _frustrated,
    "root_causes": _root_causes,
    "generate_filter": _generate_filter,
    "run_sql": _run_sql,
    "summarize_trace": _summarize_trace,
}
