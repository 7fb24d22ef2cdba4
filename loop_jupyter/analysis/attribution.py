"""Failure attribution: which agent, at which step, made a failed trace go wrong, and why.

The offline attributor reads only a trace's structure and signals; it never sees a label. Before
anything else, :func:`strip_labels` rebuilds the frame from the few columns the attributor uses
and keeps, of each span's metadata, only ``step``/``agent``/``role``/``name``: the Who&When labels
(``mistake_agent``, ``mistake_step``, ``mistake_reason``, the ``is_mistake_step`` mark, ...) and
any other annotation cannot reach it.

A trace becomes a list of steps in conversation order (``metadata.step`` when the spans carry it,
else time order): who acted (``metadata.agent``, else the span name), what kind of step it is (the
task itself, a tool/terminal output, or an agent's turn), its text and its error. Three generic
rules then point at one agent step; the first rule in :data:`RULE_ORDER` that finds one wins:

- ``assumption``: the first agent turn that works from assumed, hypothetical, simulated or
  placeholder data instead of real data (hallucinated inputs are a common root cause);
- ``before_error``: the first error; a failed tool output or terminal run (non-zero exit code) is
  blamed on the agent turn that acted last before it, an agent's own error on that turn;
- ``first_handoff``: the first turn by an agent other than the task and whoever restated it (the
  first substantive work after the hand-off), else the first agent turn.

No rule names an agent, a dataset or a framework. The rule order was chosen on the Who&When
algorithm-generated subset and reported on the hand-crafted one (bench/failure_attribution.py,
bench/RESULTS.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import orjson
import polars as pl

from ..artifacts import Table, ToolResult
from ..tools import ToolContext, tool
from ._across import clip, code

#: The only columns the attributor reads.
COLUMNS = ("root_span_id", "span_id", "parent_id", "is_root", "created", "start", "name", "type", "input",
           "output", "expected", "error", "metadata")  # fmt: skip
#: The only span metadata keys the attributor reads; every other key (labels included) is dropped.
KEPT_METADATA = ("step", "agent", "role", "name")
RULES = ("assumption", "before_error", "first_handoff")
RULE_ORDER: tuple[str, ...] = ("assumption", "before_error", "first_handoff")

#: Working from invented inputs: "let's assume", "hypothetical", "mock data", "placeholder", ...
ASSUMPTION = re.compile(
    r"\b(let'?s assume|assuming|assume that|hypothetical\w*|for (the sake of )?(demonstration|illustration)|"
    r"placeholder|mock|simulat(e|ed|ing)|example data|sample data|suppose|dummy)\b",
    re.IGNORECASE,
)
#: A tool output that reports a failure even without an error field.
FAILED_OUTPUT = re.compile(r"^\s*(traceback \(most recent call last\)|error:|exception:)", re.IGNORECASE)
_RESTATE_CHARS = 120


@dataclass(frozen=True)
class Step:
    position: int  # 0-based position in the conversation (metadata.step, else time order)
    span_id: str
    agent: str
    kind: str  # "task" | "tool" | "agent"
    text: str
    error: str | None
    name: str = ""  # the span's own name (``agent`` may be the component holding it)


@dataclass(frozen=True)
class Attribution:
    root_span_id: str
    agent: str | None
    step: int | None
    reason: str
    evidence_span_id: str | None
    rule: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"root_span_id": self.root_span_id, "agent": self.agent, "step": self.step,
                "reason": self.reason, "evidence_span_id": self.evidence_span_id}  # fmt: skip


# -- labels out ----------------------------------------------------------------------------------
def _kept_metadata(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict):
        return None
    kept = {key: value[key] for key in KEPT_METADATA if key in value}
    return orjson.dumps(kept).decode() if kept else None


def strip_labels(logs: pl.DataFrame, roots: list[str] | None = None) -> pl.DataFrame:
    """The frame the attributor sees: :data:`COLUMNS` only (of the traces ``roots``, default all),
    metadata reduced to :data:`KEPT_METADATA`. Failure labels, label marks, scores, tags and root
    metadata are gone."""
    frame = logs.select([c for c in COLUMNS if c in logs.columns])
    if roots is not None:
        frame = frame.filter(pl.col("root_span_id").is_in(roots))
    if "metadata" in frame.columns:
        frame = frame.with_columns(
            pl.col("metadata").map_elements(_kept_metadata, return_dtype=pl.String, skip_nulls=True)
        )
    return frame


# -- traces as steps ------------------------------------------------------------------------------
def _text(value: str | None) -> str:
    if value is None:
        return ""
    try:
        decoded = orjson.loads(value)
    except orjson.JSONDecodeError:
        return value
    return decoded if isinstance(decoded, str) else orjson.dumps(decoded).decode()


def _int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def trace_steps(spans: list[dict[str, Any]]) -> tuple[str, list[Step]]:
    """(the task text, the steps) of one trace's spans, as dicts of :func:`strip_labels` rows."""
    metas = [orjson.loads(s["metadata"]) if s.get("metadata") else {} for s in spans]
    numbered = [(m, s) for m, s in zip(metas, spans, strict=True) if _int(m.get("step")) is not None]
    root = next((s for s in spans if s.get("is_root")), None)
    task = _text(root.get("input")) if root else ""
    if numbered:  # a conversation: the loader's message numbers
        ordered = sorted(numbered, key=lambda ms: _int(ms[0]["step"]) or 0)
        positions = [_int(m["step"]) or 0 for m, _ in ordered]
    else:  # any other trace: time order, root first
        ordered = sorted(zip(metas, spans, strict=True), key=lambda ms: (
            not ms[1].get("is_root"), ms[1].get("start") or ms[1].get("created"), ms[1].get("span_id") or ""))  # fmt: skip
        positions = list(range(len(ordered)))
    # In a nested trace the agent is the top-level component under the root that holds the span.
    by_id = {s.get("span_id"): s for s in spans}
    root_id = root.get("span_id") if root else None

    def component(span: dict[str, Any]) -> str | None:
        seen = 0
        while span.get("parent_id") not in (None, root_id) and span["parent_id"] in by_id and seen < 1000:
            span, seen = by_id[span["parent_id"]], seen + 1
        return span.get("name") if span.get("parent_id") == root_id else None

    steps = []
    for position, (meta, span) in zip(positions, ordered, strict=True):
        agent = str(meta.get("agent") or (None if numbered else component(span)) or span.get("name")
                    or meta.get("role") or "unknown")  # fmt: skip
        span_type = (span.get("type") or "").lower()
        task_like = span.get("is_root") or (numbered and span_type == "task")
        kind = "task" if task_like else "tool" if span_type == "tool" else "agent"
        error = _text(span.get("error")) or None
        text = _text(span.get("output"))
        if error is None and kind == "tool" and FAILED_OUTPUT.match(text):
            error = text.strip().splitlines()[-1][:160]
        steps.append(Step(position, span.get("span_id") or "", agent, kind, text, error, span.get("name") or ""))
    return task, steps


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


