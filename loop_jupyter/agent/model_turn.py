"""The neutral turn: what a chat client returns (:class:`AssistantTurn`) and the client protocol.

Re-exported by :mod:`.models`; the message and tool formats are described there.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class ToolCall:
    id: str
    name: str
    input: dict[str, Any]
    #: Set when the model's arguments were not a JSON object; the loop reports it back to the model.
    error: str | None = None


@dataclass
class Usage:
    """What the provider reported for one model request. ``input_tokens`` counts every input token
    sent (cached ones included); the cache fields say how many of them were read from, or written
    to, the provider's prompt cache (0 when the provider reports nothing)."""

    input_tokens: int = 0
    output_tokens: int = 0
    #: Of input_tokens, how many the provider read from its prompt cache.
    cache_read_tokens: int = 0
    #: Of input_tokens, how many the provider wrote to its prompt cache (Anthropic reports it).
    cache_creation_tokens: int = 0


@dataclass
class AssistantTurn:
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    stop_reason: str = ""


StreamCallback = Callable[[str], None]


class ChatClient(Protocol):
    name: str

    def complete(
        self,
        system: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        stream_callback: StreamCallback | None = None,
    ) -> AssistantTurn: ...


def _parse_arguments(raw: str | dict[str, Any] | None) -> tuple[dict[str, Any], str | None]:
    if isinstance(raw, dict):
        return raw, None
    if raw is None or not str(raw).strip():
        return {}, None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        return {}, f"arguments are not valid JSON ({exc.msg}): {str(raw)[:200]}"
    if not isinstance(value, dict):
        return {}, f"arguments must be a JSON object, got {type(value).__name__}"
    return value, None
