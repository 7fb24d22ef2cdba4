"""Most common errors and failure modes; model-level errors; context-window overflows."""

from __future__ import annotations

import plotly.express as px
import polars as pl

from ..artifacts import SqlFilter, Table, ToolResult
from ..tools import ToolContext, tool
from ._across import (
    COLORS,
    URL_HOST,
    capped_title,
    chart,
    clip,
    clip_middle,
    code,
    error_fields,
    fmt_pct,
    ids_condition,
    normalize_message,
    restrict,
    selected_roots,
)
from .errors_sql import sql_common_errors


def _status(codes: str) -> str:
    """An HTTP status in an error text ("Error code: 429", "status 529", "HTTP 429", "429 Too Many"),
    not any number that happens to match ("position 429")."""
    return rf"(?:code|status|http)\W{{0,3}}(?:{codes})\b|^(?:{codes})\b|\b(?:{codes}) (?:too many|overloaded|gateway)"


#: Error categories for model calls, tested in order on "type message" (lower case).
MODEL_ERROR_PATTERNS: dict[str, str] = {
    "context_overflow": (
        r"context[ _-]?(length|window)|maximum context|context_length_exceeded|prompt is too long|"
        r"too many tokens|input is too long|exceeds? the (model'?s? )?(maximum|context)|token limit"
    ),
    "rate_limit": _status("429") + r"|rate[ _-]?limit|too many requests|quota exceeded|insufficient_quota",
    "overloaded": _status("529") + r"|overloaded",
    "timeout": _status("504|408") + r"|time[ _-]?d? ?out|timeout|deadline exceeded",
    "api_error": (
        _status(r"5\d\d|40[0-4]|422") + r"|api[ _-]?error|apierror|internal server error|bad gateway|"
        r"service unavailable|connection|invalid_request|authentication|permission"
    ),
}


def _when_of(frame: pl.DataFrame) -> pl.Expr:
    return pl.coalesce("start", "created")


def error_spans(frame: pl.DataFrame) -> pl.DataFrame:
    """Spans with an error, plus ``error_type``, ``message``, ``normalized``, ``kind``, ``host`` and ``when``."""
    error_type, message = error_fields()
    errs = frame.filter(pl.col("error").is_not_null())
    models = errs.get_column("model").drop_nulls().unique().to_list() if "model" in errs.columns else []
    return errs.with_columns(
        error_type=error_type,
        message=message,
        when=_when_of(frame),
    ).with_columns(
        normalized=normalize_message(pl.col("message"), models),
        kind=failure_kind(),
        host=pl.col("message").str.extract(URL_HOST, 1).str.to_lowercase(),
    )


#: Categories that name a failure kind whatever the error type says (an SDK's class name is a detail).
_KIND_CATEGORIES = ("rate_limit", "overloaded", "timeout", "context_overflow")


def failure_kind() -> pl.Expr:
    """The kind of failure, the first level of grouping: rate_limit, overloaded, timeout or
    context_overflow when the text says so, else the error type, else api_error or "error"."""
    category = error_category()
    return (
        pl.when(category.is_in(_KIND_CATEGORIES))
        .then(category)
        .otherwise(pl.coalesce(pl.col("error_type"), category, pl.lit("error")))
    )


def error_category(type_column: str = "error_type", message_column: str = "message") -> pl.Expr:
    """The model-error category (rate_limit, overloaded, timeout, context_overflow, api_error) or null."""
    error_type, message = pl.col(type_column), pl.col(message_column)
    text = pl.concat_str([error_type.fill_null(""), message.fill_null("")], separator=" ").str.to_lowercase()
    expr: pl.Expr = pl.lit(None, pl.String)
    for name, pattern in reversed(MODEL_ERROR_PATTERNS.items()):
        expr = pl.when(text.str.contains(pattern)).then(pl.lit(name)).otherwise(expr)
    return expr


_GROUP_KEY = ["kind", "error_type", "normalized"]


