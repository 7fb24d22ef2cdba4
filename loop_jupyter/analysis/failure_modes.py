"""Failure modes: failing traces grouped into named modes (a first version of the taxonomy).

A trace belongs to every mode whose signal it carries, so shares (of failing traces) can add up
to more than 100%:

- ``error``: an error on a span. Model calls (type ``llm``) are grouped by model-error category
  (rate_limit, overloaded, timeout, context_overflow, api_error: the categories of
  :mod:`.errors`); every other span by its name and the head of its normalised error (the
  exception type, or the text before the first colon, or the first words), e.g.
  ``query_database: SQL syntax error``, ``Computer_terminal: exit code <n>``.
- ``claim``: the final answer claims an action ("I've deployed ...") no successful tool call
  performed (:func:`.root_cause.claimed_without_tool`, plus the same claim in Chinese).
- ``attribution``: a trace whose final answer misses its expected answer and has neither of the
  above, by what the offline attributor found (invented data, or no failure signal at all).
- ``annotation``: a label a person put on a span or trace (:mod:`loop_jupyter.annotations`). Every
  annotated trace is in the mode of its label (labels compared without case), and an automatic
  mode most of whose traces (more than half) carry one label is renamed to that label and merged
  into its mode: annotations name and merge modes.

Near-duplicate modes (error heads of the same span name, labels) are merged with the offline
embeddings (:mod:`._mode_merge`).

Each mode has its traces, share, first and last seen, example traces and a codebook entry.
"""

from __future__ import annotations

import re
from collections import Counter

import polars as pl

from ..artifacts import Code, SqlFilter, Table, ToolResult
from ..snippet import literal
from ..tools import ToolContext, tool
from ._across import code, fmt_pct, ids_condition, restrict, selected_roots

EXAMPLES = 3
_ATTRIBUTION_MODES = {
    "assumption": ("works from invented or assumed data", "an agent turn uses assumed, hypothetical, simulated or "
                   "placeholder data and the final answer misses the expected one"),
    "first_handoff": ("wrong answer without an error signal", "no error, no invented data, and the final answer "
                      "misses the expected one"),
    "before_error": ("wrong answer after a failure", "the final answer misses the expected one after a failed step"),
}  # fmt: skip
_ATTRIBUTION_MODES["failed_action"] = _ATTRIBUTION_MODES["before_error"]  # a later failed step, same mode


def _head(message: str | None, error_type: str | None) -> str:
    if error_type:
        return error_type
    text = (message or "").strip()
    text = re.sub(r"https?://\S+", "<url>", text)
    colon = text.find(":")
    if 0 < colon <= 40:
        return text[:colon].strip()
    return " ".join(text.split()[:3]) or "(empty error)"


#: Claims of a done action in Chinese ("我已经部署了 ..."), which the English claim pattern of
#: :mod:`.root_cause` does not see; verb -> the tool name stem that should have done it.
_CLAIM_ZH = re.compile(r"我(?:已经|已)(部署|发送|发布|删除|上传|退款|预订|取消)")
_STEMS_ZH = {"部署": "deploy", "发送": "send", "发布": "publish", "删除": "delet", "上传": "upload",
             "退款": "refund", "预订": "book", "取消": "cancel"}  # fmt: skip


def claims(logs: pl.DataFrame) -> pl.DataFrame:
    """root_span_id, claims: :func:`.root_cause.claimed_without_tool` plus claims made in Chinese."""
    from .root_cause import claimed_without_tool

    english = claimed_without_tool(logs)
    roots = logs.filter(pl.col("is_root") & pl.col("output").str.contains(_CLAIM_ZH.pattern)).select("root_span_id",
                                                                                                      "output")  # fmt: skip
    if roots.height == 0:
        return english
    done = (
        logs.filter((pl.col("type") == "tool") & pl.col("error").is_null()
                    & pl.col("root_span_id").is_in(roots.get_column("root_span_id").implode()))
        .group_by("root_span_id").agg(pl.col("name").str.to_lowercase())
    )  # fmt: skip
    tools = dict(done.iter_rows())
    rows = []
    for root, output in roots.iter_rows():
        stems = {_STEMS_ZH[m.group(1)] for m in _CLAIM_ZH.finditer(output)}
        undone = sorted(s for s in stems if not any(s in name for name in tools.get(root, [])))
        if undone:
            rows.append((root, undone))
    chinese = pl.DataFrame(rows, schema=english.schema, orient="row")
    return (
        pl.concat([english, chinese]).explode("claims").unique(maintain_order=True)
        .group_by("root_span_id", maintain_order=True).agg("claims")
    )  # fmt: skip


