"""What a tool returns: bounded text for the model, artifacts for the person.

Artifacts are plain dataclasses so every surface (CLI ``--json``, the ``%loop`` magic, the chat
widget) renders them its own way. ``to_json`` is the stable, documented scripting shape.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl

#: Rows of a table artifact included in JSON output (the full frame stays in Python).
JSON_ROW_CAP = 50


def json_rows(frame: pl.DataFrame, cap: int | None = None) -> list[list[Any]]:
    """The rows (the first ``cap``, or all) as JSON-safe lists: the one converter behind table
    artifacts' ``to_json`` and the CLI's ``--json`` tables. Polars' own JSON writer gives ISO dates
    and plain lists; we only cap the rows."""
    shown = frame if cap is None else frame.head(cap)
    return [list(row.values()) for row in json.loads(shown.write_json())]


@dataclass
class Artifact:
    kind: str = field(init=False, default="")
    title: str = field(default="", kw_only=True)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "title": self.title}

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """Rich display: log text escaped (see :mod:`loop_jupyter.render`)."""
        from .render import artifact_bundle

        return artifact_bundle(self)


@dataclass
class Table(Artifact):
    frame: pl.DataFrame

    def __post_init__(self) -> None:
        self.kind = "table"

    def to_json(self) -> dict[str, Any]:
        return {
            **super().to_json(),
            "columns": self.frame.columns,
            "rows": json_rows(self.frame, JSON_ROW_CAP),
            "total_rows": self.frame.height,
        }


@dataclass
class SqlFilter(Artifact):
    sql: str
    shape: Literal["spans", "traces"]
    count: int
    ids: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.kind = "sql"

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "sql": self.sql, "shape": self.shape, "count": self.count}


@dataclass
class Chart(Artifact):
    figure: Any  # plotly.graph_objects.Figure

    def __post_init__(self) -> None:
        self.kind = "chart"

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "figure": json.loads(self.figure.to_json())}


@dataclass
class TraceView(Artifact):
    root_span_id: str
    html: str = ""
    figure: Any = None

    def __post_init__(self) -> None:
        self.kind = "trace"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {**super().to_json(), "root_span_id": self.root_span_id}
        if self.html:
            out["html"] = self.html
        if self.figure is not None:
            out["figure"] = json.loads(self.figure.to_json())
        return out


@dataclass
class Dataset(Artifact):
    name: str
    version: int
    path: str
    rows: int

    def __post_init__(self) -> None:
        self.kind = "dataset"

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "name": self.name, "version": self.version, "path": self.path, "rows": self.rows}


@dataclass
class Scorer(Artifact):
    name: str
    scorer_kind: Literal["code", "llm_judge"]
    source: str
    path: str = ""

    def __post_init__(self) -> None:
        self.kind = "scorer"

    def to_json(self) -> dict[str, Any]:
        return {
            **super().to_json(),
            "name": self.name,
            "scorer_kind": self.scorer_kind,
            "source": self.source,
            "path": self.path,
        }


@dataclass
class Code(Artifact):
    """The Python or SQL that reproduces a result in a notebook cell."""

    source: str
    language: Literal["python", "sql"] = "python"

    def __post_init__(self) -> None:
        self.kind = "code"

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "source": self.source, "language": self.language}


@dataclass
class Pending(Artifact):
    """A side effect waiting for the user's confirmation.

    ``preview`` shows exactly what would be written; ``action`` runs only through
    ``Conversation.confirm`` (or at once when auto-accept is on) and returns the resulting artifacts.
    """

    action_id: str
    description: str
    preview: str
    action: Callable[[], list[Artifact]] = field(repr=False, default=lambda: [])
    status: Literal["pending", "confirmed", "cancelled"] = "pending"

    def __post_init__(self) -> None:
        self.kind = "confirmation"

    def to_json(self) -> dict[str, Any]:
        return {
            **super().to_json(),
            "action_id": self.action_id,
            "description": self.description,
            "preview": self.preview,
            "status": self.status,
        }


@dataclass
class ToolResult:
    """Text for the model (bounded by the agent before sending) plus artifacts for the person."""

    text: str
    artifacts: list[Artifact] = field(default_factory=list)
    is_error: bool = False

    def first(self, kind: type[Artifact]) -> Any:
        """The first artifact of a class, or None (``result.first(Table).frame``)."""
        return next((a for a in self.artifacts if isinstance(a, kind)), None)

    @property
    def frames(self) -> list[pl.DataFrame]:
        return [a.frame for a in self.artifacts if isinstance(a, Table)]

    @property
    def code(self) -> str:
        return "\n\n".join(a.source for a in self.artifacts if isinstance(a, Code))

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "artifacts": [a.to_json() for a in self.artifacts], "is_error": self.is_error}

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from .render import answer_bundle

        return answer_bundle(self.text, self.artifacts)