# -- the rules -------------------------------------------------------------------------------------
def _assumption(task: str, steps: list[Step]) -> tuple[Step, str, str] | None:
    for step in steps:
        if step.kind == "agent" and (m := ASSUMPTION.search(step.text)):
            start = max(0, m.start() - 40)
            quote = clip(step.text[start : m.end() + 60].replace("\n", " "), 110)
            return step, step.span_id, f"works from assumed or invented data instead of real inputs: “{quote}”"
    return None


def _before_error(task: str, steps: list[Step]) -> tuple[Step, str, str] | None:
    failed = next((s for s in steps if s.error), None)
    if failed is None:
        return None
    if failed.kind == "agent":
        return failed, failed.span_id, f"its own step failed: {clip(failed.error, 120)}"
    actor = next((s for s in reversed(steps) if s.position < failed.position and s.kind == "agent"), None)
    if actor is None:
        return None
    return actor, failed.span_id, (
        f"acted last before the first failure (step {failed.position}, {failed.name or failed.agent}: "
        f"{clip(failed.error, 100)})"
    )


def _first_handoff(task: str, steps: list[Step]) -> tuple[Step, str, str] | None:
    acting = [s for s in steps if s.kind == "agent"]
    if not acting:
        return None
    head = _norm(task)[:_RESTATE_CHARS]
    restaters = {s.agent for s in acting if head and head in _norm(s.text)}
    after = [s for s in acting if s.agent not in restaters]
    if after:
        step = after[0]
        who = f"after {', '.join(sorted(restaters))} stated the task" if restaters else "after the task"
        return step, step.span_id, f"first substantive turn by another agent {who}; no earlier failure signal"
    step = acting[1] if len(acting) > 1 else acting[0]
    return step, step.span_id, "first working turn after the task was stated; no failure signal"


_RULES = {"assumption": _assumption, "before_error": _before_error, "first_handoff": _first_handoff}


