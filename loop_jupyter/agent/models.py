"""Models: display names → API ids in one table, the admin allow-list, and chat clients.

A chat client turns the provider-neutral conversation into one assistant turn::

    client.complete(system, messages, tools, stream_callback) -> AssistantTurn(text, tool_calls, usage)

``messages`` are neutral dicts: ``{"role": "user", "content": str}``,
``{"role": "assistant", "content": str, "tool_calls": [{"id", "name", "input"}]}`` and
``{"role": "tool", "results": [{"id", "name", "content", "is_error"}]}``. ``tools`` are
``ToolSpec.json_schema()`` dicts. ``stream_callback(text)`` receives text deltas as they arrive.

Configuration (all optional):

- ``LOOP_JUPYTER_MODELS``: comma-separated allow-list (the admin's choice) of display names and
  ``openai-compatible:<model>@<url>`` / ``openai-compatible:*@<url>`` entries; it binds every model
  spec, compatible servers included (see :mod:`.model_policy`).
- a TOML file at ``LOOP_JUPYTER_CONFIG`` or the platform's config folder (``loop_jupyter.paths``)::

      models = ["claude-4.5-sonnet", "openai-compatible:llama3@http://127.0.0.1:11434/v1"]
      default_model = "claude-4.5-sonnet"
      max_retries = 4
      timeout_s = 120
      [model_ids]            # override display name -> API id
      "claude-4.5-sonnet" = "claude-sonnet-4-5-20250929"

- ``ANTHROPIC_BASE_URL`` / ``OPENAI_BASE_URL`` (each for its own provider only) or ``base_url=``
  arguments; ``LOOP_JUPYTER_COMPATIBLE_API_KEY`` is the one key an OpenAI-compatible server gets.
  Keys, base URLs and redirects: :mod:`.model_policy`.

Retries: the SDKs retry 408/409/429/5xx (529 included) and connection errors, honouring
``retry-after``, ``max_retries`` times; what still fails becomes a :class:`ModelError` with a plain
message.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from . import model_policy as policy

Provider = Literal["anthropic", "openai", "openai-compatible", "offline"]

#: Display name -> (provider, API model id). The one table; override entries here or in the config.
MODEL_TABLE: dict[str, tuple[Provider, str]] = {
    "claude-4.5-sonnet": ("anthropic", "claude-sonnet-4-5"),
    "claude-4.5-haiku": ("anthropic", "claude-haiku-4-5"),
    "claude-4.5-opus": ("anthropic", "claude-opus-4-5"),
    "claude-4-sonnet": ("anthropic", "claude-sonnet-4-0"),
    "claude-4.1-opus": ("anthropic", "claude-opus-4-1"),
    # Newer models the SDKs list, so a retired default has a successor to pick by name.
    "claude-4.6-sonnet": ("anthropic", "claude-sonnet-4-6"),
    "claude-4.6-opus": ("anthropic", "claude-opus-4-6"),
    "claude-5-sonnet": ("anthropic", "claude-sonnet-5"),
    "claude-5-opus": ("anthropic", "claude-opus-5"),
    "claude-5.5-sonnet": ("anthropic", "claude-sonnet-5-5"),
    "claude-5.5-opus": ("anthropic", "claude-opus-5-5"),
    "claude-5.5-haiku": ("anthropic", "claude-haiku-5-5"),
    "gpt-5.1": ("openai", "gpt-5.1"),
    "gpt-5.2": ("openai", "gpt-5.2"),
    "gpt-5.4": ("openai", "gpt-5.4"),
    "gpt-5.5": ("openai", "gpt-5.5"),
    "offline": ("offline", "offline"),
}
RECOMMENDED = "claude-4.5-sonnet"
OFFLINE = "offline"
DEFAULT_MAX_RETRIES = 3
DEFAULT_TIMEOUT_S = 120.0
MAX_OUTPUT_TOKENS = 4096
_EPHEMERAL = {"type": "ephemeral"}


class ModelError(RuntimeError):
    """A model API failure after retries, with a message fit for the chat."""

    def __init__(self, message: str, *, kind: str = "api", status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


# -- configuration -----------------------------------------------------------------------------------
def config_path() -> Path:
    from ..paths import config_path as platform_config_path

    return platform_config_path()


def load_config() -> dict[str, Any]:
    """The TOML config, or {} when there is none."""
    path = config_path()
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        return tomllib.load(handle)


def model_table() -> dict[str, tuple[Provider, str]]:
    table = dict(MODEL_TABLE)
    for name, api_id in (load_config().get("model_ids") or {}).items():
        provider = table.get(name, ("openai-compatible", api_id))[0]
        table[name] = (provider, str(api_id))
    return table


def allow_list() -> list[str] | None:
    """The admin's allow-list (env wins over the config file), or None when unrestricted."""
    env = os.environ.get("LOOP_JUPYTER_MODELS")
    if env is not None and env.strip():
        return [name.strip() for name in env.split(",") if name.strip()]
    models = load_config().get("models")
    return [str(m) for m in models] if models else None


