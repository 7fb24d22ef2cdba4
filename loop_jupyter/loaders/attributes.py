"""Map flat span attributes (OTel GenAI ``gen_ai.*``, OpenInference, Vercel AI SDK ``ai.*``) onto
Braintrust event fields.

OTLP spans, Phoenix span frames and the raw OTel attributes inside Langfuse observations all carry
the same flat ``{key: value}`` dicts; this module is the one place that knows what the keys mean.
:func:`map_attributes` returns an :class:`AttributeMapping`; the loaders merge it into the event
they build. Attributes that map to no canonical field are returned in ``metadata`` under their
original key, so nothing is lost, and listed in ``unmapped`` for the load report.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..frame import loads

#: OpenInference span kinds onto Braintrust span types; the original kind is kept in
#: ``metadata.span_kind`` because several kinds share one Braintrust type.
OPENINFERENCE_KINDS: dict[str, str | None] = {
    "LLM": "llm",
    "EMBEDDING": "llm",
    "TOOL": "tool",
    "AGENT": "task",
    "CHAIN": "function",
    "RETRIEVER": "function",
    "RERANKER": "function",
    "GUARDRAIL": "function",
    "PROMPT": "function",
    "EVALUATOR": "score",
    "UNKNOWN": None,
}

#: ``gen_ai.operation.name`` values onto Braintrust span types.
GENAI_OPERATIONS: dict[str, str] = {
    "chat": "llm",
    "text_completion": "llm",
    "generate_content": "llm",
    "embeddings": "llm",
    "execute_tool": "tool",
    "invoke_agent": "task",
    "create_agent": "task",
}

#: ``langsmith.span.kind`` (LangSmith's OTel exporter) onto Braintrust span types.
LANGSMITH_KINDS: dict[str, str] = {
    "llm": "llm",
    "tool": "tool",
    "chain": "function",
    "retriever": "function",
    "prompt": "function",
    "embedding": "llm",
}

# Token counters, first match wins: (attribute keys, metric name).
_TOKEN_KEYS: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        (
            "gen_ai.usage.input_tokens",
            "gen_ai.usage.prompt_tokens",
            "llm.token_count.prompt",
            "ai.usage.inputTokens",
            "ai.usage.promptTokens",
        ),
        "prompt_tokens",
    ),
    (
        (
            "gen_ai.usage.output_tokens",
            "gen_ai.usage.completion_tokens",
            "llm.token_count.completion",
            "ai.usage.outputTokens",
            "ai.usage.completionTokens",
        ),
        "completion_tokens",
    ),
    (("gen_ai.usage.total_tokens", "llm.token_count.total", "ai.usage.totalTokens"), "tokens"),
    (
        (
            "gen_ai.usage.cache_read_input_tokens",
            "gen_ai.usage.cache_read.input_tokens",
            "llm.token_count.prompt_details.cache_read",
            "ai.usage.cachedInputTokens",
        ),
        "prompt_cached_tokens",
    ),
    (
        (
            "gen_ai.usage.cache_creation_input_tokens",
            "gen_ai.usage.cache_creation.input_tokens",
            "llm.token_count.prompt_details.cache_write",
        ),
        "prompt_cache_creation_tokens",
    ),
    (
        (
            "gen_ai.usage.reasoning_tokens",
            "llm.token_count.completion_details.reasoning",
            "ai.usage.reasoningTokens",
        ),
        "completion_reasoning_tokens",
    ),
    (("llm.token_count.prompt_details.audio",), "prompt_audio_tokens"),
    (("llm.token_count.completion_details.audio",), "completion_audio_tokens"),
    (("llm.cost.total", "gen_ai.usage.cost", "operation.cost"), "estimated_cost"),
)

# Single-valued metadata fields, first match wins: (attribute keys, metadata key).
_META_KEYS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("gen_ai.response.model", "llm.model_name", "ai.response.model", "gen_ai.request.model", "ai.model.id"), "model"),
    (("gen_ai.provider.name", "llm.provider", "ai.model.provider", "gen_ai.system", "llm.system"), "provider"),
    (("user.id", "enduser.id"), "user"),
    (("session.id", "gen_ai.conversation.id"), "session_id"),
    (("gen_ai.tool.name", "tool.name", "ai.toolCall.name"), "tool_name"),
    (("gen_ai.tool.call.id", "ai.toolCall.id"), "tool_call_id"),
    (("gen_ai.tool.description", "tool.description"), "tool_description"),
    (("gen_ai.agent.name",), "agent_name"),
    (("gen_ai.response.finish_reasons", "ai.response.finishReason"), "finish_reasons"),
    (("llm.invocation_parameters",), "invocation_parameters"),
)

# Prefixes of indexed attributes that are unflattened into lists: (prefix, metadata/field target).
_INDEXED = {
    "llm.input_messages": "input",
    "gen_ai.prompt": "input",
    "llm.output_messages": "output",
    "gen_ai.completion": "output",
    "retrieval.documents": "documents",
    "reranker.output_documents": "documents",
    "llm.tools": "tools",
}

# Wrapper keys OpenInference puts around each list item (``llm.input_messages.0.message.role``).
_WRAPPERS = ("message", "tool_call", "message_content", "document", "tool", "image")

_INDEX_RE = re.compile(r"^(?P<prefix>.+?)\.(?P<index>\d+)(?:\.(?P<rest>.+))?$")


@dataclass
class AttributeMapping:
    """What a flat attribute dict says about a span, in Braintrust terms.

    ``input`` / ``output`` / ``error`` are :data:`MISSING` when the attributes say nothing about them.
    ``metric_sources`` names the attribute each metric came from, so a loader that has a better
    source for a metric can put the attribute back into metadata instead of dropping it.
    """

    span_type: str | None = None
    input: Any = None
    output: Any = None
    has_input: bool = False
    has_output: bool = False
    error: Any = None
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float | int] = field(default_factory=dict)
    metric_sources: dict[str, tuple[str, Any]] = field(default_factory=dict)
    unmapped: list[str] = field(default_factory=list)


def parse_json_text(value: Any) -> Any:
    """Parse a string that holds a JSON object or array; anything else is returned unchanged."""
    if isinstance(value, str):
        text = value.lstrip()
        if text[:1] in ("{", "["):
            try:
                return loads(value)
            except ValueError:
                return value
    return value


def number(value: Any) -> int | float | None:
    """A number from an attribute value (OTLP ints arrive as strings, Langfuse stringifies all)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                result = float(value)
            except ValueError:
                return None
            return result if result == result and abs(result) != float("inf") else None
    return None


