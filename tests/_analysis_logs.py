"""Small hand-built span frames for the analysis tests (events → canonical frame)."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from loop_jupyter.frame import frame_from_events
from loop_jupyter.report import LoadReport

T0 = 1_763_000_000.0  # 2025-11-13 02:13:20 UTC, a Thursday
DAY = 86_400.0


def span(
    sid: str,
    root: str,
    parent: str | None = None,
    *,
    name: str = "step",
    type_: str = "task",
    start: float = 0.0,
    end: float = 1.0,
    error: Any = None,
    model: str | None = None,
    input: Any = None,
    output: Any = None,
    metadata: dict[str, Any] | None = None,
    scores: dict[str, float] | None = None,
    tags: list[str] | None = None,
    tokens: tuple[int, int] | None = None,
    cost: float | None = None,
) -> dict[str, Any]:
    meta = dict(metadata or {})
    if model:
        meta["model"] = model
    metrics: dict[str, float] = {"start": T0 + start, "end": T0 + end}
    if tokens:
        metrics |= {"prompt_tokens": tokens[0], "completion_tokens": tokens[1]}
    if cost is not None:
        metrics["estimated_cost"] = cost
    return {
        "id": sid,
        "span_id": sid,
        "root_span_id": root,
        "span_parents": [parent] if parent else [],
        "created": T0 + start,
        "span_attributes": {"name": name, "type": type_},
        "metrics": metrics,
        "metadata": meta or None,
        "input": input,
        "output": output,
        "error": error,
        "scores": scores,
        "tags": tags,
    }


def frame(events: list[dict[str, Any]]) -> pl.DataFrame:
    report = LoadReport()
    out = frame_from_events(list(enumerate(events, 1)), report)
    assert not report.skipped
    return out


def run_code(source: str, logs: pl.DataFrame) -> Any:
    """Run a tool's Code artifact as a notebook cell would, with ``logs`` defined; returns the value
    of the last line."""
    *body, last = source.strip().splitlines()
    namespace: dict[str, Any] = {"logs": logs}
    exec("\n".join(body), namespace)
    return eval(last, namespace)


@pytest.fixture(scope="session")
def demo() -> pl.DataFrame:
    demo_module = pytest.importorskip("loop_jupyter.demo")
    return demo_module.demo_logs(n_traces=2000, seed=0)
