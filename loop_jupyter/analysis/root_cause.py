"""Root causes: from a symptom (a set of traces) to what is over-represented in those traces.

Every trace gets binary features (span names present, tools called, tools failing, error types,
tools missing from an agent's tool definitions, models, tags, low-cardinality root metadata such
as ``app_version``); each feature's share in the symptom traces is compared with its share in the
rest. Lift = share in symptom / share in rest; support = symptom traces that have it.
"""

from __future__ import annotations

import re

import orjson
import polars as pl

from ..artifacts import SqlFilter, Table, ToolResult
from ..tools import ToolContext, tool
from ._across import chart, clip, code, compare_bars, error_fields, fmt_pct, ids_condition

#: Root metadata keys with at most this many distinct values become features (app_version, env, ...).
MAX_METADATA_VALUES = 50
#: Features present in fewer symptom traces than this share are left out (noise at tiny support).
MIN_COVERAGE = 0.05

#: "I've deployed ..." → the tool name stem that should have done it. Only actions that need a
#: tool: "I've created/fixed/added" are often true without one (code written in the answer).
CLAIM = re.compile(
    r"\b(?:i'?ve|i have|i|we'?ve|we have|has been|have been|was|were|successfully|it'?s|is now|are now)\s+"
    r"(?:\w+ly\s+|now\s+|also\s+|just\s+)?"
    r"(deployed|sent|scheduled|published|emailed|booked|refunded|cancell?ed|deleted|"
    r"uploaded|merged|submitted|posted|shipped|released|notified|invited)\b",
    re.I,
)
_STEMS = {
    "deployed": "deploy",
    "sent": "send",
    "scheduled": "schedul",
    "published": "publish",
    "emailed": "email",
    "booked": "book",
    "refunded": "refund",
    "cancelled": "cancel",
    "canceled": "cancel",
    "deleted": "delet",
    "uploaded": "upload",
    "merged": "merge",
    "submitted": "submit",
    "posted": "post",
    "shipped": "ship",
    "released": "release",
    "notified": "notif",
    "invited": "invit",
}

#: Descriptions the offline planner can map to a symptom (regex → symptom name).
DESCRIPTIONS: list[tuple[str, str]] = [
    (
        r"claim|says? (it )?(did|was done|succeeded|deployed)|didn'?t (actually )?(do|happen)|false success|lie|hallucinat",
        "false_success",
    ),
    (r"frustrat|angry|upset|annoyed", "frustrated"),
    (r"slow|latency|took too long|timeout", "slow"),
    (r"non[- ]?english|language|chinese|mandarin", "non_english"),
    (r"tool (error|fail)", "tool_error"),
    (r"error|fail|exception|broken", "error"),
]


def claimed_without_tool(logs: pl.DataFrame) -> pl.DataFrame:
    """Traces whose root output claims an action ("I've deployed ...") that no successful tool call
    performed (no tool span without error whose name contains the action's stem). Columns:
    root_span_id, claims (the stems claimed but not done)."""
    # A cheap vectorised pre-filter, then the exact claim parse on the few outputs that pass.
    roots = logs.filter(
        pl.col("is_root") & pl.col("output").is_not_null() & pl.col("output").str.contains("(?i)" + CLAIM.pattern)
    ).select("root_span_id", "output")
    done: dict[str, list[str]] = {
        root: tools
        for root, tools in logs.filter(
            (pl.col("type") == "tool")
            & pl.col("error").is_null()
            & pl.col("root_span_id").is_in(roots.get_column("root_span_id").implode())
        )
        .group_by("root_span_id")
        .agg(pl.col("name").str.to_lowercase().unique())
        .iter_rows()
    }
    rows: list[tuple[str, list[str]]] = []
    for root, output in roots.iter_rows():
        stems = {_STEMS[m.group(1).lower()] for m in CLAIM.finditer(output)}
        undone = sorted(stem for stem in stems if not any(stem in name for name in done.get(root, [])))
        if undone:
            rows.append((root, undone))
    return pl.DataFrame(rows, schema={"root_span_id": pl.String, "claims": pl.List(pl.String)}, orient="row")


def symptom_from_description(ctx: ToolContext, description: str) -> tuple[list[str], str] | None:
    """Root span ids for a described symptom, and how they were chosen; None if not understood."""
    text = description.lower()
    name = next((symptom for pattern, symptom in DESCRIPTIONS if re.search(pattern, text)), None)
    if name is None:
        return None
    traces = ctx.engine.traces
    if name == "false_success":
        found = claimed_without_tool(ctx.logs)
        return found.get_column("root_span_id").to_list(), (
            'traces whose final answer claims an action (e.g. "I\'ve deployed") with no successful tool call '
            "whose name matches it"
        )
    if name == "frustrated":
        from .frustration import frustration_scores

        scored = frustration_scores(traces.select("root_span_id", "input", "scores"))
        return scored.filter(pl.col("score") >= 2.0).get_column(
            "root_span_id"
        ).to_list(), "frustrated traces (score ≥ 2)"
    if name == "slow":
        return traces.filter(pl.col("duration") > 60).get_column("root_span_id").to_list(), "traces over 60 s"
    if name == "non_english":
        from .languages import trace_languages

        langs = trace_languages(traces)
        ids = langs.filter(~pl.col("language").is_in(["en", "unknown"])).get_column("root_span_id").to_list()
        return ids, "traces whose user input is not English"
    if name == "tool_error":
        ids = ctx.logs.filter((pl.col("type") == "tool") & pl.col("error").is_not_null())
        return ids.get_column("root_span_id").unique().to_list(), "traces with a failed tool call"
    return traces.filter(pl.col("has_error")).get_column("root_span_id").to_list(), "traces with an error"


