"""Small hand-built logs for the analysis tests (traces described span by span)."""

from __future__ import annotations

from typing import Any

import polars as pl

from loop_jupyter.frame import frame_from_events
from loop_jupyter.report import LoadReport

T0 = 1_700_000_000.0


def span(
    span_id: str,
    name: str,
    type_: str,
    start: float,
    end: float,
    *,
    parent: str | None = None,
    input: Any = None,
    output: Any = None,
    error: Any = None,
    metadata: dict[str, Any] | None = None,
    scores: dict[str, float] | None = None,
    prompt_tokens: int | None = None,
    completion_tokens: int | None = None,
    expected: Any = None,
) -> dict[str, Any]:
    """One span; ``start``/``end`` are seconds after T0. The root id is filled in by :func:`trace`."""
    metrics: dict[str, float] = {"start": T0 + start, "end": T0 + end}
    if prompt_tokens is not None:
        metrics["prompt_tokens"] = prompt_tokens
    if completion_tokens is not None:
        metrics["completion_tokens"] = completion_tokens
    event = {
        "id": span_id,
        "span_id": span_id,
        "span_parents": [parent] if parent else [],
        "created": T0 + start,
        "input": input,
        "output": output,
        "expected": expected,
        "error": error,
        "metadata": metadata,
        "scores": scores,
        "metrics": metrics,
        "span_attributes": {"name": name, "type": type_},
    }
    return event


def trace(root_id: str, spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for event in spans:
        event["root_span_id"] = root_id
    return spans


def frame(*traces: list[dict[str, Any]]) -> pl.DataFrame:
    events = [event for t in traces for event in t]
    report = LoadReport()
    out = frame_from_events(list(enumerate(events, start=1)), report)
    assert not report.skipped, report.skipped
    return out


def chat_trace(
    root_id: str,
    question: str,
    answer: str,
    *,
    tools: tuple[str, ...] = (),
    error: str | None = None,
    intent: str | None = None,
    offset: float = 0.0,
    scores: dict[str, float] | None = None,
) -> list[dict[str, Any]]:
    """A root span with one LLM call and optional tool calls (the last tool fails with ``error``)."""
    spans = [
        span(
            root_id,
            "chat",
            "task",
            offset,
            offset + 3,
            input={"messages": [{"role": "user", "content": question}]},
            output=answer,
            metadata={"intent": intent} if intent else None,
            scores=scores,
        ),
        span(
            f"{root_id}-llm",
            "generate",
            "llm",
            offset + 0.1,
            offset + 1.1,
            parent=root_id,
            input=[{"role": "user", "content": question}],
            output=answer,
            metadata={"model": "gpt-4o"},
            prompt_tokens=100,
            completion_tokens=20,
        ),
    ]
    for i, name in enumerate(tools):
        failing = error is not None and i == len(tools) - 1
        spans.append(
            span(
                f"{root_id}-tool{i}",
                name,
                "tool",
                offset + 1.2 + i * 0.5,
                offset + 1.6 + i * 0.5,
                parent=root_id,
                input={"query": question[:20]},
                output=None if failing else {"ok": True},
                error=error if failing else None,
            )
        )
    return trace(root_id, spans)
