"""Streaming events a run emits; the CLI, the ``%loop`` magic and the chat widget consume them.

=============== =========================================================================
type            data
=============== =========================================================================
queued          question, position
started         question, model
text_delta      text
tool_started    id, name, input
tool_finished   id, name, is_error, text (bounded, as the model saw it), artifacts (count)
artifact        artifact (the object), json (its ``to_json()``)
confirmation    action_id, description, preview, json
done            answer (the :class:`~loop_jupyter.agent.session.Answer`), text, tokens_sent
error           message, kind
interrupted     reason
=============== =========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

EventType = Literal[
    "queued",
    "started",
    "text_delta",
    "tool_started",
    "tool_finished",
    "artifact",
    "confirmation",
    "done",
    "error",
    "interrupted",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)  # the same names, in the same order
#: A run ends with exactly one of these.
FINAL_TYPES = frozenset({"done", "error", "interrupted"})


@dataclass
class Event:
    type: str
    run_id: str
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {self.type!r}")

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe form (artifact objects replaced by their JSON)."""
        data = {k: v for k, v in self.data.items() if k not in ("artifact", "answer")}
        if "answer" in self.data:
            data["answer"] = self.data["answer"].to_json()
        return {"type": self.type, "run_id": self.run_id, "data": data}
