"""Failure attribution: which agent, at which step, made a failed trace go wrong, and why.

The offline attributor reads only a trace's structure and signals; it never sees a label. Before
anything else, :func:`strip_labels` rebuilds the frame from the few columns the attributor uses
and keeps, of each span's metadata, only ``step``/``agent``/``role``/``name``: the Who&When labels
(``mistake_agent``, ``mistake_step``, ``mistake_reason``, the ``is_mistake_step`` mark, ...) and
any other annotation cannot reach it.

A trace becomes a list of steps in conversation order (``metadata.step`` when the spans carry it,
else time order): who acted (``metadata.agent``, else the span name), what kind of step it is (the
task itself, a tool/terminal output, or an agent's turn), its text and its error. Four generic
rules then vote for agent turns; a turn's score is the sum of the weights (:data:`RULE_WEIGHTS`,
equal by default) of the rules that point at it, and the highest score wins (ties: the earliest):

- ``assumption``: the first agent turn that works from assumed, hypothetical, simulated or
  placeholder data instead of real data (hallucinated inputs are a common root cause);
- ``before_error``: the first error; a failed tool output or terminal run (non-zero exit code) is
  blamed on the agent turn that acted last before it, an agent's own error on that turn;
- ``first_handoff``: the first turn by an agent other than the task and whoever restated it (the
  first substantive work after the hand-off), else the first agent turn;
- ``failed_action``: every agent turn whose own action failed (its error, or a failed tool output
  or terminal run before the next agent turn), so repeated failures count.

So a turn two signals agree on (the first hand-off that also ran the first failing code) beats a
turn only one points at. No rule names an agent, a dataset or a framework. The weights are tuned on
one Who&When subset and reported on the other (bench/failure_attribution.py, bench/RESULTS.md);
``order=`` gives the former first-match behaviour for comparison.
"""

from __future__ import annotations

from typing import Any, Literal

import polars as pl

from ..artifacts import Table, ToolResult
from ..tools import ToolContext, tool
from ._across import code
from ._attribution_rules import (  # noqa: F401 (re-exported: the public names of attribution)
    _RESTATE_CHARS,
    _RULES,
    ASSUMPTION,
    COLUMNS,
    FAILED_OUTPUT,
    KEPT_METADATA,
    RULE_ORDER,
    RULE_WEIGHTS,
    RULES,
    Attribution,
    Step,
    Vote,
    _answer,
    _assumption,
    _before_error,
    _failed_actions,
    _final_check,
    _first_handoff,
    _int,
    _kept_metadata,
    _norm,
    _text,
    attribute_steps,
    decide,
    strip_labels,
    trace_steps,
    trace_votes,
)


# -- across traces ----------------------------------------------------------------------------------
def failing_roots(clean: pl.DataFrame) -> list[str]:
    """Traces with a failure signal: an error on any span, or a root whose output does not contain
    its expected answer."""
    errored = clean.filter(pl.col("error").is_not_null()).get_column("root_span_id").unique().to_list()
    roots = clean.filter(pl.col("is_root") & pl.col("expected").is_not_null())
    wrong = [
        r for r, out, exp in roots.select("root_span_id", "output", "expected").iter_rows()
        if _norm(_answer(exp)) and _norm(_answer(exp)) not in _norm(_text(out))
    ]  # fmt: skip
    seen = set(errored) | set(wrong)
    order = (
        clean.filter(pl.col("is_root"))
        .sort("created", "root_span_id", nulls_last=True)
        .get_column("root_span_id")
        .to_list()
    )
    return [r for r in order if r in seen]


def _structured_expected(logs: pl.DataFrame) -> int:
    """How many root spans have an expected value that is an object or a list (not an answer text)."""
    if "expected" not in logs.columns:
        return 0
    expected = logs.filter(pl.col("is_root") & pl.col("expected").is_not_null()).get_column("expected")
    return sum(1 for value in expected.to_list() if value and not _answer(value))


def attributions(
    logs: pl.DataFrame, trace: str | list[str] | None = None, *, all_traces: bool = False,
    order: tuple[str, ...] | None = None, method: str = "offline", judge: Any = None,
    weights: dict[str, float] | None = None,
) -> list[Attribution]:  # fmt: skip
    """One :class:`Attribution` per trace: ``trace`` (a root span id or a list), else every trace
    with a failure signal (every trace with ``all_traces``). Labels are stripped first. ``method``
    other than ``"offline"`` asks ``judge`` (see :mod:`.attribution_llm`); offline, ``weights``
    replaces :data:`RULE_WEIGHTS` and ``order`` asks for the first-match rule order instead."""
    runner = None
    if method != "offline":
        from .attribution_llm import RUNNERS

        if method not in RUNNERS or judge is None:
            raise ValueError(f"method {method!r} needs a model and one of {', '.join(RUNNERS)}")
        runner = RUNNERS[method]
    out = []
    for root, found in traces_as_steps(logs, trace, all_traces=all_traces):
        if found is None:
            out.append(Attribution(root, None, None, "no such trace", None))
            continue
        task, steps, expected = found
        if runner is not None:
            out.append(runner(judge, root, task, steps, expected))
        else:
            out.append(attribute_steps(root, task, steps, expected, order, weights))
    return out