def _allow_list_source() -> str:
    env = os.environ.get("LOOP_JUPYTER_MODELS")
    return "LOOP_JUPYTER_MODELS" if env is not None and env.strip() else f"models in {config_path()}"


def available_models() -> list[str]:
    """Model specs the user may pick: the allow-list (or every known model), ``offline`` always last.
    Wildcard entries (``openai-compatible:*@<url>``) allow specs but are no pickable name."""
    allowed = allow_list()
    names = list(model_table()) if allowed is None else policy.pickable(allowed)
    names = [n for n in names if n != OFFLINE]
    return [*names, OFFLINE]


def is_allowed(name: str, *, base_url: str | None = None) -> bool:
    """Whether the admin's allow-list admits ``name`` (a display name or a compatible spec)."""
    allowed = allow_list()
    if name == OFFLINE or allowed is None:
        return True
    try:
        return policy.allowed_by(allowed, name, base_url=base_url)
    except policy.PolicyError:
        return False


def default_model() -> str:
    """The config's default, else the recommended model when its key is set, else offline."""
    configured = load_config().get("default_model")
    if configured and is_allowed(configured):
        return str(configured)
    candidates = [n for n in available_models() if n != OFFLINE]
    if os.environ.get("ANTHROPIC_API_KEY"):
        for name in [RECOMMENDED, *candidates]:
            if is_allowed(name) and model_table().get(name, ("",))[0] == "anthropic":
                return name
    if os.environ.get("OPENAI_API_KEY"):
        for name in candidates:
            if model_table().get(name, ("",))[0] == "openai":
                return name
    return OFFLINE


@dataclass(frozen=True)
class ModelRef:
    name: str
    provider: Provider
    api_id: str
    base_url: str | None = None


def resolve(name: str | None, *, base_url: str | None = None) -> ModelRef:
    """A display name (or ``openai-compatible:<model>@<url>``) → provider, API id and base URL."""
    name = name or default_model()
    try:
        if base_url is not None:
            policy.check_base_url(base_url)
        if name.startswith(policy.COMPATIBLE_PREFIX):
            spec = policy.parse_compatible(name, base_url=base_url)
            if not is_allowed(name, base_url=base_url):
                raise policy.refusal(name, allow_list() or [], _allow_list_source())
            return ModelRef(name, "openai-compatible", spec.model, spec.url)
    except policy.PolicyError as exc:
        raise ModelError(str(exc), kind=exc.kind) from None
    table = model_table()
    if name not in table:
        raise ModelError(f"unknown model {name!r}; choose one of: {', '.join(available_models())}", kind="config")
    if not is_allowed(name):
        raise ModelError(str(policy.refusal(name, allow_list() or [], _allow_list_source())), kind="refused")
    provider, api_id = table[name]
    return ModelRef(name, provider, api_id, base_url)


# -- the neutral turn ---------------------------------------------------------------------------------
@dataclass
class ToolCall:
    id: str
    name: str
    input: dict[str, Any]
    #: Set when the model's arguments were not a JSON object; the loop reports it back to the model.
    error: str | None = None


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    #: Of input_tokens, how many the provider read from its prompt cache.
    cache_read_tokens: int = 0


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