def _metadata_keys(metadata: pl.Series, sample: int = 2000) -> list[str]:
    keys: dict[str, None] = {}
    for text in metadata.drop_nulls().head(sample).to_list():
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, str | bool | int) and re.fullmatch(r"[A-Za-z_][\w-]*", key):
                    keys[key] = None
    return list(keys)


def trace_features(logs: pl.DataFrame) -> pl.DataFrame:
    """One row per (root_span_id, kind, feature) a trace has."""
    parts: list[pl.DataFrame] = []

    def add(frame: pl.DataFrame, kind: str) -> None:
        parts.append(frame.select("root_span_id", kind=pl.lit(kind), feature=pl.col("feature").cast(pl.String)))

    spans = logs.select("root_span_id", "name", "type", "model", "error", "tags", "metadata", "is_root")
    add(
        spans.filter((pl.col("type") != "tool") | pl.col("type").is_null()).select("root_span_id", feature="name"),
        "span",
    )
    tools = spans.filter(pl.col("type") == "tool")
    add(tools.select("root_span_id", feature="name"), "tool called")
    add(tools.filter(pl.col("error").is_not_null()).select("root_span_id", feature="name"), "tool error")
    error_type, _ = error_fields()
    add(
        spans.filter(pl.col("error").is_not_null()).select("root_span_id", feature=error_type.fill_null("(untyped)")),
        "error type",
    )
    add(spans.select("root_span_id", feature="model"), "model")
    add(spans.select("root_span_id", feature=pl.col("tags")).explode("feature"), "tag")
    # Agent tool definitions: an agent span's metadata.tools, compared with every tool that agent
    # (same span name) is given anywhere in the logs.
    agents = spans.with_columns(
        defined=pl.col("metadata").str.json_path_match("$.tools").str.json_decode(dtype=pl.List(pl.String))
    ).filter(pl.col("defined").is_not_null())
    if agents.height:
        universe = agents.group_by("name").agg(
            all_tools=pl.col("defined").list.explode(keep_nulls=False, empty_as_null=False).unique()
        )
        missing = (
            agents.join(universe, on="name")
            .with_columns(missing=pl.col("all_tools").list.set_difference("defined"))
            .explode("missing")
            .filter(pl.col("missing").is_not_null())
            .select("root_span_id", feature=pl.col("name") + " lacks " + pl.col("missing"))
        )
        add(missing, "missing tool definition")
    roots = spans.filter(pl.col("is_root"))
    for key in _metadata_keys(roots.get_column("metadata")):
        values = roots.select("root_span_id", feature=pl.col("metadata").str.json_path_match("$." + key))
        if 0 < values.get_column("feature").n_unique() <= MAX_METADATA_VALUES:
            add(values, f"metadata.{key}")
    return pl.concat(parts).filter(pl.col("feature").is_not_null()).unique()


def lift_table(features: pl.DataFrame, symptom: pl.Series, all_roots: pl.Series) -> pl.DataFrame:
    """Per feature: traces with it in symptom and rest, shares, lift; plus absences of span/tool names."""
    n_sym = symptom.n_unique()
    n_rest = all_roots.n_unique() - n_sym
    flagged = features.with_columns(in_symptom=pl.col("root_span_id").is_in(symptom.implode()))
    counts = flagged.group_by("kind", "feature").agg(
        in_symptom=pl.col("in_symptom").sum().cast(pl.Int64),
        in_rest=(~pl.col("in_symptom")).sum().cast(pl.Int64),
    )
    absent = counts.filter(pl.col("kind").is_in(["span", "tool called"])).select(
        kind=pl.lit("absent ") + pl.col("kind").str.replace(" called", ""),
        feature="feature",
        in_symptom=n_sym - pl.col("in_symptom"),
        in_rest=n_rest - pl.col("in_rest"),
    )
    return (
        pl.concat([counts, absent])
        .with_columns(
            share_in_symptom=pl.col("in_symptom") / n_sym,
            share_in_rest=pl.col("in_rest") / n_rest if n_rest else pl.lit(None, pl.Float64),
        )
        .with_columns(
            lift=pl.when(pl.col("share_in_rest") > 0)
            .then(pl.col("share_in_symptom") / pl.col("share_in_rest"))
            .otherwise(pl.when(pl.col("in_symptom") > 0).then(float("inf")))
        )
        .sort(["lift", "in_symptom", "kind", "feature"], descending=[True, True, False, False], nulls_last=True)
        .select("kind", "feature", "in_symptom", "in_rest", "share_in_symptom", "share_in_rest", "lift")
    )


