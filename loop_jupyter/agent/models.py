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

Layout: the name table, config and :func:`resolve` in :mod:`.model_config`; errors and the SDK
error helpers in :mod:`.model_errors`; the neutral turn in :mod:`.model_turn`; the clients in
:mod:`.anthropic_client` and :mod:`.openai_client`. This module re-exports them all and builds
a client (:func:`make_client`).
"""

from __future__ import annotations

from . import model_policy as policy
from .anthropic_client import AnthropicClient
from .model_config import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT_S,
    MAX_OUTPUT_TOKENS,
    MODEL_TABLE,
    OFFLINE,
    RECOMMENDED,
    ModelRef,
    Provider,
    allow_list,
    available_models,
    config_path,
    default_model,
    is_allowed,
    load_config,
    model_table,
    resolve,
)
from .model_errors import ModelError
from .model_turn import AssistantTurn, ChatClient, StreamCallback, ToolCall, Usage
from .openai_client import OpenAIClient


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
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT_S",
    "MAX_OUTPUT_TOKENS",
    "MODEL_TABLE",
    "OFFLINE",
    "RECOMMENDED",
    "AnthropicClient",
    "AssistantTurn",
    "ChatClient",
    "ModelError",
    "ModelRef",
    "OpenAIClient",
    "Provider",
    "StreamCallback",
    "ToolCall",
    "Usage",
    "allow_list",
    "available_models",
    "config_path",
    "default_model",
    "is_allowed",
    "load_config",
    "make_client",
    "model_table",
    "resolve",
]
