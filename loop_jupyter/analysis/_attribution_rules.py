"""The offline attribution rules over one trace's steps (see :mod:`.attribution` for the whole story).

Apart from :mod:`.attribution` so that the model path (:mod:`.attribution_llm`) can build on the
steps and the offline answer without importing the tool module back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson
import polars as pl

from ._across import clip

#: The only columns the attributor reads.
COLUMNS = ("root_span_id", "span_id", "parent_id", "is_root", "created", "start", "name", "type", "input",
           "output", "expected", "error", "metadata")  # fmt: skip
#: The only span metadata keys the attributor reads; every other key (labels included) is dropped.
KEPT_METADATA = ("step", "agent", "role", "name")
RULES = ("assumption", "before_error", "first_handoff", "failed_action")
#: The legacy first-match order (``attribute_steps(order=...)``); the default is a vote (:data:`RULE_WEIGHTS`).
RULE_ORDER: tuple[str, ...] = ("assumption", "before_error", "first_handoff")
#: Each rule's vote: every rule points at agent turns, a turn's score is the sum of the weights of
#: the rules that point at it, the highest score wins (ties: the earliest turn). Equal votes are the
#: default; bench/failure_attribution.py tunes them on one Who&When subset and reports the other.
RULE_WEIGHTS: dict[str, float] = dict.fromkeys(RULES, 1.0)

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
    rule: str | None = None  # the strongest rule that voted for the turn (or the method)
    votes: tuple[str, ...] = ()  # every rule that voted for it

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
def _decoded(value: str) -> object:
    """The JSON value of ``value``, or the text itself when it is not JSON."""
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return value


def _text(value: str | None) -> str:
    if value is None:
        return ""
    decoded = _decoded(value)
    return decoded if isinstance(decoded, str) else orjson.dumps(decoded).decode()


def _answer(value: str | None) -> str:
    """The expected final answer as text, or "" when the expected value is a structure (an object or a
    list: tau-bench's expected tool actions), which no final answer contains verbatim."""
    if value is not None and isinstance(_decoded(value), dict | list):
        return ""
    return _text(value)


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
    return (
        actor,
        failed.span_id,
        (
            f"acted last before the first failure (step {failed.position}, {failed.name or failed.agent}: "
            f"{clip(failed.error, 100)})"
        ),
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


def _failed_actions(task: str, steps: list[Step]) -> list[tuple[Step, str, str]]:
    """Every agent turn whose action failed: its own error, or a failed tool output or terminal run
    that follows it before the next agent turn (the first failure is :func:`_before_error`'s too)."""
    found: dict[int, tuple[Step, str, str]] = {}
    actor: Step | None = None
    for step in steps:
        if step.kind == "agent":
            actor = step
            if step.error and step.position not in found:
                found[step.position] = (step, step.span_id, f"its own step failed: {clip(step.error, 100)}")
        elif step.error and actor is not None and actor.position not in found:
            why = f"its action failed at step {step.position} ({step.name or step.agent}: {clip(step.error, 80)})"
            found[actor.position] = (actor, step.span_id, why)
    return list(found.values())


_RULES = {"assumption": _assumption, "before_error": _before_error, "first_handoff": _first_handoff}


@dataclass(frozen=True)
class Vote:
    rule: str
    step: Step
    evidence_span_id: str
    why: str


def trace_votes(task: str, steps: list[Step]) -> list[Vote]:
    """What every rule points at in one trace (computed once; :func:`decide` weighs them)."""
    votes = [Vote(name, *found) for name, rule in _RULES.items() if (found := rule(task, steps)) is not None]
    return votes + [Vote("failed_action", *found) for found in _failed_actions(task, steps)]


def decide(
    root_span_id: str, task: str, steps: list[Step], votes: list[Vote], expected: str | None = None,
    weights: dict[str, float] | None = None,
) -> Attribution:  # fmt: skip
    """The turn with the most weighted votes (ties: the earliest); its reason quotes each rule that
    voted for it, strongest first, and its evidence is the strongest rule's."""
    weights = RULE_WEIGHTS if weights is None else weights
    score: dict[int, float] = {}
    for vote in votes:
        score[vote.step.position] = score.get(vote.step.position, 0.0) + weights.get(vote.rule, 0.0)
    if not score or max(score.values()) <= 0:
        return Attribution(root_span_id, None, None, "no agent step in this trace", None, None)
    best = max(score.values())
    position = min(p for p, value in score.items() if value == best)
    mine = sorted((v for v in votes if v.step.position == position and weights.get(v.rule, 0.0) > 0),
                  key=lambda v: (-weights.get(v.rule, 0.0), RULES.index(v.rule)))  # fmt: skip
    step = mine[0].step
    whys = "; ".join(dict.fromkeys(v.why for v in mine))
    reason = f"{step.agent} at step {step.position} {whys}.{_final_check(task, steps, expected)}"
    return Attribution(root_span_id, step.agent, step.position, reason, mine[0].evidence_span_id, mine[0].rule,
                       tuple(v.rule for v in mine))  # fmt: skip


def _final_check(task: str, steps: list[Step], expected: str | None) -> str:
    """A note comparing the final answer with the expected one (when the logs have it)."""
    if not expected:
        return ""
    final = next((s.text for s in reversed(steps) if s.kind != "task" and s.text.strip()), "")
    if _norm(expected) and _norm(expected) in _norm(final):
        return ""
    return f" The final answer does not contain the expected answer ({clip(expected, 40)})."


def attribute_steps(
    root_span_id: str, task: str, steps: list[Step], expected: str | None = None, order: tuple[str, ...] | None = None,
    weights: dict[str, float] | None = None,
) -> Attribution:  # fmt: skip
    """Attribute one trace given as steps (see :func:`trace_steps`): the weighted vote of the rules
    (:data:`RULE_WEIGHTS`, or ``weights``), or with ``order`` the first rule of that order that finds
    a turn (the former behaviour, kept for comparison)."""
    if order is None:
        return decide(root_span_id, task, steps, trace_votes(task, steps), expected, weights)
    for name in order:
        found = _RULES[name](task, steps)
        if found is not None:
            step, evidence, why = found
            reason = f"{step.agent} at step {step.position} {why}.{_final_check(task, steps, expected)}"
            return Attribution(root_span_id, step.agent, step.position, reason, evidence, name)
    return Attribution(root_span_id, None, None, "no agent step in this trace", None, None)