@tool(
    phrases=(
        r"\broot[- ]?causes?\b",
        r"\bwhy (do|does|did|are|is) (these|those|the|some|they|it)\b.*\b(fail|happen|wrong|break|slow|claim)",
        r"\bwhat (causes|caused|is causing|do .* have in common|distinguishes)\b",
        r"\bwhy (do|does|did) (the |my |our )?\w+ (fail|break|error)",
        r"\b(claims?|says?) (success|it (was )?(did|done|deployed))\b.*\b(but|didn'?t|without)\b",
        r"\bover-?represented\b",
    )
)
def root_causes(
    ctx: ToolContext,
    where: str | None = None,
    trace_ids: list[str] | None = None,
    description: str | None = None,
    limit: int = 20,
) -> ToolResult:
    """From a symptom (traces) to likely causes: what is over-represented in the symptom traces
    versus the rest — span names present or absent, tools called or failing, tools missing from an
    agent's tool definitions (metadata.tools), models, app versions and other root metadata, error
    types, tags — ranked by lift, with counts in symptom and rest.

    Args:
        where: a WHERE condition on the traces view selecting the symptom traces,
            e.g. "scores.helpfulness < 0.3".
        trace_ids: root span ids of the symptom traces (e.g. the user's selection).
        description: the symptom in words when there is no filter, e.g. "agent claims success but
            didn't do it", "frustrated users", "slow traces", "tool errors".
        limit: how many features to list.
    """
    traces = ctx.engine.traces
    call = code(
        "root_cause",
        "root_causes",
        {"where": where, "trace_ids": trace_ids, "description": description, "limit": limit},
    )
    how = ""
    if trace_ids:
        symptom = list(trace_ids)
        how = f"{len(symptom)} given traces"
    elif where:
        symptom = ctx.engine.filter(where, shape="traces").get_column("root_span_id").to_list()
        how = f"traces where {where}"
    elif description:
        found = symptom_from_description(ctx, description)
        if found is None:
            return ToolResult(
                f"Could not map {description!r} to traces. Give a WHERE on traces or trace ids; described "
                "symptoms understood: claims success but didn't do it, frustrated users, slow, non-English, "
                "tool errors, errors.",
                [call],
                is_error=True,
            )
        symptom, how = found
    elif ctx.selection:
        symptom, how = list(ctx.selection), f"{len(ctx.selection)} selected traces"
    else:
        return ToolResult("Say which traces show the symptom: where, trace_ids or description.", [call], is_error=True)
    all_roots = traces.get_column("root_span_id")
    symptom_series = pl.Series("root_span_id", symptom, dtype=pl.String).unique()
    symptom_series = symptom_series.filter(symptom_series.is_in(all_roots.implode()))
    n_sym, n_all = symptom_series.len(), all_roots.n_unique()
    if n_sym == 0:
        return ToolResult(f"No trace matches the symptom ({how}).", [call])
    if n_sym == n_all:
        return ToolResult(f"All {n_all:,} traces match the symptom ({how}): nothing to compare with.", [call])
    table = lift_table(trace_features(ctx.logs), symptom_series, all_roots)
    # A feature seen in one trace only (a unique root name, an id) is an identifier, not a cause.
    min_support = max(min(2, n_sym), int(MIN_COVERAGE * n_sym + 0.999999))
    ranked = table.filter(
        (pl.col("in_symptom") >= min_support) & (pl.col("in_symptom") + pl.col("in_rest") >= 2) & (pl.col("lift") > 1)
    ).head(limit)
    ids = symptom_series.to_list()
    lines = [f"Symptom: {how} — {n_sym:,} of {n_all:,} traces ({fmt_pct(n_sym / n_all)}). Over-represented (lift):"]
    for row in ranked.head(10).iter_rows(named=True):
        lift = "∞" if row["lift"] == float("inf") else f"{row['lift']:.1f}×"
        lines.append(
            f"- {row['kind']}: {clip(row['feature'], 60)} — {lift}; {row['in_symptom']}/{n_sym} symptom "
            f"({fmt_pct(row['share_in_symptom'])}) vs {row['in_rest']}/{n_all - n_sym} rest ({fmt_pct(row['share_in_rest'])})"
        )
    if ranked.height == 0:
        lines.append(f"- nothing stands out (no feature with lift > 1 in at least {min_support} symptom traces)")
    fig = compare_bars(
        ranked.head(10).with_columns(label=pl.col("kind") + ": " + pl.col("feature").str.slice(0, 50)),
        "label",
        {"share_in_symptom": "symptom traces", "share_in_rest": "other traces"},
        "Share of traces with the feature",
    )
    fig.update_xaxes(tickformat=".0%")
    return ToolResult(
        "\n".join(lines),
        [
            Table(ranked, title="Over-represented in the symptom traces"),
            Table(table, title="All features by lift"),
            chart(fig, "Symptom vs other traces: top features by lift"),
            SqlFilter(where or ids_condition(ids), "traces", n_sym, ids, title="Symptom traces"),
            call,
        ],
    )
