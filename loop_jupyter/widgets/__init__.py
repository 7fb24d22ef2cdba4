"""Notebook surfaces: the chat widget and the trace explorer (anywidgets; JS built into ../static)."""

from __future__ import annotations

from typing import Any

__all__ = ["ChatWidget", "TraceExplorer"]


def __getattr__(name: str) -> Any:
    # Lazy, so importing loop_jupyter.widgets does not pull anywidget until a widget is made.
    if name == "ChatWidget":
        from .chat import ChatWidget

        return ChatWidget
    if name == "TraceExplorer":
        from .explorer import TraceExplorer

        return TraceExplorer
    raise AttributeError(name)
