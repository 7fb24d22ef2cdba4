"""The message contract between the widgets' Python and their JavaScript: one schema per message.

The browser sends requests ``{"id": n, "type": "rows", ...}``; Python answers by id with
``{"id": n, "ok": true, <reply fields>}`` or ``{"id": n, "ok": false, "error": "..."}``. Python
also pushes messages without an id: the chat's ``event`` (one Loop event, its ``event`` one of
:data:`EVENTS`, an artifact card's ``kind`` one of :data:`CARD_KINDS`) and the explorer's
``selection``.

Every request type is a pydantic model below (fields, types, defaults; unknown fields refused) with
the reply fields it promises (``REPLY``). ``RequestWidget.handle`` validates each incoming message
against its schema before the handler sees it and answers a malformed one with ``{id, ok: false,
error}``. The same schemas, as JSON Schema, are written to ``js/messages.json``
(``python -m loop_jupyter.widgets.messages > js/messages.json``); ``js/rpc.js`` imports that file and
checks every request it sends, every reply (the promised fields) and every push (type, event, card
kind) against it. ``tests/test_widget_messages.py`` holds both sides to this module.
"""

from __future__ import annotations

import json
import sys
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from ..agent.events import EVENT_TYPES


class Request(BaseModel):
    """Fields every request carries; a subclass per ``type``."""

    model_config = ConfigDict(extra="forbid")

    id: int | str | None = None
    type: str
    #: Fields of a successful reply (besides ``id`` and ``ok``).
    REPLY: ClassVar[tuple[str, ...]] = ()


# -- both widgets -----------------------------------------------------------------------------------------
class PlotlyRequest(Request):
    """plotly.min.js from the installed plotly package (one binary buffer)."""

    type: Literal["plotly"]
    REPLY = ("bytes", "version")


# -- chat ----------------------------------------------------------------------------------------------------
class AskRequest(Request):
    type: Literal["ask"]
    text: str
    interrupt: bool = False
    REPLY = ("run_id",)


class InterruptRequest(Request):
    type: Literal["interrupt"]


class EditRequest(Request):
    type: Literal["edit"]
    text: str
    run_id: str = ""
    message_index: int | None = None
    REPLY = ("run_id",)


class PageRequest(Request):
    type: Literal["page"]
    artifact_id: str
    offset: int = 0
    limit: int = 10  # the first page of a chat table (cards.FIRST_PAGE)
    sort: str | None = None
    descending: bool = False
    REPLY = ("rows", "offset", "total_rows")


class ConfirmRequest(Request):
    type: Literal["confirm"]
    action_id: str
    REPLY = ("status", "produced")


class CancelRequest(Request):
    type: Literal["cancel"]
    action_id: str
    REPLY = ("status",)


class ApplyFilterRequest(Request):
    type: Literal["apply_filter"]
    artifact_id: str = ""
    sql: str = ""
    REPLY = ("total",)


class InsertCodeRequest(Request):
    type: Literal["insert_code"]
    artifact_id: str = ""
    source: str = ""
    REPLY = ("source",)


class ScopeRequest(Request):
    type: Literal["scope"]
    root_span_id: str | None = None


class HistoryRequest(Request):
    """The question and answer text (the fallback when a kernel cannot send the transcript)."""

    type: Literal["history"]
    REPLY = ("messages",)


class TranscriptRequest(Request):
    """The live branch as runs with their cards (a reload, a second view)."""

    type: Literal["transcript"]
    REPLY = ("runs", "hidden", "session", "branch")


class SessionsRequest(Request):
    type: Literal["sessions"]
    REPLY = ("sessions", "current")


class OpenSessionRequest(Request):
    type: Literal["open_session"]
    name: str
    REPLY = ("runs", "hidden", "session", "branch")


class SaveSessionRequest(Request):
    type: Literal["save_session"]
    name: str
    REPLY = ("sessions", "current")


class DeleteSessionRequest(Request):
    type: Literal["delete_session"]
    name: str
    REPLY = ("sessions", "current")


class SwitchBranchRequest(Request):
    type: Literal["switch_branch"]
    branch: int
    REPLY = ("runs", "hidden", "session", "branch")


# -- explorer ------------------------------------------------------------------------------------------------
class RowsRequest(Request):
    type: Literal["rows"]
    offset: int = 0
    limit: int | None = None
    sort: str | None = None
    descending: bool | None = None
    REPLY = ("columns", "types", "rows", "offset", "total", "selected")


class FilterRequest(Request):
    type: Literal["filter"]
    where: str = ""
    REPLY = ("total", "where")


class GenerateRequest(Request):
    type: Literal["generate"]
    description: str
    REPLY = ("where",)


class SelectRequest(Request):
    type: Literal["select"]
    ids: list[str] = []
    selected: bool = True
    mode: Literal["add", "replace"] | None = None
    REPLY = ("count",)


class RawRequest(Request):
    """The raw JSON fields of a trace's root span (the table shows their text)."""

    type: Literal["raw"]
    root_span_id: str
    REPLY = ("root_span_id", "fields")


class SimilarRequest(Request):
    type: Literal["similar"]
    REPLY = ("where", "total", "found", "results", "shared")


class OpenRequest(Request):
    type: Literal["open"]
    root_span_id: str
    REPLY = ("root_span_id", "span_count", "total_ms", "top", "expanded")


class ChildrenRequest(Request):
    type: Literal["children"]
    span_id: str = ""
    offset: int = 0
    limit: int | None = None
    REPLY = ("parent", "offset", "total", "nodes")


class SpanRequest(Request):
    type: Literal["span"]
    span_id: str
    REPLY = ("span", "fields")


