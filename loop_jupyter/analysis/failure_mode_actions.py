"""What to do with a failure mode: save it as a dataset and a scorer in one step, chart modes over time.

:func:`mode_to_dataset_and_scorer` proposes ONE confirmation that, when the person accepts it,
saves the mode's traces as a new dataset version (through :func:`.datasets.create_dataset`) and a
scorer that detects the mode (through :func:`.scorers.scorer_proposal`, the code create_scorer
writes with). The scorer is a code scorer when the mode has a textual signature: its error
messages (the pattern :func:`.scorer_patterns.errors_pattern` learns from the mode's error spans)
or the claim it makes; otherwise (wrong answers without an error) an LLM-as-judge scorer asking
about the mode's definition. Before confirming, the proposal shows how a code scorer does on its
own mode: recall on the mode's traces and false-positive rate on every other trace
(:func:`.scorer_patterns.measure_pattern`, which applies the pattern as the saved scorer will).

:func:`failure_modes_over_time` charts traces per day (or hour) in each mode.
"""

from __future__ import annotations

import re
import uuid

import plotly.express as px
import polars as pl

from ..annotations import current
from ..artifacts import Code, Pending, Table, ToolResult
from ..snippet import literal
from ..tools import ToolContext, tool
from ._across import COLORS, fmt_pct, ids_condition, restrict, selected_roots
from ._across import chart as chart_artifact
from ._versioned import check_name
from .failure_modes import _STEMS_ZH, error_span_modes, table_of, trace_modes
from .scorer_patterns import PatternCheck, errors_pattern, measure_pattern
from .trends import synthetic_times

#: Modes charted by name; the rest are summed as "other modes".
TOP_MODES = 8


