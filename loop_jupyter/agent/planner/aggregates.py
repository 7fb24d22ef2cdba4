"""Aggregates and superlatives: "average latency by model", "slowest tools" → one SQL query."""

from __future__ import annotations

import re

from .conditions import Slots
from .slot_builders import TRACE_MEASURES, _ident

# -- aggregates and superlatives -----------------------------------------------------------------------------
METRICS = {
    "duration": ("duration", "duration"), "latency": ("duration", "duration"), "time": ("duration", "duration"),
    "tokens": ("tokens", "total_tokens"), "token": ("tokens", "total_tokens"), "cost": ("cost", "total_cost"),
    "spend": ("cost", "total_cost"), "costs": ("cost", "total_cost"), "costly": ("cost", "total_cost"),
}  # fmt: skip
AGGREGATES = {"average": "avg", "avg": "avg", "mean": "avg", "median": "median", "total": "sum", "sum": "sum",
              "max": "max", "maximum": "max", "min": "min", "minimum": "min", "p50": "p50", "p90": "p90",
              "p95": "p95", "p99": "p99"}  # fmt: skip
GROUPS = {"model": ("model", None), "models": ("model", None), "type": ("type", None), "types": ("type", None),
          "name": ("name", "name"), "user": ("metadata.user", '"user"'), "users": ("metadata.user", '"user"'),
          "tag": ("unnest(tags)", "unnest(tags)"), "tags": ("unnest(tags)", "unnest(tags)"),
          "day": ("date_trunc('day', created)", "date_trunc('day', created)"),
          "hour": ("date_trunc('hour', created)", "date_trunc('hour', created)"),
          "week": ("date_trunc('week', created)", "date_trunc('week', created)"),
          "tool": ("name", None), "tools": ("name", None)}  # fmt: skip
#: What a grouping implies about the spans counted: "errors by tool" counts tool spans, "by model"
#: the spans that have a model, "by user" the traces that carry one (not a NULL group of the rest).
GROUP_FILTERS = {"tool": "type = 'tool'", "model": "model IS NOT NULL"}
TRACE_GROUP_FILTERS = {"user": '"user" IS NOT NULL'}
GROUP_WORDS = r"models?|types?|tags?|users?|tools?|names?"
#: Ranking words before a plural group ("top users", "slowest tools", "most expensive models").
RANKS = {"top": None, "most active": None, "busiest": None, "heaviest": None}
SUPERLATIVES = {"slowest": ("duration", "DESC"), "longest": ("duration", "DESC"), "fastest": ("duration", "ASC"),
                "shortest": ("duration", "ASC"), "most expensive": ("cost", "DESC"), "priciest": ("cost", "DESC"),
                "cheapest": ("cost", "ASC"), "biggest": ("tokens", "DESC"), "largest": ("tokens", "DESC"),
                "most tokens": ("tokens", "DESC")}  # fmt: skip


PER_TRACE = re.compile(
    r"\b(?P<m>llm calls?|model calls?|tool calls?|spans?|errors?|tokens?|steps?|prompt tokens?|completion tokens?)"
    r"(?:\s+(?:per|each|in an?|in the average|for each|by)\s+|\s+(?:does|do)\s+(?:an?|each|the average)\s+)"
    r"(?:trace|request|conversation)\b",
    re.IGNORECASE,
)


def _per_trace(q: str) -> str | None:
    """The traces-view measure in "how many LLM calls per trace" (a TRACE_MEASURES key), or None."""
    m = PER_TRACE.search(q)
    if not m:
        return None
    words = re.sub(r"\s+", " ", m.group("m").lower())
    return words if words in TRACE_MEASURES else words + "s" if words + "s" in TRACE_MEASURES else None


def _group_match(q: str) -> re.Match[str] | None:
    """The grouping asked for: "by model", "which model ...", "top users", "slowest tools"."""
    ranks = "|".join([*RANKS, *SUPERLATIVES]).replace(" ", r"\s+")
    return (
        re.search(r"\b(?:by|per|for each|each|broken down by|grouped by)\s+(?P<g>" + "|".join(GROUPS) + r")\b", q)
        or re.search(rf"\b(?:which|what)\s+(?P<g>{GROUP_WORDS})\b", q)
        or re.search(rf"\b(?:{ranks})\s+(?P<g>models?|tools?|users?|tags?|names|types)\b", q)
    )