def _final_check(task: str, steps: list[Step], expected: str | None) -> str:
    """A note comparing the final answer with the expected one (when the logs have it)."""
    if not expected:
        return ""
    final = next((s.text for s in reversed(steps) if s.kind != "task" and s.text.strip()), "")
    if _norm(expected) and _norm(expected) in _norm(final):
        return ""
    return f" The final answer does not contain the expected answer ({clip(expected, 40)})."


def attribute_steps(
    root_span_id: str, task: str, steps: list[Step], expected: str | None = None, order: tuple[str, ...] | None = None
) -> Attribution:
    """Attribute one trace given as steps (see :func:`trace_steps`)."""
    for name in order or RULE_ORDER:
        found = _RULES[name](task, steps)
        if found is not None:
            step, evidence, why = found
            reason = f"{step.agent} at step {step.position} {why}.{_final_check(task, steps, expected)}"
            return Attribution(root_span_id, step.agent, step.position, reason, evidence, name)
    return Attribution(root_span_id, None, None, "no agent step in this trace", None, None)


# -- across traces ----------------------------------------------------------------------------------
def failing_roots(clean: pl.DataFrame) -> list[str]:
    """Traces with a failure signal: an error on any span, or a root whose output does not contain
    its expected answer."""
    errored = clean.filter(pl.col("error").is_not_null()).get_column("root_span_id").unique().to_list()
    roots = clean.filter(pl.col("is_root") & pl.col("expected").is_not_null())
    wrong = [
        r for r, out, exp in roots.select("root_span_id", "output", "expected").iter_rows()
        if _norm(_text(exp)) and _norm(_text(exp)) not in _norm(_text(out))
    ]  # fmt: skip
    seen = set(errored) | set(wrong)
    order = clean.filter(pl.col("is_root")).sort("created").get_column("root_span_id").to_list()
    return [r for r in order if r in seen]


def attributions(
    logs: pl.DataFrame, trace: str | list[str] | None = None, *, all_traces: bool = False,
    order: tuple[str, ...] | None = None, method: str = "offline", judge: Any = None,
) -> list[Attribution]:  # fmt: skip
    """One :class:`Attribution` per trace: ``trace`` (a root span id or a list), else every trace
    with a failure signal (every trace with ``all_traces``). Labels are stripped first. ``method``
    other than ``"offline"`` asks ``judge`` (see :mod:`.attribution_llm`)."""
    runner = None
    if method != "offline":
        from .attribution_llm import RUNNERS

        if method not in RUNNERS or judge is None:
            raise ValueError(f"method {method!r} needs a model and one of {', '.join(RUNNERS)}")
        runner = RUNNERS[method]
    # Choosing the traces reads no metadata (where labels live); the attributor gets strip_labels.
    signals = logs.select([c for c in COLUMNS if c in logs.columns and c != "metadata"])
    if trace is not None:
        roots = [trace] if isinstance(trace, str) else list(trace)
    elif all_traces:
        roots = signals.filter(pl.col("is_root")).sort("created").get_column("root_span_id").to_list()
    else:
        roots = failing_roots(signals)
    clean = strip_labels(logs, roots)
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in clean.to_dicts():  # one conversion, not one per trace
        groups.setdefault(row["root_span_id"], []).append(row)
    out = []
    for root in roots:
        spans = groups.get(root)
        if spans is None:
            out.append(Attribution(root, None, None, "no such trace", None))
            continue
        task, steps = trace_steps(spans)
        root_row = next((s for s in spans if s.get("is_root")), {})
        expected = _text(root_row.get("expected")) or None
        if runner is not None:
            out.append(runner(judge, root, task, steps, expected))
        else:
            out.append(attribute_steps(root, task, steps, expected, order))
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
        return ToolResult("No failing traces (no errors, no final answer that misses its expected answer).", [call])
    frame = pl.DataFrame([a.to_json() for a in found[:limit]], orient="row")
    blamed = pl.DataFrame({"agent": [a.agent for a in found]}).get_column("agent").value_counts(sort=True)
    how = "offline, from the traces' signals" if method == "offline" else f"{method} with the model"
    lines = [f"Attributed {len(found):,} failing trace{'s' * (len(found) != 1)} ({how}; failure labels are not "
             f"read).{note}"]  # fmt: skip
    if len(found) == 1:
        lines.append(found[0].reason)
    else:
        top = ", ".join(f"{agent} {count}" for agent, count in blamed.head(5).iter_rows())
        lines.append(f"Most blamed agents: {top}.")
    return ToolResult(" ".join(lines), [Table(frame, title="Failure attribution"), call])