def _ranked_values(errs: pl.DataFrame, column: str, k: int, alias: str, *, with_counts: bool) -> pl.DataFrame:
    """Per error group, the k most frequent non-null values of a column, most first and ties on the
    value (``["claude-4.5-sonnet: 141", "gpt-5.1: 100"]`` with counts, names kept intact).

    Counted in a group_by of their own and sorted there, not with ``value_counts`` inside the
    groups' aggregation: its order among equal counts follows its hashing and threads, and sorting
    its structs within the aggregation panicked or returned empty strings (Polars 2.1)."""
    counts = (
        errs.filter(pl.col(column).is_not_null())
        .group_by(*_GROUP_KEY, column)
        .agg(n=pl.len())
        .sort(["n", column], descending=[True, False])
    )
    value = pl.col(column)
    if with_counts:
        value = pl.concat_str([value, pl.col("n").cast(pl.String)], separator=": ")
    return counts.group_by(_GROUP_KEY).agg(value.head(k).alias(alias))


def _with_ranked_values(groups: pl.DataFrame, errs: pl.DataFrame) -> pl.DataFrame:
    """``groups`` (one row per error group) with span_names (top 3 span names) and by_model, by_span,
    by_host (top 8 with counts); a group without such values gets an empty list."""
    for column, k, alias, with_counts in (
        ("name", 3, "span_names", False),
        ("model", 8, "by_model", True),
        ("name", 8, "by_span", True),
        ("host", 8, "by_host", True),
    ):
        ranked = _ranked_values(errs, column, k, alias, with_counts=with_counts)
        groups = groups.join(ranked, on=_GROUP_KEY, how="left", nulls_equal=True).with_columns(
            pl.col(alias).fill_null(pl.lit([], pl.List(pl.String)))
        )
    return groups


def _breakdown_text(row: dict) -> str:
    parts = []
    for label, key in (("models", "by_model"), ("spans", "by_span"), ("hosts", "by_host")):
        values = row[key] or []
        if len(values) > 1 or (values and label == "hosts"):
            more = " …" if len(values) >= 8 else ""
            parts.append(f"{label} " + ", ".join(values[:4]) + more)
    return "; " + "; ".join(parts) if parts else ""


@tool(
    phrases=(
        r"\b(most )?(common|frequent|top|main)\b.*\b(errors?|failures?|failure modes?|exceptions?)\b",
        r"\b(errors?|failures?|exceptions?)\b.*\b(most common|most frequent|grouped|by type|breakdown)\b",
        r"\bwhat (errors|failures|goes wrong|went wrong|is failing|fails)\b",
        r"\bfailure modes?\b",
        r"\bgroup (the )?errors\b",
        r"\b(errors?|failures?|exceptions?)\b.{0,40}\b(happen|occur|appear|show up|come up)\w*\b.{0,20}\b(most|often|frequently)\b",
    )
)
def common_errors(ctx: ToolContext, where: str | None = None, limit: int = 20) -> ToolResult:
    """Group errors by normalised message (numbers, ids and quoted names masked) and by error type:
    counts by span and by trace, share of traffic, first/last seen, daily trend, example trace ids,
    and the spans (name, type, model) they come from.

    Args:
        where: optional WHERE condition on the traces view restricting which traces are considered,
            e.g. "metadata.app_version = '1.4.0'".
        limit: how many error groups to return (most traces affected first).
    """
    call = code("errors", "common_errors", {"where": where, "limit": limit})
    found = None
    if ctx.pushdown:  # many errors in a store: grouped in its SQL, not read out (None: Polars below)
        found = sql_common_errors(ctx, where, limit, MODEL_ERROR_PATTERNS, _KIND_CATEGORIES, min_errors=SQL_MIN_ERRORS)
    if found is None:
        spans, total_traces = error_scope(ctx, where, _COMMON_COLUMNS)
        found = polars_common_errors(error_spans(spans), limit)
    else:
        total_traces = _traces_in_scope(ctx, where)
    if found["n_spans"] == 0:
        return ToolResult(f"No errors in {total_traces:,} traces.", [call])
    groups = found["groups"].with_columns(share_of_traces=pl.col("traces") / total_traces)
    groups = groups.select(*groups.columns[:5], "share_of_traces", *groups.columns[5:-1])
    by_type = found["by_type"].with_columns(share_of_traces=pl.col("traces") / total_traces)
    daily, n_groups, n_spans, error_traces = found["daily"], found["n_groups"], found["n_spans"], found["error_traces"]
    lines = [
        f"{n_spans:,} error spans in {error_traces:,} of {total_traces:,} traces "
        f"({fmt_pct(error_traces / total_traces)}); {groups.height} groups shown (of {n_groups}):"
    ]
    for i, row in enumerate(groups.head(10).iter_rows(named=True), 1):
        kind = row["kind"] + (f"/{row['error_type']}" if row["error_type"] and row["error_type"] != row["kind"] else "")
        names = ", ".join(row["span_names"][:2])
        lines.append(
            f"{i}. [{kind}] {clip_middle(row['message'], 110)} — {row['spans']} spans, {row['traces']} traces "
            f"({fmt_pct(row['share_of_traces'])}), in {names or '?'}{_breakdown_text(row)}"
        )
    artifacts = [
        Table(groups, title=capped_title("Most common errors", groups.height, n_groups, f"limit={n_groups}")),
        Table(by_type, title="Errors by type"),
    ]
    if daily.height:
        fig = px.line(
            daily,
            x="day",
            y="spans",
            color="group",
            markers=True,
            color_discrete_sequence=COLORS,
            labels={"day": "Day", "spans": "Error spans", "group": "Error"},
        )
        artifacts.append(chart(fig, "Daily error spans, top error groups"))
    condition = "error IS NOT NULL"
    if where:
        condition += f" AND root_span_id IN (SELECT root_span_id FROM traces WHERE {where})"
    artifacts.append(SqlFilter(condition, "spans", n_spans, title="Error spans"))
    artifacts.append(call)
    return ToolResult("\n".join(lines), artifacts)