def error_span_modes(logs: pl.DataFrame) -> pl.DataFrame:
    """One row per error span: span_id, root_span_id, mode, signal, definition, when."""
    from .errors import error_category, error_spans

    spans = error_spans(logs).with_columns(category=error_category())
    rows = []
    for span, root, name, span_type, category, error_type, normalized, when in spans.select(
        "span_id", "root_span_id", "name", "type", "category", "error_type", "normalized", "when"
    ).iter_rows():
        if span_type == "llm" and category:
            mode, definition = f"model error: {category}", f"a model call (type llm) fails with a {category} error"
        else:
            head = _head(normalized, error_type)
            mode = f"{name}: {head}"
            definition = f"a span named {name!r} fails with an error starting {head!r}"
        rows.append((span, root, mode, "error", definition, when))
    schema = {"span_id": pl.String, "root_span_id": pl.String, "mode": pl.String, "signal": pl.String,
              "definition": pl.String, "when": pl.Datetime("us", "UTC")}  # fmt: skip
    return pl.DataFrame(rows, schema=schema, orient="row")


def error_modes(logs: pl.DataFrame) -> pl.DataFrame:
    """One row per (trace, error mode): root_span_id, mode, definition, when."""
    return error_span_modes(logs).drop("span_id")


def _annotated(pairs: pl.DataFrame, logs: pl.DataFrame, annotations: pl.DataFrame) -> pl.DataFrame:
    """``pairs`` with annotation labels as modes: each annotated trace in its label's mode, and an
    automatic mode renamed to (merged into) the label most of its traces carry."""
    ann = (
        annotations.select("span_id", "label", "note")
        .join(logs.select("span_id", "root_span_id").unique("span_id"), on="span_id")
        .with_columns(key=pl.col("label").str.to_lowercase())
    )
    if ann.height == 0:
        return pairs
    spelling = dict(ann.unique("key", keep="first", maintain_order=True).select("key", "label").iter_rows())
    root_keys: dict[str, set[str]] = {}
    for root, key in ann.select("root_span_id", "key").iter_rows():
        root_keys.setdefault(root, set()).add(key)
    renamed: dict[str, str] = {}
    for mode, roots in pairs.group_by("mode", maintain_order=True).agg("root_span_id").iter_rows():
        seen = Counter(k for r in set(roots) for k in root_keys.get(r, ()))
        if seen:
            key, n = min(seen.items(), key=lambda kv: (-kv[1], kv[0]))
            if 2 * n > len(set(roots)):
                renamed[mode] = key
    definitions = {}
    for key, label in spelling.items():
        traces = sum(key in keys for keys in root_keys.values())
        note = next((n for n in ann.filter(pl.col("key") == key).get_column("note") if n), None)
        merged = sorted(m for m, k in renamed.items() if k == key)
        definitions[key] = (
            f"labelled {label!r} by a person on {traces:,} traces"
            + (f" (note: {note[:160]!r})" if note else "")
            + (f"; merges the modes {'; '.join(merged)}" if merged else "")
        )
    keys = pl.col("mode").replace_strict(renamed, default=None, return_dtype=pl.String)
    merged_pairs = pairs.with_columns(
        mode=pl.coalesce(keys.replace_strict(spelling, default=None, return_dtype=pl.String), pl.col("mode")),
        signal=pl.when(keys.is_not_null()).then(pl.lit("annotation")).otherwise(pl.col("signal")),
        definition=pl.coalesce(keys.replace_strict(definitions, default=None, return_dtype=pl.String),
                               pl.col("definition")),
    )  # fmt: skip
    roots = (
        logs.filter(pl.col("is_root"))
        .unique("root_span_id", keep="first")
        .select("root_span_id", when=pl.coalesce("start", "created"))
    )
    labelled = (
        ann.select("root_span_id", "key").unique()
        .join(roots, on="root_span_id", how="left")
        .sort("when", "root_span_id", nulls_last=True)
        .select(
            "root_span_id",
            mode=pl.col("key").replace_strict(spelling, return_dtype=pl.String),
            signal=pl.lit("annotation"),
            definition=pl.col("key").replace_strict(definitions, return_dtype=pl.String),
            when="when",
        )
    )  # fmt: skip
    return pl.concat([merged_pairs, labelled.cast(pairs.schema)]).unique(
        ["root_span_id", "mode"], keep="first", maintain_order=True
    )