def _to_list(node: Any) -> Any:
    """Turn ``{"0": a, "1": b}`` dicts (from unflattening) into lists and drop wrapper keys."""
    if isinstance(node, dict):
        converted = {key: _to_list(value) for key, value in node.items()}
        if converted and all(key.isdigit() for key in converted):
            items = [converted[key] for key in sorted(converted, key=int)]
            return [_unwrap(item) for item in items]
        return converted
    return node


def _unwrap(item: Any) -> Any:
    if isinstance(item, dict) and len(item) == 1:
        ((key, value),) = item.items()
        if key in _WRAPPERS and isinstance(value, dict):
            return value
    return item


def unflatten(flat: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Nest dotted keys (``0.message.role``) into dicts/lists.

    Returns the nested value and the keys that could not be nested (a key that is both a leaf and
    a prefix of another key); the caller keeps those flat so nothing is lost.
    """
    root: dict[str, Any] = {}
    leftovers: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.split(".")
        node = root
        ok = True
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                ok = False
                break
            node = child
        if not ok or (parts[-1] in node and isinstance(node[parts[-1]], dict)):
            leftovers[key] = value
            continue
        node[parts[-1]] = value
    return _to_list(root), leftovers


def _first(attrs: Mapping[str, Any], keys: tuple[str, ...], used: set[str]) -> tuple[str, Any] | None:
    for key in keys:
        if key in attrs and attrs[key] is not None:
            return key, attrs[key]
    return None


def _span_type(attrs: Mapping[str, Any], mapping: AttributeMapping, used: set[str]) -> None:
    kind = attrs.get("openinference.span.kind")
    if isinstance(kind, str):
        used.add("openinference.span.kind")
        mapping.metadata["span_kind"] = kind
        mapping.span_type = OPENINFERENCE_KINDS.get(kind.upper())
        if mapping.span_type is not None or kind.upper() == "UNKNOWN":
            return
    operation = attrs.get("gen_ai.operation.name")
    if isinstance(operation, str):
        used.add("gen_ai.operation.name")
        mapping.metadata["operation"] = operation
        if operation in GENAI_OPERATIONS:
            mapping.span_type = GENAI_OPERATIONS[operation]
            return
    langsmith = attrs.get("langsmith.span.kind")
    if isinstance(langsmith, str) and langsmith.lower() in LANGSMITH_KINDS:
        mapping.span_type = LANGSMITH_KINDS[langsmith.lower()]
        return
    operation_id = attrs.get("ai.operationId")
    if isinstance(operation_id, str):
        # Vercel AI SDK: ``ai.generateText.doGenerate`` is the provider call, ``ai.toolCall`` a tool,
        # and the outer ``ai.generateText`` wraps them all.
        if operation_id.endswith((".doGenerate", ".doStream")) or operation_id == "ai.embed.doEmbed":
            mapping.span_type = "llm"
        elif operation_id == "ai.toolCall":
            mapping.span_type = "tool"
        else:
            mapping.span_type = "function"
        return
    if mapping.span_type is None and any(key in attrs for key in ("gen_ai.tool.name", "ai.toolCall.name")):
        mapping.span_type = "tool"


def _is_aggregate(attrs: Mapping[str, Any]) -> bool:
    """True for spans whose usage counts sum their children's (Vercel's outer ``ai.generateText``,
    agent invocations): counting them again would double the totals."""
    operation_id = attrs.get("ai.operationId")
    if isinstance(operation_id, str) and operation_id.startswith("ai.") and "." not in operation_id[3:]:
        return operation_id != "ai.toolCall"
    return attrs.get("gen_ai.operation.name") in ("invoke_agent", "create_agent")


def _value_field(attrs: Mapping[str, Any], key: str, used: set[str]) -> tuple[bool, Any]:
    """``input.value`` / ``output.value``, parsed when its mime type (or its text) says JSON."""
    if key + ".value" not in attrs:
        return False, None
    used.add(key + ".value")
    value = attrs[key + ".value"]
    mime = attrs.get(key + ".mime_type")
    if mime is not None:
        used.add(key + ".mime_type")
    if isinstance(value, str) and (mime is None or "json" in str(mime)):
        value = parse_json_text(value)
    return True, value


def _tool_list(value: Any) -> Any:
    """Tool definitions arrive as JSON text, a list of JSON texts, or ``[{json_schema: text}]``."""
    value = parse_json_text(value)
    if isinstance(value, list):
        out = []
        for item in value:
            if isinstance(item, dict) and set(item) == {"json_schema"}:
                item = item["json_schema"]
            out.append(parse_json_text(item))
        return out
    return value


def map_attributes(attrs: Mapping[str, Any]) -> AttributeMapping:
    """Map one span's flat attributes; see the module docstring."""
    mapping = AttributeMapping()
    used: set[str] = set()
    meta = mapping.metadata

    _span_type(attrs, mapping, used)

    for keys, name in _META_KEYS:
        hit = _first(attrs, keys, used)
        if hit is None:
            continue
        key, value = hit
        used.add(key)
        if name in ("invocation_parameters",) or (name == "finish_reasons" and isinstance(value, str)):
            value = parse_json_text(value)
        meta[name] = value
    # When request and response model differ (an alias resolved to a dated model) keep both.
    request_model = attrs.get("gen_ai.request.model")
    if request_model is not None and meta.get("model") != request_model:
        meta["request_model"] = request_model
        used.add("gen_ai.request.model")

    aggregate = _is_aggregate(attrs)
    for keys, name in _TOKEN_KEYS:
        hit = _first(attrs, keys, used)
        if hit is None:
            continue
        key, raw = hit
        value = number(raw)
        if value is None or aggregate:
            continue  # left in metadata under its own key
        used.add(key)
        mapping.metrics[name] = value
        mapping.metric_sources[name] = (key, raw)

    # Indexed attribute families become lists.
    groups: dict[str, dict[str, Any]] = {}
    for key, value in attrs.items():
        match = _INDEX_RE.match(key)
        if match and match["prefix"] in _INDEXED:
            rest = match["rest"]
            groups.setdefault(match["prefix"], {})[match["index"] + ("." + rest if rest else "")] = value
    nested: dict[str, Any] = {}
    for prefix, flat in groups.items():
        value, leftovers = unflatten(flat)
        nested[prefix] = value
        used.update(f"{prefix}.{sub}" for sub in flat if sub not in leftovers)

    # Input: structured messages win; the raw request text is kept in metadata when both exist.
    input_messages = nested.get("llm.input_messages") or nested.get("gen_ai.prompt")
    genai_input = attrs.get("gen_ai.input.messages")
    if genai_input is not None:
        used.add("gen_ai.input.messages")
        input_messages = parse_json_text(genai_input)
    system = attrs.get("gen_ai.system_instructions")
    if system is not None:
        used.add("gen_ai.system_instructions")
        system = parse_json_text(system)
        if isinstance(input_messages, list):
            input_messages = [{"role": "system", "parts": system}, *input_messages]
        else:
            meta["system_instructions"] = system
    has_value, value = _value_field(attrs, "input", used)
    ai_prompt = attrs.get("ai.prompt.messages", attrs.get("ai.prompt"))
    tool_args = _first(attrs, ("gen_ai.tool.call.arguments", "ai.toolCall.args"), used)
    if input_messages is not None:
        mapping.input, mapping.has_input = input_messages, True
        if has_value:
            meta["input.value"] = value
    elif has_value:
        mapping.input, mapping.has_input = value, True
    elif tool_args is not None:
        used.add(tool_args[0])
        mapping.input, mapping.has_input = parse_json_text(tool_args[1]), True
        tool_args = None
    elif ai_prompt is not None:
        key = "ai.prompt.messages" if "ai.prompt.messages" in attrs else "ai.prompt"
        used.add(key)
        mapping.input, mapping.has_input = parse_json_text(ai_prompt), True
    if tool_args is not None:
        used.add(tool_args[0])
        meta["tool_arguments"] = parse_json_text(tool_args[1])

    # Output: output messages, then retrieved documents, then the raw value.
    output_messages = nested.get("llm.output_messages") or nested.get("gen_ai.completion")
    genai_output = attrs.get("gen_ai.output.messages")
    if genai_output is not None:
        used.add("gen_ai.output.messages")
        output_messages = parse_json_text(genai_output)
    documents = nested.get("retrieval.documents") or nested.get("reranker.output_documents")
    has_value, value = _value_field(attrs, "output", used)
    tool_result = _first(attrs, ("gen_ai.tool.call.result", "ai.toolCall.result"), used)
    ai_text = _first(attrs, ("ai.response.object", "ai.response.text"), used)
    structured = output_messages if output_messages is not None else documents
    if structured is not None:
        mapping.output, mapping.has_output = structured, True
        if has_value:
            meta["output.value"] = value
        if output_messages is not None and documents is not None:
            meta["retrieval_documents"] = documents
    elif has_value:
        mapping.output, mapping.has_output = value, True
    elif tool_result is not None:
        used.add(tool_result[0])
        mapping.output, mapping.has_output = parse_json_text(tool_result[1]), True
        tool_result = None
    elif ai_text is not None:
        used.add(ai_text[0])
        mapping.output, mapping.has_output = parse_json_text(ai_text[1]), True
        ai_text = None
    if tool_result is not None:
        used.add(tool_result[0])
        meta["tool_result"] = parse_json_text(tool_result[1])
    tool_calls = attrs.get("ai.response.toolCalls")
    if tool_calls is not None and mapping.span_type == "llm":
        used.add("ai.response.toolCalls")
        meta["tool_calls"] = parse_json_text(tool_calls)

    # Tool definitions offered to the model.
    for key in ("gen_ai.tool.definitions", "ai.prompt.tools", "llm.tools"):
        if key in attrs and "tools" not in meta:
            used.add(key)
            meta["tools"] = _tool_list(attrs[key])
    if "llm.tools" in nested and "tools" not in meta:
        meta["tools"] = _tool_list(nested["llm.tools"])

    # Tags and user metadata.
    tags = attrs.get("tag.tags")
    if tags is not None:
        parsed = parse_json_text(tags)
        if isinstance(parsed, str):
            parsed = [parsed]
        if isinstance(parsed, list) and all(isinstance(tag, str) for tag in parsed):
            used.add("tag.tags")
            mapping.tags = list(parsed)
    user_meta = attrs.get("metadata")
    if user_meta is not None:
        parsed = parse_json_text(user_meta)
        if isinstance(parsed, dict):
            used.add("metadata")
            for key, value in parsed.items():
                meta.setdefault(key, value)

    # Errors: exception attributes, else ``error.type``.
    error = {
        name: attrs[f"exception.{name}"]
        for name in ("type", "message", "stacktrace", "escaped")
        if f"exception.{name}" in attrs
    }
    used.update(f"exception.{name}" for name in error)
    if "error.type" in attrs:
        used.add("error.type")
        error.setdefault("type", attrs["error.type"])
    if error:
        mapping.error = error

    for key, value in attrs.items():
        if key in used:
            continue
        if key in meta:
            # A raw attribute spelled like a canonical key (``model``): keep both, raw one prefixed.
            meta[f"attributes.{key}"] = value
        else:
            meta[key] = value
        mapping.unmapped.append(key)
    return mapping