def polars_common_errors(errs: pl.DataFrame, limit: int) -> dict:
    """common_errors' frames and figures from the error spans (``error_spans``) in Polars: the path of
    the ClickHouse backends and of errors the engine's SQL cannot mask as Polars does (errors_sql.py)."""
    if errs.height == 0:
        return {"n_spans": 0}
    groups = (
        errs.group_by("kind", "error_type", "normalized")
        .agg(
            spans=pl.len(),
            traces=pl.col("root_span_id").n_unique(),
            first_seen=pl.col("when").min(),
            last_seen=pl.col("when").max(),
            example=pl.col("message").first(),
            example_trace_ids=pl.col("root_span_id").unique(maintain_order=True).head(3),
            span_types=pl.col("type").drop_nulls().unique().sort(),
            models=pl.col("model").drop_nulls().unique().sort(),
        )
        .pipe(_with_ranked_values, errs)
        # Ties on the counts and message break on kind, then type (the group-by's order is arbitrary).
        .sort(
            ["traces", "spans", "normalized", "kind", "error_type"],
            descending=[True, True, False, False, False],
            nulls_last=True,
        )
        .head(limit)
        .select(
            "kind",
            "error_type",
            pl.col("normalized").alias("message"),
            "spans",
            "traces",
            "first_seen",
            "last_seen",
            "span_names",
            "span_types",
            "models",
            "by_model",
            "by_span",
            "by_host",
            "example_trace_ids",
            pl.col("example").alias("example_message"),
        )
    )
    by_type = (
        errs.group_by("error_type")
        .agg(spans=pl.len(), traces=pl.col("root_span_id").n_unique())
        .sort(["traces", "spans", "error_type"], descending=[True, True, False], nulls_last=True)
    )
    top = groups.head(8).select("error_type", "message")
    daily = (
        errs.join(top.rename({"message": "normalized"}), on=["error_type", "normalized"], how="semi", nulls_equal=True)
        .with_columns(day=pl.col("when").dt.truncate("1d"), group=pl.col("normalized").str.slice(0, 60))
        .group_by("day", "group")
        .agg(spans=pl.len())
        .sort("day", "group")
    )
    return {
        "groups": groups,
        "by_type": by_type,
        "daily": daily,
        "n_groups": errs.select(pl.struct("kind", "error_type", "normalized").n_unique()).item(),
        "n_spans": errs.height,
        "error_traces": errs.get_column("root_span_id").n_unique(),
    }


