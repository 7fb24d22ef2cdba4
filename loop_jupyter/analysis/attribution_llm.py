"""Failure attribution with a model: the three methods of Zhang et al. (ICML 2025), over the same
label-free steps as the offline attributor (:mod:`.attribution`).

- ``all_at_once``: the whole conversation in one prompt; the model names the agent and the step.
- ``step_by_step``: agent turns one at a time with the conversation so far; the first turn the
  model calls decisive is the answer (at most ``max_calls`` questions).
- ``binary_search``: the model says which half of the remaining range holds the decisive
  mistake, until one turn is left (about log2(n) questions).

Answers are structured: with a chat client, a forced tool call whose input schema is the answer
(:func:`judge_from_client`); with a plain completion function (``ToolContext.llm``), a JSON object
checked against the same fields (:func:`judge_from_text`). Context is bounded: each prompt holds at
most ``budget`` characters of steps, every step clipped to its share (head and tail kept). An
answer that is not valid (unknown agent, no such step) falls back to the offline attribution and
says so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from ._attribution_rules import Attribution, Step, attribute_steps

Judge = Callable[[str, dict[str, Any]], dict[str, Any]]
METHODS = ("all_at_once", "step_by_step", "binary_search")
BUDGET = 24_000
MIN_STEP_CHARS = 240

SYSTEM = ("You find which agent and which step caused a multi-agent run to fail. A step is decisive when, "
          "had it been done right, the run would have succeeded.")  # fmt: skip
ATTRIBUTION_SCHEMA = {
    "type": "object",
    "properties": {
        "agent": {"type": "string", "description": "name of the agent responsible"},
        "step": {"type": "integer", "description": "the [step N] number of the decisive mistake"},
        "reason": {"type": "string", "description": "one sentence: what went wrong"},
    },
    "required": ["agent", "step", "reason"],
}
VERDICT_SCHEMA = {
    "type": "object",
    "properties": {"decisive": {"type": "boolean"}, "reason": {"type": "string"}},
    "required": ["decisive", "reason"],
}
HALF_SCHEMA = {
    "type": "object",
    "properties": {"half": {"type": "string", "enum": ["upper", "lower"]}, "reason": {"type": "string"}},
    "required": ["half", "reason"],
}


def _clip(text: str, width: int) -> str:
    text = text.strip()
    if len(text) <= width:
        return text
    head = width * 2 // 3
    return f"{text[:head]} […{len(text) - width:,} chars…] {text[-(width - head) :]}"


def render(task: str, steps: list[Step], budget: int = BUDGET, expected: str | None = None) -> str:
    """The task and the steps as ``[step N] agent (kind): text``, within ``budget`` characters."""
    share = max(MIN_STEP_CHARS, budget // max(1, len(steps)))
    lines = [f"Task: {_clip(task, 2000)}"]
    if expected:
        lines.append(f"Expected answer: {_clip(expected, 300)}")
    for s in steps:
        error = f" ERROR: {_clip(s.error, 200)}" if s.error else ""
        lines.append(f"[step {s.position}] {s.agent} ({s.kind}){error}: {_clip(s.text, share)}")
    return "\n".join(lines)


def _parse_json(text: str) -> dict[str, Any]:
    match = re.search(r"\{.*\}", text or "", re.S)
    if not match:
        raise ValueError("no JSON object in the reply")
    value = json.loads(match.group(0))
    if not isinstance(value, dict):
        raise ValueError("the reply is not a JSON object")
    return value


def judge_from_text(llm: Callable[[str], str]) -> Judge:
    """Structured answers from a plain completion function: the schema in the prompt, JSON back."""

    def ask(prompt: str, schema: dict[str, Any]) -> dict[str, Any]:
        fields = ", ".join(f'"{k}" ({v["type"]})' for k, v in schema["properties"].items())
        reply = llm(f"{SYSTEM}\n\n{prompt}\n\nReply with only a JSON object with the fields {fields}.")
        return _parse_json(reply)

    return ask


def judge_from_client(client: Any) -> Judge:
    """Structured answers from a chat client (:mod:`loop_jupyter.agent.models`): one tool whose
    input schema is the answer; a reply in text is parsed as JSON."""

    def ask(prompt: str, schema: dict[str, Any]) -> dict[str, Any]:
        tool = {"name": "answer", "description": "Give your answer.", "input_schema": schema}
        turn = client.complete(SYSTEM, [{"role": "user", "content": prompt + "\n\nAnswer with the answer tool."}],
                               [tool])  # fmt: skip
        for call in getattr(turn, "tool_calls", []) or []:
            if call.name == "answer" and isinstance(call.input, dict):
                return call.input
        return _parse_json(turn.text)

    return ask


def _agent_steps(steps: list[Step]) -> list[Step]:
    return [s for s in steps if s.kind == "agent"] or [s for s in steps if s.kind != "task"]


def _with(base: Attribution, step: Step, reason: str, method: str) -> Attribution:
    return Attribution(base.root_span_id, step.agent, step.position, f"{step.agent} at step {step.position}: {reason}",
                       step.span_id, method)  # fmt: skip


def _fallback(base: Attribution, method: str, why: str) -> Attribution:
    return Attribution(base.root_span_id, base.agent, base.step, f"{base.reason} ({method}: {why}; offline answer)",
                       base.evidence_span_id, base.rule)  # fmt: skip


def all_at_once(judge: Judge, root: str, task: str, steps: list[Step], expected: str | None = None,
                budget: int = BUDGET) -> Attribution:  # fmt: skip
    base = attribute_steps(root, task, steps, expected)
    prompt = (f"{render(task, steps, budget, expected)}\n\nThis run failed. Which agent made the decisive "
              "mistake, and at which step?")  # fmt: skip
    try:
        answer = judge(prompt, ATTRIBUTION_SCHEMA)
        by_position = {s.position: s for s in steps if s.kind != "task"}
        step = by_position.get(int(answer["step"]))
    except Exception as exc:  # a model failure or an unreadable answer: the offline answer
        return _fallback(base, "all_at_once", f"no usable answer: {type(exc).__name__}")
    if step is None:
        return _fallback(base, "all_at_once", f"the model named step {answer.get('step')!r}, not in this trace")
    return _with(base, step, str(answer.get("reason") or ""), "all_at_once")


def step_by_step(judge: Judge, root: str, task: str, steps: list[Step], expected: str | None = None,
                 budget: int = BUDGET, max_calls: int = 30) -> Attribution:  # fmt: skip
    base = attribute_steps(root, task, steps, expected)
    for calls, candidate in enumerate(_agent_steps(steps)):
        if calls >= max_calls:
            return _fallback(base, "step_by_step", f"no decisive step within {max_calls} questions")
        so_far = [s for s in steps if s.position <= candidate.position]
        prompt = (f"{render(task, so_far, budget, expected)}\n\nThis run failed. Is [step {candidate.position}] "
                  f"by {candidate.agent} the decisive mistake?")  # fmt: skip
        try:
            verdict = judge(prompt, VERDICT_SCHEMA)
        except Exception as exc:
            return _fallback(base, "step_by_step", f"no usable answer: {type(exc).__name__}")
        if verdict.get("decisive") is True:
            return _with(base, candidate, str(verdict.get("reason") or ""), "step_by_step")
    return _fallback(base, "step_by_step", "the model found no decisive step")


def binary_search(judge: Judge, root: str, task: str, steps: list[Step], expected: str | None = None,
                  budget: int = BUDGET) -> Attribution:  # fmt: skip
    base = attribute_steps(root, task, steps, expected)
    candidates = _agent_steps(steps)
    if not candidates:
        return _fallback(base, "binary_search", "no agent step")
    lo, hi = 0, len(candidates) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        first, last = candidates[lo].position, candidates[hi].position
        segment = [s for s in steps if first <= s.position <= last]
        prompt = (f"{render(task, segment, budget, expected)}\n\nThis run failed; the decisive mistake is between "
                  f"step {first} and step {last}. Is it in the lower half (steps {first}–{candidates[mid].position}) "
                  f"or the upper half (steps {candidates[mid + 1].position}–{last})?")  # fmt: skip
        try:
            half = judge(prompt, HALF_SCHEMA).get("half")
        except Exception as exc:
            return _fallback(base, "binary_search", f"no usable answer: {type(exc).__name__}")
        if half == "lower":
            hi = mid
        elif half == "upper":
            lo = mid + 1
        else:
            return _fallback(base, "binary_search", f"the model answered {half!r}, not upper or lower")
    return _with(base, candidates[lo], "the half-by-half search ends here", "binary_search")


RUNNERS = {"all_at_once": all_at_once, "step_by_step": step_by_step, "binary_search": binary_search}
