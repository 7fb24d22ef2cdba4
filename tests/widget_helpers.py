"""A scripted model for widget, magic and browser tests: real Loop, real tools, no network.

The first turn after a question streams a sentence and calls tools chosen by keywords; the next
turn ends with a short summary. ``gate`` (a threading.Event) holds a turn to test interrupts.
"""

from __future__ import annotations

import threading
from typing import Any

from loop_jupyter.agent.models import AssistantTurn, ToolCall, Usage

#: keyword in the question -> tool calls (name, input)
PLANS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "dataset": [("create_dataset", {"name": "slow_traces", "where": "duration > 5", "limit": 20})],
    "slow": [("slow_requests", {"threshold_s": 5.0, "limit": 20}), ("chart", {"kind": "latency_histogram"})],
    "filter": [("run_sql", {"query": "SELECT root_span_id FROM traces WHERE has_error LIMIT 5"})],
}


class ScriptedClient:
    name = "scripted"

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.gate = gate
        self.calls = 0

    def complete(self, system: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]], stream_callback=None):
        self.calls += 1
        last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
        question = str(messages[last_user]["content"]).lower()
        after = messages[last_user + 1 :]
        called = [c["name"] for m in after if m["role"] == "assistant" for c in m.get("tool_calls", [])]
        plan = next((calls for key, calls in PLANS.items() if key in question), [])
        known = {t["name"] for t in tools}
        if not after:
            if self.gate is not None and "wait" in question:
                self.gate.wait(30)
            for piece in ["Looking ", "at the ", "logs…"]:
                if stream_callback:
                    stream_callback(piece)
            # Like a model sent the small tool set: it enables the tools it lacks with search_tools.
            missing = [n for n, _ in plan if n not in known]
            if missing and "search_tools" in known:
                search = ToolCall(f"c{self.calls}_s", "search_tools", {"query": " ".join(missing)})
                return AssistantTurn("Looking at the logs…", [search], Usage(10, 5), "tool_use")
        if not after or called == ["search_tools"]:
            tool_calls = [ToolCall(f"c{self.calls}_{i}", n, dict(a)) for i, (n, a) in enumerate(plan) if n in known]
            text = "Looking at the logs…" if not after else ""
            return AssistantTurn(text, tool_calls, Usage(10, 5), "tool_use" if tool_calls else "end_turn")
        text = "Here is what I found."
        if stream_callback:
            stream_callback(text)
        return AssistantTurn(text, [], Usage(10, 5), "end_turn")


def make_loop(logs, **kwargs: Any):
    from loop_jupyter.agent.session import Loop

    return Loop(logs, client=kwargs.pop("client", None) or ScriptedClient(), **kwargs)