def _traces_in_scope(ctx: ToolContext, where: str | None) -> int:
    """How many traces match ``where`` (all for None): counted in the store, or in the frame."""
    if ctx.pushdown:
        return ctx.count(where, shape="traces")
    return restrict(ctx.logs, selected_roots(ctx, where)).get_column("root_span_id").n_unique()


#: From this many error spans in scope a store groups them in its SQL (errors_sql.py) instead of
#: handing them to Polars: the answer is the same and the memory bounded, but DuckDB's RE2 masks cost
#: about 1.5x the CPU of Polars' (5.5 s against 4-5 s for 291,460 error spans at 10M spans), so below
#: it, where the error spans fit in memory with room to spare, Polars runs.
SQL_MIN_ERRORS = 1_000_000

#: The span columns the error tools read (from a store, only these, of the error spans only).
_ERROR_COLUMNS = ("id", "span_id", "root_span_id", "is_root", "created", "start", "name", "type", "model", "error",
                  "prompt_tokens", "tokens")  # fmt: skip
#: Those common_errors reads (its ids and token counts are not shown): fewer strings out of a store.
_COMMON_COLUMNS = ("root_span_id", "created", "start", "name", "type", "model", "error")


def error_scope(
    ctx: ToolContext, where: str | None = None, columns: tuple[str, ...] = _ERROR_COLUMNS
) -> tuple[pl.DataFrame, int]:
    """Spans holding every error span (of the traces matching ``where``), and how many traces.

    From a store only the error spans' ``_ERROR_COLUMNS`` are read (the filter runs in its SQL)
    and the traces are counted there; in memory, the frame itself.
    """
    if ctx.pushdown:
        condition = "error IS NOT NULL"
        if where:
            condition += f" AND root_span_id IN (SELECT root_span_id FROM traces WHERE {where})"
        return ctx.span_columns(*columns, where=condition), ctx.count(where, shape="traces")
    spans = restrict(ctx.logs, selected_roots(ctx, where))
    return spans, spans.get_column("root_span_id").n_unique()


def _model_error_frame(ctx: ToolContext, spans: pl.DataFrame) -> pl.DataFrame:
    errs = error_spans(spans).with_columns(category=error_category())
    # A model error is one on an LLM call, or one whose text says rate limit/overloaded wherever logged.
    llm_like = (pl.col("type") == "llm") | pl.col("model").is_not_null()
    return errs.filter(llm_like.fill_null(False) | pl.col("category").is_in(["rate_limit", "overloaded"])).with_columns(
        category=pl.col("category").fill_null("other")
    )


