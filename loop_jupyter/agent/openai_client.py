"""The OpenAI chat client, also for OpenAI-compatible servers (Chat Completions, streamed).

Re-exported by :mod:`.models`.
"""

from __future__ import annotations

import json
from typing import Any

from . import model_policy as policy
from .model_config import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_S
from .model_errors import _sdk_errors
from .model_turn import AssistantTurn, StreamCallback, ToolCall, Usage, _parse_arguments


class OpenAIClient:
    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        name: str | None = None,
        compatible: bool = False,
    ) -> None:
        import openai

        self.name = name or model
        self.model = model
        self.max_retries = max_retries
        # A key goes to its own provider only: OPENAI_API_KEY to OpenAI, and to a compatible server
        # LOOP_JUPYTER_COMPATIBLE_API_KEY or nothing (the SDK insists on a key: a placeholder that
        # the request guard removes). OPENAI_BASE_URL is honoured for OpenAI models only.
        self.provider = "openai-compatible" if compatible else "openai"
        url = policy.provider_base_url(self.provider, base_url)
        key = policy.provider_key(self.provider, api_key)
        self._client = openai.OpenAI(
            api_key=key or (policy.NO_KEY if compatible else None),
            base_url=url,
            max_retries=max_retries,
            timeout=timeout_s,
            http_client=policy.http_client(openai, url, compatible=compatible, key=key),
        )

    @staticmethod
    def to_messages(system: str, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [{"role": "system", "content": system}]
        for message in messages:
            if message["role"] == "user":
                out.append({"role": "user", "content": message["content"]})
            elif message["role"] == "assistant":
                entry: dict[str, Any] = {"role": "assistant", "content": message.get("content") or None}
                if message.get("tool_calls"):
                    entry["tool_calls"] = [
                        {
                            "id": c["id"],
                            "type": "function",
                            "function": {"name": c["name"], "arguments": json.dumps(c["input"])},
                        }
                        for c in message["tool_calls"]
                    ]
                out.append(entry)
            elif message["role"] == "tool":
                for r in message["results"]:
                    out.append({"role": "tool", "tool_call_id": r["id"], "content": r["content"]})
        return out

    @staticmethod
    def to_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {
                "type": "function",
                "function": {"name": t["name"], "description": t["description"], "parameters": t["input_schema"]},
            }
            for t in tools
        ]

    def complete(
        self,
        system: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        stream_callback: StreamCallback | None = None,
    ) -> AssistantTurn:
        import openai

        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": self.to_messages(system, messages),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if tools:
            kwargs["tools"] = self.to_tools(tools)
        turn = AssistantTurn()
        calls: dict[int, dict[str, Any]] = {}
        texts: list[str] = []
        label = "OpenAI" if self.provider == "openai" else "the model server"
        with _sdk_errors(openai.APIError, self.provider, self.max_retries, label, model=self.model):
            for chunk in self._client.chat.completions.create(**kwargs):
                if getattr(chunk, "usage", None):
                    # prompt_tokens counts the cached prefix too; its share is in prompt_tokens_details.
                    details = getattr(chunk.usage, "prompt_tokens_details", None)
                    cached = (getattr(details, "cached_tokens", None) or 0) if details is not None else 0
                    turn.usage = Usage(chunk.usage.prompt_tokens or 0, chunk.usage.completion_tokens or 0, cached)
                for choice in chunk.choices or []:
                    delta = choice.delta
                    if delta is not None and delta.content:
                        texts.append(delta.content)
                        if stream_callback:
                            stream_callback(delta.content)
                    for piece in (delta.tool_calls if delta is not None else None) or []:
                        slot = calls.setdefault(piece.index, {"id": "", "name": "", "arguments": ""})
                        if piece.id:
                            slot["id"] = piece.id
                        if piece.function is not None:
                            slot["name"] += piece.function.name or ""
                            slot["arguments"] += piece.function.arguments or ""
                    if choice.finish_reason:
                        turn.stop_reason = choice.finish_reason
        turn.text = "".join(texts)
        for index in sorted(calls):
            slot = calls[index]
            arguments, error = _parse_arguments(slot["arguments"])
            turn.tool_calls.append(ToolCall(slot["id"] or f"call_{index}", slot["name"], arguments, error))
        return turn