class FieldRequest(Request):
    type: Literal["field"]
    span_id: str
    field: str
    offset: int = 0
    length: int | None = None
    REPLY = ("field", "offset", "text", "length")


class LoopRequest(Request):
    type: Literal["loop"]
    question: str | None = None
    REPLY = ("sent_to_chat",)


class AnnotateRequest(Request):
    """List, add or remove the labels (and notes) of a span of the open trace."""

    type: Literal["annotate"]
    span_id: str
    action: Literal["list", "add", "remove"] = "list"
    label: str | None = None
    note: str | None = None
    REPLY = ("span_id", "annotations")


def _by_type(*models: type[Request]) -> dict[str, type[Request]]:
    return {model.model_fields["type"].annotation.__args__[0]: model for model in models}  # type: ignore[union-attr]


#: Request types each widget answers (its ``_on_<type>`` handlers), by widget name.
REQUESTS: dict[str, dict[str, type[Request]]] = {
    "chat": _by_type(
        PlotlyRequest,
        AskRequest,
        InterruptRequest,
        EditRequest,
        PageRequest,
        ConfirmRequest,
        CancelRequest,
        ApplyFilterRequest,
        InsertCodeRequest,
        ScopeRequest,
        HistoryRequest,
        TranscriptRequest,
        SessionsRequest,
        OpenSessionRequest,
        SaveSessionRequest,
        DeleteSessionRequest,
        SwitchBranchRequest,
    ),
    "explorer": _by_type(
        PlotlyRequest,
        RowsRequest,
        RawRequest,
        FilterRequest,
        GenerateRequest,
        SelectRequest,
        SimilarRequest,
        OpenRequest,
        ChildrenRequest,
        SpanRequest,
        FieldRequest,
        LoopRequest,
        AnnotateRequest,
    ),
}

#: Messages Python sends without an id, by widget: type -> fields they always carry.
PUSHES: dict[str, dict[str, tuple[str, ...]]] = {
    "chat": {"event": ("event", "run_id", "data")},
    "explorer": {"selection": ("ids",)},
}


class ContextUsage(BaseModel):
    """``data.usage`` of the chat's ``done`` event: the answer's tokens, window and cost
    (:class:`loop_jupyter.agent.usage.AnswerUsage`), and the context line the chat shows under it."""

    model_config = ConfigDict(extra="forbid")

    model: str
    requests: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_creation_tokens: int
    context_tokens: int
    context_window: int | None
    context_percent: float | None
    cost_usd: float | None
    line: str


def usage_message(usage: Any) -> dict[str, Any]:
    """The ``usage`` of a ``done`` event, checked against :class:`ContextUsage`."""
    data = usage.to_json() if hasattr(usage, "to_json") else dict(usage)
    return ContextUsage.model_validate(data).model_dump()


#: ``event`` of the chat's event pushes: the Loop's event types.
EVENTS: tuple[str, ...] = EVENT_TYPES
#: ``kind`` of an artifact card inside an event's ``data.artifact``.
CARD_KINDS: tuple[str, ...] = ("table", "sql", "chart", "trace", "dataset", "scorer", "code", "confirmation")

#: Notes about an action's state written for the model (by the session and the tools), which the
#: offline planner and models echo into answers. The chat shows the state on the action's card
#: instead, where it follows the state, so these are removed from the answer text it shows
#: (JavaScript regular expressions, also valid in Python).
MODEL_NOTES: tuple[str, ...] = (
    r"\s*\(Proposed action \w+ is waiting for the person's confirmation; it has NOT been executed\.\)",
    r"\s*\(Auto-accepted by the person's setting: [^\n]*? was done\.\)",
    r" ?Waiting for the user to confirm(?: the code)?\.",
)


def parse_request(widget: str, content: Any) -> Request:
    """The typed request for a raw message, or :class:`MessageError` saying what is wrong with it."""
    if not isinstance(content, dict):
        raise MessageError(f"a request is a JSON object, not {type(content).__name__}")
    kind = content.get("type")
    model = REQUESTS[widget].get(kind) if isinstance(kind, str) else None
    if model is None:
        raise MessageError(f"unknown request type {kind!r}")
    try:
        return model.model_validate(content)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'request'}: {err['msg']}" for err in exc.errors()[:3]
        )
        raise MessageError(f"malformed {kind!r} request: {problems}") from None


class MessageError(ValueError):
    """A message that does not match its schema."""


def contract() -> dict[str, Any]:
    """The whole contract as JSON (what ``js/messages.json`` holds)."""
    widgets: dict[str, Any] = {}
    for widget, requests in REQUESTS.items():
        described = {}
        for kind, model in sorted(requests.items()):
            schema = model.model_json_schema()
            properties = {k: v for k, v in schema.get("properties", {}).items() if k not in ("id", "type")}
            for spec in properties.values():
                spec.pop("title", None)
            required = [k for k in schema.get("required", []) if k not in ("id", "type")]
            described[kind] = {"properties": properties, "required": required, "reply": list(model.REPLY)}
        widgets[widget] = {
            "requests": described,
            "pushes": {k: list(v) for k, v in PUSHES[widget].items()},
        }
    return {
        "widgets": widgets,
        "events": list(EVENTS),
        "card_kinds": list(CARD_KINDS),
        "model_notes": list(MODEL_NOTES),
        "usage": _usage_schema(),
    }


def _usage_schema() -> dict[str, Any]:
    schema = ContextUsage.model_json_schema()
    properties = schema.get("properties", {})
    for spec in properties.values():
        spec.pop("title", None)
    return {"properties": properties, "required": schema.get("required", [])}


def contract_json() -> str:
    return json.dumps(contract(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":  # python -m loop_jupyter.widgets.messages > js/messages.json
    sys.stdout.write(contract_json())