def mode_pairs(ctx: ToolContext, where: str | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(the logs looked at, their (trace, mode) pairs with the saved annotations)."""
    logs = restrict(ctx.logs, selected_roots(ctx, where))
    return logs, trace_modes(logs, current(ctx.annotations_dir))


def pick_mode(table: pl.DataFrame, mode: str | None) -> dict:
    """The row of ``mode`` (exact, else without case, else the one mode containing it); the largest when None."""
    if table.height == 0:
        raise ValueError("there are no failure modes in these logs")
    if not mode:
        return table.row(0, named=True)
    names = table.get_column("mode").to_list()
    wanted = mode.strip().lower()
    exact = [n for n in names if n == mode] or [n for n in names if n.lower() == wanted]
    found = exact or [n for n in names if wanted in n.lower()]
    if len(found) != 1:
        shown = "; ".join(names[:10])
        raise ValueError(f"{'no' if not found else 'more than one'} failure mode matches {mode!r}; modes: {shown}")
    return table.filter(pl.col("mode") == found[0]).row(0, named=True)


def _claim_pattern(stem: str) -> str | None:
    from .root_cause import _STEMS, CLAIM

    verbs = sorted(v for v, s in _STEMS.items() if s == stem)
    if not verbs:
        return None
    prefix = CLAIM.pattern.split("(deployed")[0]
    chinese = [zh for zh, s in _STEMS_ZH.items() if s == stem]
    pattern = prefix + "(?:" + "|".join(verbs) + r")\b"
    return pattern + (f"|我(?:已经|已)(?:{'|'.join(chinese)})" if chinese else "")


def mode_pattern(logs: pl.DataFrame, pairs: pl.DataFrame, row: dict) -> tuple[str | None, str]:
    """A regular expression that detects the mode in a trace's output or errors, and where it comes from
    (None when the mode has no textual signature)."""
    mode = row["mode"]
    if row["signal"] == "claim":
        pattern = _claim_pattern(mode.rsplit(": ", 1)[-1])
        return pattern, "the claim the final answer makes"
    if row["signal"] == "error" and mode.startswith("model error: "):
        from .errors import MODEL_ERROR_PATTERNS

        category = mode.removeprefix("model error: ")
        if category in MODEL_ERROR_PATTERNS:  # the mode's own definition
            return MODEL_ERROR_PATTERNS[category], f"the {category} model-error pattern"
    spans = error_span_modes(logs)
    mine = spans.filter(pl.col("mode") == mode)
    if mine.height == 0 and row["signal"] == "annotation":  # the errors of the annotated traces
        roots = pairs.filter(pl.col("mode") == mode).get_column("root_span_id").implode()
        mine = spans.filter(pl.col("root_span_id").is_in(roots))
    if mine.height == 0:
        return None, "no error message to learn from"
    errors = logs.filter(pl.col("span_id").is_in(mine.get_column("span_id").implode()))
    pattern, common = errors_pattern(errors)
    return (pattern or None), "the mode's error messages: " + "; ".join(f"{k} ({n})" for k, n in common[:5])


def describe_check(check: PatternCheck) -> str:
    return (
        f"On its mode: flags {check.caught:,} of the mode's {check.positives:,} traces (recall "
        f"{fmt_pct(check.recall)}) and {check.false_positives:,} of {check.negatives:,} other traces "
        f"(false-positive rate {fmt_pct(check.false_positive_rate)})."
    )


def _name_for(mode: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", mode).strip("_.-")[:60] or "mode"
    return check_name(f"mode_{slug}")


@tool(
    side_effects=True,
    phrases=(
        r"\b(save|turn|make|create)\b.*\b(failure )?modes?\b.*\b(dataset|eval set)\b.*\bscorer\b",
        r"\b(failure )?mode\b.*\b(as|into|to) a dataset and (a )?scorer\b",
    ),
)
def mode_to_dataset_and_scorer(
    ctx: ToolContext, mode: str | None = None, name: str | None = None, where: str | None = None
) -> ToolResult:
    """Save a failure mode (from failure_modes) as a dataset of its traces AND a scorer that
    detects it, in one step, after ONE confirmation. Shows the scorer's recall on the mode's traces
    and its false-positive rate on the other traces before anything is saved.

    Args:
        mode: the mode's name as failure_modes lists it (or a unique part of it); the largest mode when not given.
        name: name of the dataset and the scorer (default: from the mode).
        where: the WHERE on the traces view that failure_modes was given, if any.
    """
    from .datasets import create_dataset
    from .scorers import generate_source, scorer_proposal

    try:
        logs, pairs = mode_pairs(ctx, where)
        row = pick_mode(table_of(pairs), mode)
        name = check_name(name) if name else _name_for(row["mode"])
        pattern, learned = mode_pattern(logs, pairs, row)
    except ValueError as exc:
        return ToolResult(f"Cannot save the mode: {exc}", is_error=True)
    roots = pairs.filter(pl.col("mode") == row["mode"]).get_column("root_span_id").unique(maintain_order=True)
    description = f"Failure mode {row['mode']}: {row['definition']}"
    dataset = create_dataset(ctx, name=name, sql=f"SELECT * FROM traces WHERE {ids_condition(roots.to_list())}",
                             description=description)  # fmt: skip
    if dataset.is_error:
        return dataset
    data_pending = dataset.first(Pending)
    if pattern:
        check = measure_pattern(ctx.engine.traces, ctx.logs, pattern, set(roots.to_list()))
        shown = describe_check(check)
        source = generate_source(name, "code", pattern=pattern, description=description)
        kind = "code"
    else:
        check, kind = None, "llm_judge"
        shown = "An LLM-as-judge scorer (the mode has no error message or claim to match); its recall needs a model to measure."
        choices = {"A": ("yes: the output shows this failure", 0.0), "B": ("no: it does not", 1.0)}
        question = f"Does this output show the failure mode {row['mode']!r} ({row['definition']})?"
        source = generate_source(name, "llm_judge", description=description, question=question, choices=choices)
    scorer_pending, run_code, _ = scorer_proposal(
        ctx, name, kind, source, pattern=pattern, description=description, check=shown
    )

    def action() -> list:
        produced = list(data_pending.action() or [])
        data_pending.status = "confirmed"
        produced += list(scorer_pending.action() or [])
        scorer_pending.status = "confirmed"
        return produced

    both = Pending(
        action_id=uuid.uuid4().hex,
        description=f"{data_pending.description} and {scorer_pending.description[0].lower()}"
        f"{scorer_pending.description[1:]}",
        preview=(
            f"Failure mode: {row['mode']} ({roots.len():,} traces)\nDefinition: {row['definition']}\n"
            f"Scorer learned from: {learned}\n{shown}\n\n--- dataset ---\n{data_pending.preview}\n\n"
            f"--- scorer ---\n{scorer_pending.preview}"
        ),
        action=action,
        title=f"Save failure mode as dataset and scorer {name}",
    )
    proposals = ctx.cache.setdefault("versioned_proposals", [])
    for i, (folder, version, pending) in enumerate(proposals):
        if pending is data_pending or pending is scorer_pending:  # the one confirmation holds both versions
            proposals[i] = (folder, version, both)
    text = (
        f"Ready to save failure mode {row['mode']!r} ({roots.len():,} traces) as dataset '{name}' and a {kind} "
        f"scorer '{name}' ({learned}). {shown} Waiting for the user to confirm; nothing is saved yet."
    )
    code = (
        "from loop_jupyter.analysis.failure_mode_actions import mode_to_dataset_and_scorer\n"
        "from loop_jupyter.artifacts import Pending\n\n"
        f"pending = mode_to_dataset_and_scorer(logs, mode={literal(row['mode'])}).first(Pending)\n"
        "print(pending.preview)\n"
        f"pending.action()  # saves both\n\n{run_code}"
    )
    return ToolResult(text, [both, Table(dataset.first(Table).frame, title=f"First traces of {name}"),
                             Code(code, title="The same from Python")])  # fmt: skip


def modes_over_time(pairs: pl.DataFrame, every: str = "1d", top: int = TOP_MODES) -> pl.DataFrame:
    """time, mode, traces: traces per time bucket in each of the ``top`` largest modes (the others
    summed as "other modes", counting each trace once); a trace counts when the mode first shows in it."""
    totals = (
        pairs.group_by("mode").agg(n=pl.col("root_span_id").n_unique()).sort(["n", "mode"], descending=[True, False])
    )
    kept = totals.head(top).get_column("mode")
    first = pairs.filter(pl.col("when").is_not_null()).group_by("root_span_id", "mode").agg(pl.col("when").min())
    named = first.with_columns(
        mode=pl.when(pl.col("mode").is_in(kept.implode())).then(pl.col("mode")).otherwise(pl.lit("other modes")),
        time=pl.col("when").dt.truncate(every),
    )
    return named.group_by("time", "mode").agg(traces=pl.col("root_span_id").n_unique()).sort("time", "mode")


@tool(
    phrases=(
        r"\bfailure modes?\b.*\b(over time|by day|per day|daily|trend|timeline|by week|by hour)\b",
        r"\b(chart|plot|graph)\b.*\bfailure modes?\b",
    )
)
def failure_modes_over_time(
    ctx: ToolContext, where: str | None = None, every: str = "1d", top: int = TOP_MODES
) -> ToolResult:
    """A chart of failure modes over time: failing traces per day (or hour) in each mode, the
    largest ``top`` modes by name and the rest as "other modes", with the numbers behind it.

    Args:
        where: optional WHERE on the traces view restricting the traces looked at.
        every: the time bucket, "1d" (day) or "1h" (hour).
        top: how many modes to chart by name.
    """
    if every not in ("1d", "1h"):
        return ToolResult("every must be '1d' (day) or '1h' (hour)", is_error=True)
    _, pairs = mode_pairs(ctx, where)
    data = modes_over_time(pairs, every, max(1, top))
    unit = "day" if every == "1d" else "hour"
    code = Code(
        "from loop_jupyter.analysis.failure_mode_actions import failure_modes_over_time\n\n"
        f"failure_modes_over_time(logs, every={literal(every)}, top={int(top)}).frames[0]",
        title="Reproduce in a cell",
    )
    if data.height == 0:
        return ToolResult("No failing traces with a time to chart.", [code])
    synthetic = synthetic_times(ctx)
    if synthetic and synthetic >= ctx.count(where, shape="traces"):
        return ToolResult(
            f"These traces have no real timestamps (the format records none; the loader numbered them in file "
            f"order), so failure modes cannot be charted over time. {data.get_column('mode').n_unique()} "
            "modes: ask 'How do my agents fail?' for them.",
            [code],
        )
    fig = px.bar(data, x="time", y="traces", color="mode", color_discrete_sequence=COLORS,
                 labels={"time": unit.capitalize(), "traces": "Failing traces", "mode": "Failure mode"})  # fmt: skip
    title = f"Failure modes per {unit}"
    # Ties (the same count on the same day in two modes) break on the mode's name.
    peak = data.sort(["traces", "time", "mode"], descending=[True, False, False]).row(0, named=True)
    when = f"{peak['time']:%Y-%m-%d}" if unit == "day" else f"{peak['time']:%Y-%m-%d %H:00}"
    buckets = data.get_column("time").n_unique()
    text = (
        f"{data.get_column('mode').n_unique()} modes over {buckets} {unit}{'s' * (buckets != 1)}; the busiest "
        f"{unit}: {peak['traces']:,} traces in {peak['mode']!r} on {when}."
    )
    return ToolResult(text, [chart_artifact(fig, title), Table(data, title=title + " (data)"), code])


__all__ = ["failure_modes_over_time", "mode_pattern", "mode_to_dataset_and_scorer", "modes_over_time", "pick_mode"]
