"""The Anthropic chat client (Messages API, streamed, with prompt caching). Re-exported by :mod:`.models`."""

from __future__ import annotations

from typing import Any

from . import model_policy as policy
from .model_config import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_S, MAX_OUTPUT_TOKENS
from .model_errors import _sdk_errors
from .model_turn import AssistantTurn, StreamCallback, ToolCall, Usage, _parse_arguments

_EPHEMERAL = {"type": "ephemeral"}


class AnthropicClient:
    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        name: str | None = None,
    ) -> None:
        import anthropic

        self.name = name or model
        self.model = model
        self.max_retries = max_retries
        # An explicit base URL and key (ANTHROPIC_BASE_URL honoured here, deliberately): the SDK
        # reads no environment of its own; no redirects, no request off that origin.
        url = policy.provider_base_url("anthropic", base_url)
        self._client = anthropic.Anthropic(
            api_key=policy.provider_key("anthropic", api_key),
            base_url=url,
            max_retries=max_retries,
            timeout=timeout_s,
            http_client=policy.http_client(anthropic, url),
        )

    @staticmethod
    def to_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for message in messages:
            if message["role"] == "user":
                out.append({"role": "user", "content": message["content"]})
            elif message["role"] == "assistant":
                blocks: list[dict[str, Any]] = []
                if message.get("content"):
                    blocks.append({"type": "text", "text": message["content"]})
                for call in message.get("tool_calls", []):
                    blocks.append({"type": "tool_use", "id": call["id"], "name": call["name"], "input": call["input"]})
                out.append({"role": "assistant", "content": blocks or [{"type": "text", "text": "(no answer)"}]})
            elif message["role"] == "tool":
                blocks = [
                    {
                        "type": "tool_result",
                        "tool_use_id": r["id"],
                        "content": r["content"],
                        **({"is_error": True} if r.get("is_error") else {}),
                    }
                    for r in message["results"]
                ]
                out.append({"role": "user", "content": blocks})
        # Consecutive user entries (tool results, then a new question after an interruption) merge
        # into one message, as the Messages API expects alternating roles.
        merged: list[dict[str, Any]] = []
        for entry in out:
            if merged and entry["role"] == "user" and merged[-1]["role"] == "user":
                previous = merged[-1]["content"]
                blocks = previous if isinstance(previous, list) else [{"type": "text", "text": previous}]
                current = entry["content"]
                blocks = blocks + (current if isinstance(current, list) else [{"type": "text", "text": current}])
                merged[-1] = {"role": "user", "content": blocks}
            else:
                merged.append(entry)
        return merged

    def complete(
        self,
        system: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        stream_callback: StreamCallback | None = None,
    ) -> AssistantTurn:
        import anthropic

        # Prompt caching: the tools and system prompt (the same all session, ~5k tokens) and the
        # conversation so far are marked as cache prefixes, so each later turn of the agent loop
        # reads them from the cache (billed at a tenth) instead of paying for them again.
        api_messages = self.to_messages(messages)
        if api_messages:
            last = api_messages[-1]
            content = last["content"]
            blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
            api_messages[-1] = {**last, "content": [*blocks[:-1], {**blocks[-1], "cache_control": _EPHEMERAL}]}
        kwargs: dict[str, Any] = {
            "model": self.model,
            "max_tokens": MAX_OUTPUT_TOKENS,
            "system": [{"type": "text", "text": system, "cache_control": _EPHEMERAL}],
            "messages": api_messages,
        }
        if tools:
            kwargs["tools"] = tools
        # The raw event stream, assembled here: the SDK's stream helper parses tool arguments as
        # they arrive and ends the whole turn on JSON it cannot parse, where the model should get
        # a tool error it can fix (as on the OpenAI path). The raw JSON text is kept per block.
        blocks: dict[int, dict[str, Any]] = {}
        turn = AssistantTurn()
        input_tokens = output_tokens = cache_read = cache_creation = 0
        with _sdk_errors(
            anthropic.APIError, "anthropic", self.max_retries, "Anthropic", model=self.model, malformed=True
        ):
            for event in self._client.messages.create(**kwargs, stream=True):
                if event.type == "message_start":
                    usage = event.message.usage
                    # Cached prefix tokens are reported apart from input_tokens; all of them were sent.
                    input_tokens = (
                        (usage.input_tokens or 0)
                        + (getattr(usage, "cache_read_input_tokens", None) or 0)
                        + (getattr(usage, "cache_creation_input_tokens", None) or 0)
                    )
                    cache_read = getattr(usage, "cache_read_input_tokens", None) or 0
                    cache_creation = getattr(usage, "cache_creation_input_tokens", None) or 0
                elif event.type == "content_block_start":
                    block = event.content_block
                    if block.type == "tool_use":
                        blocks[event.index] = {"type": "tool_use", "id": block.id, "name": block.name, "json": ""}
                    elif block.type == "text":
                        blocks[event.index] = {"type": "text", "text": block.text or ""}
                elif event.type == "content_block_delta":
                    entry = blocks.get(event.index)
                    if entry is None:
                        continue
                    if event.delta.type == "text_delta":
                        entry["text"] += event.delta.text
                        if stream_callback:
                            stream_callback(event.delta.text)
                    elif event.delta.type == "input_json_delta":
                        entry["json"] += event.delta.partial_json
                elif event.type == "message_delta":
                    turn.stop_reason = event.delta.stop_reason or turn.stop_reason
                    output_tokens = event.usage.output_tokens or output_tokens
        texts = []
        for _index, entry in sorted(blocks.items()):
            if entry["type"] == "text":
                texts.append(entry["text"])
            else:
                arguments, error = _parse_arguments(entry["json"])
                turn.tool_calls.append(ToolCall(entry["id"], entry["name"], arguments, error))
        turn.text = "".join(texts)
        turn.usage = Usage(input_tokens, output_tokens, cache_read, cache_creation)
        return turn