def trace_modes(logs: pl.DataFrame, annotations: pl.DataFrame | None = None) -> pl.DataFrame:
    """Every (trace, mode) pair with the signal and the mode's definition; ``annotations`` (the
    current annotations, :func:`loop_jupyter.annotations.current`) name and merge modes."""
    from .attribution import attributions, failing_roots, strip_labels

    parts = [error_modes(logs)]
    roots = logs.filter(pl.col("is_root")).select("root_span_id", when=pl.coalesce("start", "created"))
    claimed = claims(logs).explode("claims").join(roots, on="root_span_id")
    parts.append(claimed.select(
        "root_span_id",
        mode=pl.lit("claims an action no tool performed: ") + pl.col("claims"),
        signal=pl.lit("claim"),
        definition=pl.lit("the final answer claims an action (\"I've ") + pl.col("claims")
        + pl.lit("...\") and no successful tool call whose name contains it exists"),
        when=pl.col("when"),
    ))  # fmt: skip
    seen = set(pl.concat(parts).get_column("root_span_id"))
    rest = [r for r in failing_roots(strip_labels(logs)) if r not in seen]
    if rest:
        found = attributions(logs, rest)
        when = dict(roots.filter(pl.col("root_span_id").is_in(rest)).iter_rows())
        rows = [(a.root_span_id, *_ATTRIBUTION_MODES[a.rule or "first_handoff"], when.get(a.root_span_id))
                for a in found if a.agent is not None]  # fmt: skip
        parts.append(pl.DataFrame(
            [(r, m, "attribution", d, w) for r, m, d, w in rows], schema=parts[0].schema, orient="row"))  # fmt: skip
    pairs = pl.concat([p.select(parts[0].columns).cast(parts[0].schema) for p in parts]).unique(
        ["root_span_id", "mode"], keep="first", maintain_order=True
    )
    if annotations is not None and annotations.height:
        pairs = _annotated(pairs, logs, annotations)
    from ._mode_merge import merge_near_duplicates

    return merge_near_duplicates(pairs)


def modes_table(logs: pl.DataFrame, annotations: pl.DataFrame | None = None) -> pl.DataFrame:
    """mode, signal, traces, share (of failing traces), first_seen, last_seen, examples, definition."""
    return table_of(trace_modes(logs, annotations))


def table_of(pairs: pl.DataFrame) -> pl.DataFrame:
    """The modes table of :func:`trace_modes` pairs."""
    failing = pairs.get_column("root_span_id").n_unique()
    if failing == 0:
        return pl.DataFrame(schema={"mode": pl.String, "signal": pl.String, "traces": pl.UInt32, "share": pl.Float64})
    return (
        pairs.sort("when", "root_span_id", nulls_last=True)
        .group_by("mode", "signal", "definition")
        .agg(
            traces=pl.col("root_span_id").n_unique(),
            first_seen=pl.col("when").min(),
            last_seen=pl.col("when").max(),
            examples=pl.col("root_span_id").unique(maintain_order=True).head(EXAMPLES),
        )
        .with_columns(share=pl.col("traces") / failing)
        .sort(["traces", "mode"], descending=[True, False])
        .select("mode", "signal", "traces", "share", "first_seen", "last_seen", "examples", "definition")
    )