def restore_metric_sources(mapping: AttributeMapping, names: list[str] | tuple[str, ...]) -> None:
    """Put the attributes behind ``names`` back into metadata (a loader had a better source)."""
    for name in names:
        if name in mapping.metric_sources:
            key, raw = mapping.metric_sources.pop(name)
            mapping.metrics.pop(name, None)
            mapping.metadata.setdefault(key, raw)


def apply_mapping(event: dict[str, Any], mapping: AttributeMapping, report: Any = None) -> dict[str, Any]:
    """Merge ``mapping`` into a Braintrust event under construction (fields already set win,
    except ``metadata``/``metrics``, which are merged). Counts unmapped keys on ``report``."""
    metadata = event.setdefault("metadata", {})
    for name, has, value in (
        ("input", mapping.has_input, mapping.input),
        ("output", mapping.has_output, mapping.output),
    ):
        if not has:
            continue
        if event.get(name) is None:
            event[name] = value
        elif event[name] != value:
            # The format's own field won; the attribute's differing version is kept, not dropped.
            metadata.setdefault(f"attributes.{name}", value)
            if report is not None:
                report.note_unmapped(f"attributes.{name}")
    if mapping.error is not None and event.get("error") is None:
        event["error"] = mapping.error
    if mapping.tags:
        event["tags"] = [*event.get("tags", []), *(tag for tag in mapping.tags if tag not in event.get("tags", []))]
    for key, value in mapping.metadata.items():
        if key in metadata:
            metadata.setdefault(f"attributes.{key}", value)
        else:
            metadata[key] = value
    metrics = event.setdefault("metrics", {})
    for key, value in mapping.metrics.items():
        metrics.setdefault(key, value)
    attributes = event.setdefault("span_attributes", {})
    if mapping.span_type is not None and attributes.get("type") is None:
        attributes["type"] = mapping.span_type
    if report is not None:
        for key in mapping.unmapped:
            report.note_unmapped(key)
    return event
