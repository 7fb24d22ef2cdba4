"""The Loop's sources, scope and annotations: the small data-facing methods of a session.

A mixin so ``session.py`` keeps the run loop; it reads the attributes ``Loop.__init__`` sets
(``sources``, ``enabled_sources``, ``workdir``, ``scope``).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ..tools import ToolSpec, load_tools


class SessionSources:
    """Sources, trace scope and annotations of a :class:`~loop_jupyter.agent.session.Loop`."""

    sources: dict[str, pl.DataFrame]
    enabled_sources: set[str]
    workdir: Path
    scope: str | None

    def add_source(self, name: str, frame: pl.DataFrame, *, enabled: bool = True) -> None:
        self.sources[name] = frame
        if enabled:
            self.enabled_sources.add(name)

    def annotate(self, span_id: str | list[str], label: str, note: str | None = None) -> pl.DataFrame:
        """Label (and note) spans or traces of the logs; saved at once under ``workdir/loop_annotations``
        (the person acts: no confirmation). See :func:`loop_jupyter.analysis.annotating.annotate`."""
        from ..analysis.annotating import annotate

        return annotate(self.sources["logs"], span_id, label, note, workdir=self.workdir)

    def annotations(self) -> pl.DataFrame:
        """The current annotations (one row per span and label)."""
        from ..analysis.annotating import list_annotations

        return list_annotations(self.workdir)

    def scope_trace(self, root_span_id: str | None) -> None:
        """Focus questions on one trace (the explorer's Loop button); None clears the scope."""
        self.scope = root_span_id

    def tools(self) -> dict[str, ToolSpec]:
        return dict(load_tools())
