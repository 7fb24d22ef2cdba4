"""The planner behind the chat-client interface."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ...tools import ToolContext
from ..models import AssistantTurn, StreamCallback, ToolCall
from .extraction import Plan
from .facts import facts_for
from .followups import read, replay
from .planning import plan
from .state import turns_from_history, turns_from_messages
from .summary import summarize


class OfflineClient:
    """The planner behind the chat-client interface: first turn plans, second turn summarises.

    ``history`` (the session's messages, with the artifacts each answer produced) gives the
    conversation's state, so follow-ups read against the earlier questions and their results; without
    it the provider-neutral messages stand in (the earlier calls, no artifacts)."""

    name = "offline"

    def __init__(
        self,
        context: Callable[[], tuple[ToolContext, str | None]],
        history: Callable[[], list[Any]] | None = None,
    ) -> None:
        self._context = context
        self._history = history
        self._notes: list[str] = []
        self._read_as = ""

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
            planned = self._plan(question, messages, ctx, scope)
            self._notes = planned.notes
            if not planned.tool_calls:
                return self._say(planned.message, stream_callback)
            calls = [ToolCall(f"offline_{i}", c["name"], c["input"]) for i, c in enumerate(planned.tool_calls)]
            return AssistantTurn(tool_calls=calls, stop_reason="tool_use")
        calls = [c for m in after if m["role"] == "assistant" for c in m.get("tool_calls", [])]
        results = [r for m in after if m["role"] == "tool" for r in m["results"]]
        ctx = self._context()[0]
        text = summarize(
            question, calls, results, self._notes, ctx=ctx, artifacts=self._artifacts(), read_as=self._read_as
        )
        return self._say(text, stream_callback)

    def _artifacts(self) -> list[Any]:
        """The artifacts of this question's tool results (from the session's messages)."""
        if self._history is None:
            return []
        messages = list(self._history())
        start = max((i for i, m in enumerate(messages) if getattr(m, "kind", "") == "user"), default=-1)
        return [a for m in messages[start + 1 :] if getattr(m, "kind", "") == "tool_result" for a in m.artifacts]

    def _plan(self, question: str, messages: list[dict[str, Any]], ctx: ToolContext, scope: str | None) -> Plan:
        """The question read against the conversation (a follow-up of the earlier ones), then planned."""
        self._read_as = ""
        turns = turns_from_history(self._history()) if self._history is not None else turns_from_messages(messages)
        if not turns:
            return plan(question, ctx, scope=scope)
        facts = facts_for(ctx)
        reading = read(question, replay(turns, facts, ctx), facts, ctx)
        if reading.message:
            return Plan(message=reading.message)
        planned = (
            Plan(reading.calls) if reading.calls else plan(reading.question, ctx, scope=scope, carry=reading.carry)
        )
        if planned.tool_calls:
            self._read_as = reading.read_as
        elif reading.read_as:
            planned.message = f"{reading.read_as}. {planned.message}"
        return planned

    @staticmethod
    def _say(text: str, stream_callback: StreamCallback | None) -> AssistantTurn:
        if stream_callback:
            for piece in re.findall(r"[^\n]*\n|[^\n]+", text):
                stream_callback(piece)
        return AssistantTurn(text=text, stop_reason="end_turn")
