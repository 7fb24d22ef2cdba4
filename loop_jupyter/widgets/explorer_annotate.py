"""The explorer's annotation control: list, add and remove a label (and note) on a span of the open
trace. The person acts in the explorer, so a change is saved at once, as a new version of the
annotations beside the session's logs (:mod:`loop_jupyter.annotations`, never overwritten)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from ..analysis.annotating import annotate, list_annotations, remove_annotation
from ._base import RequestError
from .messages import AnnotateRequest


class AnnotationHandlers:
    """Mixin of :class:`~loop_jupyter.widgets.explorer.TraceExplorer` answering ``annotate`` requests."""

    logs: pl.DataFrame
    loop: Any

    def _require_trace(self) -> Any:  # pragma: no cover - TraceExplorer provides it
        raise NotImplementedError

    @property
    def annotations_workdir(self) -> Path:
        """Where annotations are saved: the session's workdir, else the current folder."""
        workdir = getattr(self.loop, "workdir", None)
        return Path(workdir) if workdir is not None else Path.cwd()

    def span_annotations(self, span_id: str) -> list[dict[str, Any]]:
        current = list_annotations(self.annotations_workdir).filter(pl.col("span_id") == span_id)
        return [
            {
                "label": row["label"],
                "note": row["note"],
                "author": row["author"],
                "created_at": row["created_at"].isoformat() if row["created_at"] is not None else None,
            }
            for row in current.iter_rows(named=True)
        ]

    def _on_annotate(self, request: AnnotateRequest) -> dict[str, Any]:
        trace = self._require_trace()
        span_id = request.span_id
        if span_id not in trace.position:
            raise RequestError(f"no span {span_id!r} in this trace")
        try:
            if request.action == "add":
                annotate(self.logs, span_id, request.label or "", request.note, workdir=self.annotations_workdir,
                         source="explorer")  # fmt: skip
            elif request.action == "remove":
                remove_annotation(self.logs, span_id, request.label, workdir=self.annotations_workdir,
                                  source="explorer")  # fmt: skip
        except ValueError as exc:
            raise RequestError(str(exc)) from None
        return {"span_id": span_id, "annotations": self.span_annotations(span_id)}


__all__ = ["AnnotationHandlers"]
