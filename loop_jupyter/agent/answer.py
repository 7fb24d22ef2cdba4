"""The outcome of one question (:class:`Answer`), as ``Loop.ask`` returns it and ``ask --json`` prints it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..artifacts import Artifact
from .usage import AnswerUsage


@dataclass
class Answer:
    """The outcome of one question. ``to_json()`` is the ``ask --json`` scripting shape."""

    text: str
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    tokens_sent: int = 0
    run_id: str = ""
    model: str = ""
    error: str | None = None
    interrupted: bool = False
    tokens: dict[str, Any] = field(default_factory=dict)
    #: Provider-reported tokens, context window and cost, summed over the run's model calls.
    usage: AnswerUsage = field(default_factory=AnswerUsage)

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "tool_calls": [{"name": c["name"], "input": c["input"]} for c in self.tool_calls],
            "artifacts": [a.to_json() for a in self.artifacts],
            "model": self.model,
            "tokens_sent": self.tokens_sent,
            "error": self.error,
            "usage": self.usage.to_json(),
        }

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """``loop.ask(...)`` as a cell's last line: the answer (log text escaped) and its artifacts' kinds."""
        from ..render import answer_bundle

        return answer_bundle(self.text, self.artifacts)


__all__ = ["Answer"]
