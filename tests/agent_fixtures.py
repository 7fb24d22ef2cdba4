"""Known logs for the agent tests: a small, seeded, Braintrust-shaped frame built through the real
``frame_from_events``, with timestamps relative to now (so "last 5 days" means something)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import polars as pl

from loop_jupyter.frame import frame_from_events
from loop_jupyter.report import LoadReport

USERS = ["John Smith", "Ada Lovelace", "grace_h"]
MODELS = ["claude-sonnet-4-5-20250929", "gpt-5.1", "claude-haiku-4-5"]
ERRORS = [
    "RateLimitError: 429 rate limit exceeded, retry after 20s",
    "Timeout: request timed out after 60s",
    "BadRequest: prompt is too long: context window of 200000 tokens exceeded",
    "ValueError: tool returned malformed JSON",
]
BIG_SECRET = "NEEDLE-42"


def build_events(n_traces: int = 60, seed: int = 7, *, big_bytes: int = 0) -> list[dict]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    events: list[dict] = []
    for t in range(n_traces):
        # Hours ago avoids day boundaries for "yesterday"/"today" being hit by a test run near midnight
        # only in the way the independent computation also sees.
        created = now - timedelta(hours=rng.uniform(0.5, 14 * 24))
        root = f"trace-{t:03d}"
        user = USERS[t % len(USERS)]
        tags = [["production"], ["staging"], ["production", "beta"], []][t % 4]
        model = MODELS[t % len(MODELS)]
        root_duration = rng.uniform(1, 180)
        scores = {"Factuality": round(rng.random(), 3), "Helpfulness": round(rng.random(), 3)}
        if t % 5 == 0:
            scores.pop("Helpfulness")
        start = created.timestamp()
        events.append(
            {
                "id": root,
                "span_id": root,
                "root_span_id": root,
                "created": created.isoformat(),
                "input": {"question": f"question {t} about billing" if t % 3 else f"question {t} about refunds"},
                "output": {"answer": f"answer {t}"},
                "tags": tags,
                "scores": scores,
                "metadata": {"user": user, "env": "production" if "production" in tags else "staging"},
                "metrics": {"start": start, "end": start + root_duration},
                "span_attributes": {"name": "chat", "type": "task"},
            }
        )
        for s in range(rng.randint(1, 4)):
            kind = "llm" if s % 2 == 0 else "tool"
            duration = rng.uniform(0.2, 120)
            prompt = rng.randint(100, 20000) if kind == "llm" else None
            completion = rng.randint(10, 2000) if kind == "llm" else None
            error = ERRORS[(t + s) % len(ERRORS)] if rng.random() < 0.25 else None
            metrics: dict = {"start": start + s, "end": start + s + duration}
            if prompt is not None:
                metrics.update(prompt_tokens=prompt, completion_tokens=completion, estimated_cost=prompt * 3e-6)
            events.append(
                {
                    "id": f"{root}-s{s}",
                    "span_id": f"{root}-s{s}",
                    "root_span_id": root,
                    "span_parents": [root],
                    "created": (created + timedelta(seconds=s)).isoformat(),
                    "input": {"messages": [{"role": "user", "content": f"step {s} of {t}"}]},
                    "output": {"text": f"out {s}"},
                    "error": error,
                    "metadata": {"model": model, "user": user} if kind == "llm" else {"tool": "search"},
                    "metrics": metrics,
                    "span_attributes": {"name": "completion" if kind == "llm" else "search", "type": kind},
                }
            )
    if big_bytes:
        filler = "lorem ipsum dolor sit amet " * (big_bytes // 27 + 1)
        half = len(filler) // 2
        events.append(
            {
                "id": "big-span",
                "span_id": "big-span",
                "root_span_id": "trace-000",
                "span_parents": ["trace-000"],
                "created": now.isoformat(),
                "input": {"document": filler[:half] + BIG_SECRET + filler[half:]},
                "span_attributes": {"name": "retrieve", "type": "function"},
            }
        )
    return events


def build_logs(n_traces: int = 60, seed: int = 7, *, big_bytes: int = 0) -> pl.DataFrame:
    events = build_events(n_traces, seed, big_bytes=big_bytes)
    return frame_from_events(list(enumerate(events, start=1)), LoadReport())