def _aggregate_sql(question: str, slots: Slots, shape: str) -> tuple[str, str] | None:
    """(SQL, label) for aggregate and superlative questions, or None."""
    q = question.lower()
    table = "traces" if shape == "traces" else "logs"
    where = slots.where(shape)
    where_sql = f" WHERE {where}" if where else ""
    group = _group_match(q)
    superlative = next((k for k in SUPERLATIVES if re.search(rf"\b{k}\b", q)), None)
    if superlative and not group and not slots.group_meta:
        metric, order = SUPERLATIVES[superlative]
        column = metric if shape == "spans" else METRICS[metric][1]
        limit = slots.limit or 10
        if shape == "traces":
            cols = f'root_span_id, created, name, "user", duration, span_count, total_tokens, total_cost, {column}'
        else:
            cols = "id, root_span_id, created, name, type, model, duration, tokens, cost"
        cols = ", ".join(dict.fromkeys(c.strip() for c in cols.split(",")))
        tie = "root_span_id" if shape == "traces" else "id"  # a total order: ties at the limit stay the same rows
        sql = f"SELECT {cols} FROM {table}{where_sql} ORDER BY {column} {order} NULLS LAST, {tie} LIMIT {limit}"
        return sql, f"{superlative} {limit} {shape}"
    agg_word = next((w for w in AGGREGATES if re.search(rf"\b{w}\b", q)), None)
    if agg_word is None and re.search(r"\bhow much\b", q):
        agg_word = "total"
    metric_word = next((w for w in METRICS if re.search(rf"\b{w}\b", q)), None)
    if re.search(r"\bhow long\b", q) and metric_word is None:  # "how long do deploys take"
        agg_word, metric_word = agg_word or "average", "duration"
    per_trace = _per_trace(q)
    if per_trace and group is None and not slots.group_meta:
        # "how many LLM calls per trace": a measure of the traces view, averaged unless said.
        column = TRACE_MEASURES[per_trace]
        agg = AGGREGATES[agg_word] if agg_word else "avg"
        expr = f"quantile_cont({column}, {int(agg[1:]) / 100:g})" if agg.startswith("p") else f"{agg}({column})"
        measured = PER_TRACE.search(question)
        lo, hi = measured.span() if measured else (0, 0)
        kept = [c for c in slots.conditions if not (c.span != (0, 0) and lo <= c.span[0] and c.span[1] <= hi)]
        where = Slots(conditions=kept).where("traces")
        sql = f"SELECT count(*) AS traces, {expr} AS {agg}_{column} FROM traces" + (f" WHERE {where}" if where else "")
        return sql, f"{agg} {per_trace} per trace"
    distinct = re.search(
        r"\b(?:how many|number of|count(?: of)?)\s+(?:unique |distinct |different )?(?P<g>users|models|tools|tags)\b", q
    )
    if distinct and group is None and not slots.group_meta:
        # "how many users this week": distinct values, not rows.
        dim = {"users": '"user"', "models": "unnest(models)", "tags": "unnest(tags)"}.get(distinct.group("g"))
        where = slots.where("traces")
        if dim is None:  # tools: the names of tool spans
            where = slots.where("spans")
            return (
                "SELECT count(DISTINCT name) AS tools FROM logs WHERE type = 'tool'"
                + (f" AND {where}" if where else ""),
                "distinct tools",
            )
        inner = f"SELECT {dim} AS v FROM traces" + (f" WHERE {where}" if where else "")
        return f"SELECT count(DISTINCT v) AS {distinct.group('g')} FROM ({inner})", f"distinct {distinct.group('g')}"
    rate = re.search(r"\b(?P<kind>error|failure|success) rates?\b", q)
    counting = re.search(r"\b(how many|count|number of)\b", q)
    group_name: str | None = None
    dim: str | None = None
    if slots.group_meta:
        # Metadata keys live on the root span (the traces view's metadata) or only on some spans.
        key = slots.group_meta
        if key in slots.root_meta_keys:
            table, shape, where_sql = "traces", "traces", f" WHERE {slots.where('traces')}" if slots.conditions else ""
        group_name, dim = key, f"metadata.{_ident(key)}"
    else:
        if group:
            group_name = group.group("g")
            dims = GROUPS[group_name]
            dim = dims[0] if shape == "spans" else (dims[1] or None)
            if dim is None:  # traces have no single model/type: count spans per value instead
                table, shape, where_sql = "logs", "spans", f" WHERE {slots.where('spans')}" if slots.conditions else ""
                dim = dims[0]
            if group_name.rstrip("s") == "user" and shape == "spans":
                # The user is on the root span: "errors by user" counts each user's traces (with errors).
                table, shape, where_sql = (
                    "traces",
                    "traces",
                    f" WHERE {slots.where('traces')}" if slots.conditions else "",
                )
                dim = dims[1]
            implied = (
                GROUP_FILTERS.get(group_name.rstrip("s"))
                if table == "logs"
                else TRACE_GROUP_FILTERS.get(group_name.rstrip("s"))
            )
            if implied:
                where_sql = f"{where_sql} AND {implied}" if where_sql else f" WHERE {implied}"
            group_name = group_name.rstrip("s")
    if group_name is None and not (agg_word and metric_word) and not rate and not counting:
        return None
    order_by = "n DESC"
    if superlative and group_name is not None and not (agg_word and metric_word):
        # "which model is slowest", "most expensive tools": rank the groups by that measure.
        metric, direction = SUPERLATIVES[superlative]
        metric_word = metric
        agg_word = "average" if metric == "duration" else "total"
        column = METRICS[metric][0 if table == "logs" else 1]
        order_by = f"{AGGREGATES[agg_word]}_{column} {direction} NULLS LAST"
    if metric_word and not agg_word and group_name is not None:
        agg_word = "average" if METRICS[metric_word][0] == "duration" else "total"  # "tokens by model"
    ranked = re.search(r"\b(?P<d>most|highest|largest|biggest|least|lowest|smallest)\b", q)
    if (ranked or not counting) and group_name is not None and agg_word and metric_word and order_by == "n DESC":
        # "which model costs the most": rank the groups by the measure asked about.
        column = METRICS[metric_word][0 if table == "logs" else 1]
        direction = "ASC" if ranked and ranked.group("d") in ("least", "lowest", "smallest") else "DESC"
        order_by = f"{AGGREGATES[agg_word]}_{column} {direction} NULLS LAST"
    select_dim = f"{dim} AS {_ident(group_name)}" if group_name is not None else ""
    measures = ["count(*) AS n"]
    if agg_word and metric_word:
        column = METRICS[metric_word][0 if table == "logs" else 1]
        agg = AGGREGATES[agg_word]
        expr = f"quantile_cont({column}, {int(agg[1:]) / 100:g})" if agg.startswith("p") else f"{agg}({column})"
        measures.append(f"{expr} AS {agg}_{column}")
    if rate:
        failed = "error IS NOT NULL" if table == "logs" else "has_error"
        kind = rate.group("kind")
        value = "0.0 ELSE 1.0" if kind == "success" else "1.0 ELSE 0.0"
        measures.append(f"avg(CASE WHEN {failed} THEN {value} END) AS {kind}_rate")
    select = ", ".join([select_dim, *measures] if select_dim else measures)
    tail = ""
    if select_dim:
        # Ties in the measure break on the group value (column 1): the order, and the rows kept by the
        # LIMIT, do not depend on the engine's hash order.
        tail = " GROUP BY 1 ORDER BY " + ("1" if group_name in ("day", "hour", "week") else f"{order_by}, 1")
        tail += f" LIMIT {slots.limit or 50}"
    what = f"{agg_word} {metric_word}" if agg_word and metric_word else (f"{rate.group(0)}" if rate else "count")
    label = what + (f" by {group_name}" if group_name else "")
    return f"SELECT {select} FROM {table}{where_sql}{tail}", label