@tool(
    phrases=(
        r"\brate[ -]?limit",
        r"\b429s?\b",
        r"\b529s?\b",
        r"\boverload",
        r"\bmodel[- ]level errors?\b",
        r"\b(model|llm|provider|api) (errors?|failures?)\b",
        r"\b(api|llm|model) (calls? )?(timeouts?|timing out)\b",
    )
)
def model_errors(ctx: ToolContext) -> ToolResult:
    """Model-level errors as their own view: rate limits (429), overloaded (529), API errors,
    timeouts and context overflows on LLM calls, by category and model, with the error rate per
    model (errors / LLM calls) and a daily chart.
    """
    spans, total_traces = error_scope(ctx)
    errs = _model_error_frame(ctx, spans)
    call = code("errors", "model_errors", {})
    if errs.height == 0:
        return ToolResult(f"No model-level errors in {total_traces:,} traces.", [call])
    if ctx.pushdown:  # LLM calls per model, counted in the store
        calls = ctx.sql(
            "SELECT model, count(*) AS llm_calls FROM logs WHERE type = 'llm' OR model IS NOT NULL GROUP BY model"
        ).with_columns(pl.col("llm_calls").cast(pl.UInt32))
    else:
        logs = ctx.logs
        calls = (
            logs.filter((pl.col("type") == "llm") | pl.col("model").is_not_null())
            .group_by("model")
            .agg(llm_calls=pl.len())
        )
    by_category = (
        errs.group_by("category")
        .agg(
            spans=pl.len(),
            traces=pl.col("root_span_id").n_unique(),
            first_seen=pl.col("when").min(),
            last_seen=pl.col("when").max(),
            models=pl.col("model").drop_nulls().unique().sort(),
            example=pl.col("message").first(),
            example_trace_ids=pl.col("root_span_id").unique(maintain_order=True).head(3),
        )
        .with_columns(share_of_traces=pl.col("traces") / total_traces)
        .sort(["spans", "category"], descending=[True, False])
    )
    by_model = (
        errs.group_by("model", "category")
        .agg(spans=pl.len(), traces=pl.col("root_span_id").n_unique())
        .join(calls, on="model", how="left", nulls_equal=True)
        .with_columns(error_rate=pl.col("spans") / pl.col("llm_calls"))
        .sort(["spans", "model", "category"], descending=[True, False, False], nulls_last=True)
    )
    daily = (
        errs.with_columns(day=pl.col("when").dt.truncate("1d"))
        .group_by("day", "category")
        .agg(spans=pl.len())
        .sort("day", "category")
    )
    lines = [
        f"{errs.height:,} model-level error spans in {errs['root_span_id'].n_unique():,} of {total_traces:,} traces:"
    ]
    for row in by_category.iter_rows(named=True):
        lines.append(
            f"- {row['category']}: {row['spans']} spans, {row['traces']} traces ({fmt_pct(row['share_of_traces'])}),"
            f" models {', '.join(row['models'][:3]) or '?'}; e.g. {clip(row['example'], 80)}"
        )
    fig = px.bar(
        daily,
        x="day",
        y="spans",
        color="category",
        color_discrete_sequence=COLORS,
        labels={"day": "Day", "spans": "Error spans", "category": "Category"},
    )
    ids = errs.get_column("id").to_list()
    return ToolResult(
        "\n".join(lines),
        [
            Table(by_category, title="Model-level errors by category"),
            Table(by_model, title="Model-level errors by model"),
            chart(fig, "Model-level errors per day"),
            SqlFilter(
                "error IS NOT NULL AND (type = 'llm' OR model IS NOT NULL)",
                "spans",
                errs.height,
                ids[:1000],
                title="Model-level error spans (LLM calls)",
            ),
            call,
        ],
    )


@tool(
    phrases=(
        r"\bcontext[- ]?(window|length)\b",
        r"\bcontext overflows?\b",
        r"\b(overflow|exceed)\w* (the )?context\b",
        r"\bprompt (is )?too long\b",
    )
)
def context_overflows(ctx: ToolContext) -> ToolResult:
    """Context-window overflow incidents: spans whose error says the prompt exceeded the model's
    context, with the trace, span, model, prompt tokens at the time, and a summary per model.
    """
    spans, total_traces = error_scope(ctx)
    errs = error_spans(spans).with_columns(category=error_category()).filter(pl.col("category") == "context_overflow")
    call = code("errors", "context_overflows", {})
    if errs.height == 0:
        return ToolResult(f"No context-window overflows in {total_traces:,} traces.", [call])
    incidents = errs.sort("when", "id", nulls_last=True).select(
        "when",
        "root_span_id",
        "id",
        "name",
        "model",
        "prompt_tokens",
        "error_type",
        "message",
    )
    by_model = (
        errs.group_by("model")
        .agg(
            incidents=pl.len(),
            traces=pl.col("root_span_id").n_unique(),
            max_prompt_tokens=pl.col("prompt_tokens").max(),
            first_seen=pl.col("when").min(),
            last_seen=pl.col("when").max(),
        )
        .sort(["incidents", "model"], descending=[True, False], nulls_last=True)
    )
    traces = errs.get_column("root_span_id").n_unique()
    lines = [
        f"{errs.height:,} context-window overflows in {traces:,} of {total_traces:,} traces "
        f"({fmt_pct(traces / total_traces)})."
    ]
    for row in by_model.head(5).iter_rows(named=True):
        lines.append(f"- {row['model'] or '(no model)'}: {row['incidents']} incidents, {row['traces']} traces")
    lines.append(f"Latest: {clip(incidents['message'][-1], 120)}")
    ids = errs.get_column("id").to_list()
    return ToolResult(
        "\n".join(lines),
        [
            Table(by_model, title="Context overflows by model"),
            Table(incidents, title="Context overflow incidents"),
            SqlFilter(ids_condition(ids, "id"), "spans", len(ids), ids, title="Overflow spans"),
            call,
        ],
    )