def _describe_error(exc: Exception, provider: str, retries: int, model: str = "") -> ModelError:
    """A plain message for an SDK exception (after the SDK's own retries)."""
    if isinstance(exc.__cause__, policy.PolicyError):
        return ModelError(str(exc.__cause__), kind=exc.__cause__.kind)
    status = getattr(exc, "status_code", None)
    after = f" after {retries} retr{'y' if retries == 1 else 'ies'}" if retries else ""
    label = {"anthropic": "Anthropic", "openai": "OpenAI"}.get(provider, "The model server")
    name = type(exc).__name__
    if status == 429:
        return ModelError(f"{label} rate limit (429){after}: try again shortly.", kind="rate_limit", status=429)
    if status == 529 or "Overloaded" in name:
        return ModelError(f"{label} is overloaded (529){after}: try again shortly.", kind="overloaded", status=529)
    if status in (401, 403):
        return ModelError(f"{label} refused the API key ({status}): check it.", kind="auth", status=status)
    if status == 404 and model:
        # A retired or misspelled model id: say which id, and where the display name maps to it.
        return ModelError(
            f"{label} does not serve the model {model!r} (404): it may be retired or not enabled for this key. "
            "Choose another model (`--model NAME`, `Loop(logs, model=...)`), or map the display name to a "
            "current id under [model_ids] in the config file.",
            kind="model",
            status=404,
        )
    if status is not None and status >= 500:
        return ModelError(f"{label} server error ({status}){after}.", kind="server", status=status)
    if "Timeout" in name:
        return ModelError(f"{label} did not answer in time{after}.", kind="timeout")
    if "Connection" in name:
        hint = " (no network here? `--model offline` or `Loop(logs, model='offline')` answers without one)"
        return ModelError(f"Lost the connection to {label}{after}: {exc}{hint}", kind="connection")
    message = getattr(exc, "message", None) or str(exc)
    return ModelError(f"{label} error{f' ({status})' if status else ''}: {message}", kind="api", status=status)


def _transport_error(exc: Exception, label: str) -> Exception:
    """A dropped stream surfaces as the HTTP library's own error, not the SDK's: name it plainly."""
    module = type(exc).__module__
    if module.startswith(("httpx", "httpcore")) or isinstance(exc, OSError):
        return ModelError(
            f"The connection to {label} dropped mid-answer ({type(exc).__name__}); ask again.", kind="connection"
        )
    return exc


@contextmanager
def _sdk_errors(
    api_error: type[Exception], provider: str, retries: int, label: str, *, model: str = "", malformed: bool = False
) -> Iterator[None]:
    """Turn what a streamed request raises into a ModelError: the SDK's own errors, then (with
    ``malformed``) a response the SDK could not parse, then a dropped transport."""
    try:
        yield
    except api_error as exc:
        raise _describe_error(exc, provider, retries, model) from exc
    except ValueError as exc:
        if not malformed:
            raise _transport_error(exc, label) from exc
        raise ModelError(f"{label} sent a malformed response: {exc}", kind="malformed") from exc
    except Exception as exc:
        raise _transport_error(exc, label) from exc


# -- Anthropic -----------------------------------------------------------------------------------------
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
        input_tokens = output_tokens = cache_read = 0
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
        turn.usage = Usage(input_tokens, output_tokens, cache_read)
        return turn


# -- OpenAI and OpenAI-compatible servers ---------------------------------------------------------------
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
                    turn.usage = Usage(chunk.usage.prompt_tokens or 0, chunk.usage.completion_tokens or 0)
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


def make_client(
    model: str | None,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    max_retries: int | None = None,
    timeout_s: float | None = None,
) -> ChatClient | None:
    """The chat client for a model name; None for ``offline`` (the session uses the planner)."""
    ref = resolve(model, base_url=base_url)
    config = load_config()
    retries = int(max_retries if max_retries is not None else config.get("max_retries", DEFAULT_MAX_RETRIES))
    timeout = float(timeout_s if timeout_s is not None else config.get("timeout_s", DEFAULT_TIMEOUT_S))
    common = {"api_key": api_key, "base_url": ref.base_url, "max_retries": retries, "timeout_s": timeout}
    if ref.provider == "offline":
        return None
    try:
        if ref.provider == "anthropic":
            return AnthropicClient(ref.api_id, name=ref.name, **common)
        return OpenAIClient(ref.api_id, name=ref.name, compatible=ref.provider == "openai-compatible", **common)
    except policy.PolicyError as exc:
        raise ModelError(f"{ref.name!r}: {exc}", kind=exc.kind) from None


__all__ = [
    "MODEL_TABLE",
    "OFFLINE",
    "RECOMMENDED",
    "AnthropicClient",
    "AssistantTurn",
    "ChatClient",
    "ModelError",
    "ModelRef",
    "OpenAIClient",
    "ToolCall",
    "Usage",
    "allow_list",
    "available_models",
    "default_model",
    "make_client",
    "resolve",
]