def codebook(table: pl.DataFrame) -> str:
    """The modes as a Markdown codebook: name, definition, counts, examples."""
    lines = ["# Failure modes codebook", ""]
    for row in table.iter_rows(named=True):
        lines += [
            f"## {row['mode']}",
            f"- signal: {row['signal']}",
            f"- definition: {row['definition']}",
            f"- traces: {row['traces']:,} ({fmt_pct(row['share'])} of failing traces), "
            f"first seen {row['first_seen']}, last seen {row['last_seen']}",
            f"- examples: {', '.join(row['examples'])}",
            "",
        ]
    return "\n".join(lines)


@tool(
    phrases=(
        # "failure modes" alone stays with common_errors (its phrase, and existing behaviour)
        r"\b((build|make|create|draw up) (me )?(a |the )?)?failure (taxonomy|categories|types|kinds|patterns|codebook)\b"
        r"|\btaxonomy of (the |my )?failures\b",
        r"\b(named|distinct) failure modes\b|\bfailure modes? (taxonomy|codebook)\b",
        r"\b(ways|kinds|types) (of failures?|in which .*fail)",
        r"\bhow do (my |the |our )?(agents?|traces?|runs?|tasks?) fail\b",
        r"\b(cluster|group|categori[sz]e) (the |my )?failures?\b",
    )
)
def failure_modes(ctx: ToolContext, where: str | None = None, limit: int = 20) -> ToolResult:
    """Failure modes: failing traces grouped into named modes (errors by kind and span, false
    claims of actions, wrong answers by attribution) with traces, share of failing traces, first and
    last seen, example traces and a codebook. A trace can be in several modes.

    Args:
        where: optional WHERE on the traces view restricting the traces looked at.
        limit: how many modes to list.
    """
    from ..annotations import current

    logs = restrict(ctx.logs, selected_roots(ctx, where))
    annotations = current(ctx.annotations_dir)
    pairs = trace_modes(logs, annotations)
    table = table_of(pairs)
    call = code("failure_modes", "modes_table", {}, tail="")
    if annotations.height:
        folder = literal(str(ctx.annotations_dir))
        call = Code(
            "from loop_jupyter.analysis.failure_modes import modes_table\n"
            f"from loop_jupyter.annotations import current\n\nmodes_table(logs, current({folder}))",
            title="Reproduce in a cell",
        )
    if table.height == 0:
        return ToolResult("No failing traces: no errors, no unbacked claims, no answer that misses its expected one.",
                          [call])  # fmt: skip
    failing = pairs.get_column("root_span_id").n_unique()
    top = "; ".join(
        f"{m} {t:,} ({fmt_pct(s)})" for m, t, s in table.select("mode", "traces", "share").head(5).iter_rows()
    )
    text = f"{table.height} failure modes over {failing:,} failing traces. Largest: {top}."
    if annotations.height:
        text += f" {annotations.height:,} annotations name or merge modes (signal 'annotation')."
    text += (
        " Any mode can be saved as a dataset and a scorer in one step (mode_to_dataset_and_scorer, "
        "with the person's confirmation), and charted over time (failure_modes_over_time)."
    )
    first = table.row(0, named=True)
    ids = pairs.filter(pl.col("mode") == first["mode"]).get_column("root_span_id").to_list()
    artifacts = [
        Table(table.head(limit), title="Failure modes"),
        SqlFilter(ids_condition(ids), "traces", len(ids), ids, title=f"Traces in: {first['mode']}"),
        call,
    ]
    return ToolResult(text, artifacts)
