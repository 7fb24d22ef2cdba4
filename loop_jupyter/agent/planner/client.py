"""The planner behind the chat-client interface."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ...tools import ToolContext
from ..models import AssistantTurn, StreamCallback, ToolCall
from .planning import plan
from .summary import summarize


class OfflineClient:
    """The planner behind the chat-client interface: first turn plans, second turn summarises."""

    name = "offline"

    def __init__(self, context: Callable[[], tuple[ToolContext, str | None]]) -> None:
        self._context = context
        self._notes: list[str] = []

    def complete(
        self,
        system: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        stream_callback: StreamCallback | None = None,
    ) -> AssistantTurn:
        last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
        question = messages[last_user]["content"].split("\n\n")[-1]
        after = messages[last_user + 1 :]
        if not after:
            ctx, scope = self._context()
            planned = plan(question, ctx, scope=scope)
            self._notes = planned.notes
            if not planned.tool_calls:
                return self._say(planned.message, stream_callback)
            calls = [ToolCall(f"offline_{i}", c["name"], c["input"]) for i, c in enumerate(planned.tool_calls)]
            return AssistantTurn(tool_calls=calls, stop_reason="tool_use")
        calls = [c for m in after if m["role"] == "assistant" for c in m.get("tool_calls", [])]
        results = [r for m in after if m["role"] == "tool" for r in m["results"]]
        return self._say(summarize(question, calls, results, self._notes), stream_callback)

    @staticmethod
    def _say(text: str, stream_callback: StreamCallback | None) -> AssistantTurn:
        if stream_callback:
            for piece in re.findall(r"[^\n]*\n|[^\n]+", text):
                stream_callback(piece)
        return AssistantTurn(text=text, stop_reason="end_turn")
