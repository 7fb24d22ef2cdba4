"""The conversation: every user/assistant message, tool call, tool result and artifact, with branches.

The history is the source of truth; the provider-neutral messages a model receives are derived
from it (:meth:`Conversation.model_messages`), so editing or interrupting never leaves the model a
half-written exchange.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ..artifacts import Artifact

MessageKind = Literal["user", "assistant", "tool_call", "tool_result", "artifact", "error", "interrupted", "compaction"]


@dataclass
class Message:
    """One entry of the history.

    ``kind``: user, assistant, tool_call (data: id, name, input), tool_result (data: id, name,
    is_error, model_text: the bounded text the model saw), artifact (an artifact produced later,
    e.g. by a confirmed action), error, interrupted, compaction (earlier messages were summarized
    for the model; data: upto, summary, by; see :mod:`.compaction`).
    """

    kind: MessageKind
    text: str = ""
    run_id: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    artifacts: list[Artifact] = field(default_factory=list)
    model: str = ""

    @property
    def role(self) -> str:
        return {"user": "user", "assistant": "assistant"}.get(self.kind, "tool" if "tool" in self.kind else "system")

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "text": self.text,
            "run_id": self.run_id,
            "model": self.model,
            "data": {k: v for k, v in self.data.items() if k != "model_text"},
            "artifacts": [a.to_json() for a in self.artifacts],
        }


@dataclass
class Branch:
    """Messages replaced by an edit, kept retrievable."""

    index: int
    messages: list[Message]
    replaced_by_run: str


class Conversation:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.branches: list[Branch] = []

    def append(self, message: Message) -> int:
        self.messages.append(message)
        return len(self.messages) - 1

    def branch_at(self, index: int, run_id: str) -> Branch:
        """Cut the history before ``index`` (a user message); the cut part becomes a branch."""
        if not 0 <= index < len(self.messages) or self.messages[index].kind != "user":
            raise IndexError(f"message {index} is not a user message")
        branch = Branch(index, self.messages[index:], run_id)
        self.branches.append(branch)
        del self.messages[index:]
        return branch

    def model_messages(self) -> list[dict[str, Any]]:
        """Provider-neutral messages: user, assistant (+tool_calls), tool (results), in order.

        Tool calls without a recorded result (a crash mid-run) get an explicit "not run" result so
        every provider sees a well-formed exchange.
        """
        out: list[dict[str, Any]] = []
        open_calls: dict[str, str] = {}

        def close_open() -> None:
            if open_calls:
                results = [
                    {"id": cid, "name": name, "content": "(not run: the run stopped)", "is_error": True}
                    for cid, name in open_calls.items()
                ]
                if out and out[-1]["role"] == "tool":
                    out[-1]["results"].extend(results)
                else:
                    out.append({"role": "tool", "results": results})
                open_calls.clear()

        for message in self.messages:
            if message.kind == "user":
                close_open()
                if out and out[-1]["role"] == "user":
                    out[-1]["content"] += "\n\n" + message.text
                else:
                    out.append({"role": "user", "content": message.text})
            elif message.kind == "assistant":
                close_open()
                calls = message.data.get("tool_calls", [])
                out.append({"role": "assistant", "content": message.text, "tool_calls": calls})
                open_calls.update({c["id"]: c["name"] for c in calls})
            elif message.kind == "tool_result":
                result = {
                    "id": message.data["id"],
                    "name": message.data["name"],
                    "content": message.data.get("model_text", message.text),
                    "is_error": message.data.get("is_error", False),
                }
                open_calls.pop(message.data["id"], None)
                if out and out[-1]["role"] == "tool":
                    out[-1]["results"].append(result)
                else:
                    out.append({"role": "tool", "results": [result]})
        close_open()
        return out