def traces_as_steps(
    logs: pl.DataFrame, trace: str | list[str] | None = None, *, all_traces: bool = False
) -> list[tuple[str, tuple[str, list[Step], str | None] | None]]:
    """(root, (task, steps, expected answer) or None when there is no such trace) for the traces
    :func:`attributions` would attribute, from :func:`strip_labels` of ``logs`` only."""
    # Choosing the traces reads no metadata (where labels live); the attributor gets strip_labels.
    signals = logs.select([c for c in COLUMNS if c in logs.columns and c != "metadata"])
    if trace is not None:
        roots = [trace] if isinstance(trace, str) else list(trace)
    elif all_traces:
        roots = (
            signals.filter(pl.col("is_root"))
            .sort("created", "root_span_id", nulls_last=True)
            .get_column("root_span_id")
            .to_list()
        )
    else:
        roots = failing_roots(signals)
    clean = strip_labels(logs, roots)
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in clean.to_dicts():  # one conversion, not one per trace
        groups.setdefault(row["root_span_id"], []).append(row)
    out: list[tuple[str, tuple[str, list[Step], str | None] | None]] = []
    for root in roots:
        spans = groups.get(root)
        if spans is None:
            out.append((root, None))
            continue
        task, steps = trace_steps(spans)
        root_row = next((s for s in spans if s.get("is_root")), {})
        out.append((root, (task, steps, _answer(root_row.get("expected")) or None)))
    return out


def _judge(llm: Any) -> Any:
    from .attribution_llm import judge_from_client, judge_from_text

    return judge_from_client(llm) if hasattr(llm, "complete") else judge_from_text(llm)


def attribute_failure(
    logs: pl.DataFrame, trace: str | list[str] | None = None, *, method: str = "offline", llm: Any = None
) -> pl.DataFrame:
    """Python API: which agent, at which step, caused each failing trace (or ``trace``) to fail.

    Columns: root_span_id, agent, step, reason, evidence_span_id. ``step`` is the message's
    0-based position in the conversation (``metadata.step``), else the span's position in the
    trace's time order. Never reads failure labels (see :func:`strip_labels`). ``method``:
    ``offline`` (default), or with ``llm`` (a completion function ``prompt -> text`` or a chat
    client of :mod:`loop_jupyter.agent.models`) ``all_at_once``, ``step_by_step``, ``binary_search``."""
    judge = _judge(llm) if llm is not None else None
    rows = [a.to_json() for a in attributions(logs, trace, method=method, judge=judge)]
    schema = {"root_span_id": pl.String, "agent": pl.String, "step": pl.Int64, "reason": pl.String,
              "evidence_span_id": pl.String}  # fmt: skip
    return pl.DataFrame(rows, schema=schema, orient="row")


@tool(
    name="attribute_failure",
    phrases=(
        r"\bwhich agent\b.*\b(caused|made|responsible|to blame|at fault|mistake|failure|fail|broke|wrong)",
        r"\bwho (caused|made|is responsible for|is to blame for)\b.*\b(failure|mistake|error|fail)",
        r"\bwhy did (this|the|that|my|these|those)? ?(task|run|trace|agents?|conversation)s? fail",
        r"\bwhy did (trace|run|task)\b.{0,80}\bfail",
        r"\b(at )?which step\b.*\b(fail|went wrong|mistake|caused)",
        r"\b(failure|blame|fault) attribution\b|\battribute (the )?failures?\b",
        r"\bwhere did (it|this|the (task|run|agent|trace)) go wrong\b",
    ),
)
def attribute_failure_tool(
    ctx: ToolContext,
    root_span_id: str | None = None,
    method: Literal["offline", "all_at_once", "step_by_step", "binary_search"] = "offline",
    limit: int = 50,
) -> ToolResult:
    """Failure attribution: for each failing trace (or one trace), the agent and the step that
    caused the failure, why, and the span that shows it. Offline, from the trace's signals only
    (errors, failed tool outputs and exit codes, invented data, who acted last before a failure,
    the first hand-off); failure labels in the logs are never read.

    Args:
        root_span_id: one trace to attribute (default: the selected traces, else every trace with
            an error or a final answer that misses its expected answer).
        method: offline (no model), or with the session's model all_at_once (one question per
            trace), step_by_step (one per turn until the decisive one) or binary_search.
        limit: how many traces to list.
    """
    trace: str | list[str] | None = root_span_id or (list(ctx.selection) or None)
    note = ""
    if method != "offline" and ctx.llm is None:
        method, note = "offline", " No model is configured, so this is the offline attribution."
    found = attributions(ctx.logs, trace, method=method, judge=_judge(ctx.llm) if method != "offline" else None)
    call = code("attribution", "attribute_failure", {"trace": trace} if trace else {}, tail="")
    if not found:
        text = "No failing traces (no errors, no final answer that misses its expected answer)."
        structured = _structured_expected(ctx.logs)
        if structured:
            text += (f" {structured:,} traces expect a structure (e.g. tool actions), not an answer text: whether "
                     "they succeeded cannot be read offline from the traces' signals.")  # fmt: skip
        return ToolResult(text, [call])
    frame = pl.DataFrame([a.to_json() for a in found[:limit]], orient="row")
    blamed = (  # most blamed first, equal counts by name (value_counts' order among ties is the rows')
        pl.DataFrame({"agent": [a.agent for a in found]}, schema={"agent": pl.String})
        .get_column("agent")
        .value_counts()
        .sort(["count", "agent"], descending=[True, False], nulls_last=True)
    )
    how = "offline, from the traces' signals" if method == "offline" else f"{method} with the model"
    lines = [f"Attributed {len(found):,} failing trace{'s' * (len(found) != 1)} ({how}; failure labels are not "
             f"read).{note}"]  # fmt: skip
    if len(found) == 1:
        lines.append(found[0].reason)
    else:
        top = ", ".join(f"{agent} {count}" for agent, count in blamed.head(5).iter_rows())
        lines.append(f"Most blamed agents: {top}.")
    return ToolResult(" ".join(lines), [Table(frame, title="Failure attribution"), call])
