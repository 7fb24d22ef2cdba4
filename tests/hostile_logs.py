"""Logs written by an attacker: script payloads in every text field a span has.

Each payload, if it ever runs in a page, sets ``window.__pwned`` (the iframe one sets it on its
parent). Tests render these logs through every surface and assert the flag stays unset and the
payload shows as text. Braintrust JSONL, one span per line (docs/schema.md).
"""

from __future__ import annotations

import json
from pathlib import Path

FLAG = "__pwned"

#: Each sets window.__pwned to its own number, so a failure says which one ran.
PAYLOADS = [
    '<img src=x onerror="window.__pwned=1">',
    "<svg onload=window.__pwned=2>",
    "<script>window.__pwned=3</script>",
    "[x](javascript:window.__pwned=4)",
    '"><iframe srcdoc="<script>parent.__pwned=5</script>">',
    "<details open ontoggle=window.__pwned=6>",
    '<a href="javascript:window.__pwned=7">click me</a>',
]


def hostile(i: int, label: str) -> str:
    """A label and two payloads (which two depends on i, so every payload lands in every field)."""
    return f"{label} {PAYLOADS[i % len(PAYLOADS)]} {PAYLOADS[(i + 1) % len(PAYLOADS)]}"


def hostile_spans(n_traces: int = 14) -> list[dict]:
    """Traces of three spans (agent → llm → tool) with payloads in input, output, error, name,
    metadata (user, user_id, model, free keys), tags, score names, tool names and arguments."""
    spans: list[dict] = []
    t0 = 1763600000.0
    for t in range(n_traces):
        root = f"trace{t}"
        start = t0 + t * 3600
        p = lambda k, label, t=t: hostile(t + k, label)  # noqa: E731 - short and local
        spans += [
            {
                "id": root,
                "span_id": root,
                "root_span_id": root,
                "span_parents": [],
                "created": start,
                "input": {"messages": [{"role": "user", "content": p(0, "ask")}]},
                "output": {"role": "assistant", "content": p(1, "answer")},
                "error": p(2, "RateLimitError:") if t % 3 == 0 else None,
                "tags": [p(0, "tag"), "production"],
                "scores": {p(0, "score"): 0.3, "Factuality": round(0.2 + 0.05 * t, 2)},
                "metadata": {
                    "user": p(0, "user"),
                    "user_id": p(3, "uid"),
                    "model": p(0, "model"),
                    p(5, "key"): p(4, "meta"),
                },
                "metrics": {"start": start, "end": start + 2 + t, "tokens": 100 + t},
                "span_attributes": {"name": p(0, "agent"), "type": "task"},
            },
            {
                "id": f"{root}-llm",
                "span_id": f"{root}-llm",
                "root_span_id": root,
                "span_parents": [root],
                "created": start + 0.1,
                "input": {
                    "messages": [{"role": "system", "content": p(1, "sys")}, {"role": "user", "content": p(2, "q")}]
                },
                "output": {
                    "role": "assistant",
                    "content": p(3, "llm-out"),
                    "tool_calls": [{"function": {"name": p(0, "fn"), "arguments": json.dumps({"q": p(0, "arg")})}}],
                },
                "metadata": {"model": p(1, "gpt"), "user": p(0, "user")},
                "metrics": {
                    "start": start + 0.1,
                    "end": start + 1.5,
                    "prompt_tokens": 50,
                    "completion_tokens": 20,
                    "tokens": 70,
                },
                "span_attributes": {"name": p(2, "llm"), "type": "llm"},
            },
            {
                "id": f"{root}-tool",
                "span_id": f"{root}-tool",
                "root_span_id": root,
                "span_parents": [f"{root}-llm"],
                "created": start + 1.6,
                "input": {"query": p(4, "tool-in")},
                "output": p(0, "tool-out"),
                "error": p(1, "ToolError:") if t % 2 == 0 else None,
                "metrics": {"start": start + 1.6, "end": start + 1.9 + t},
                "span_attributes": {"name": p(3, "tool"), "type": "tool"},
            },
        ]
    return spans


def write_hostile_logs(path: Path, n_traces: int = 14) -> Path:
    path.write_text("".join(json.dumps(s) + "\n" for s in hostile_spans(n_traces)))
    return path
