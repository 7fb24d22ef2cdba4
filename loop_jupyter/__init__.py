"""loop_jupyter: ask plain-language questions about an LLM application's production logs.

import loop_jupyter as lj
logs = lj.demo_logs()                       # or lj.load_logs("export.jsonl")
lj.sql(logs, "SELECT name, count(*) FROM logs GROUP BY 1")
lj.filter(logs, "scores.Factuality < 0.5")
lj.Loop(logs).ask("What are the most common errors?")
store = lj.connect("duckdb:///logs.duckdb")  # logs larger than memory (docs/sources.md)
"""

from __future__ import annotations

from typing import Any

from ._version import __version__
from .engine import LogEngine, QueryError, filter, sql, traces
from .loaders import detect_format, load_logs, load_logs_with_report, load_report, save
from .report import LoadError, LoadReport
from .schema import COLUMNS, SCHEMA

# Heavier parts load on first use so `import loop_jupyter` stays quick and free of IPython.
_LAZY = {
    "demo_logs": ("demo", "demo_logs"),
    "connect": ("sources", "connect"),
    "Loop": ("agent.session", "Loop"),
    "attribute_failure": ("analysis.attribution", "attribute_failure"),
    "annotate": ("analysis.annotating", "annotate"),
    "list_annotations": ("analysis.annotating", "list_annotations"),
    "remove_annotation": ("analysis.annotating", "remove_annotation"),
    "load_dataset": ("analysis.datasets", "load_dataset"),
    "list_datasets": ("analysis.datasets", "list_datasets"),
    "ChatWidget": ("widgets.chat", "ChatWidget"),
    "TraceExplorer": ("widgets.explorer", "TraceExplorer"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(f".{module}", __name__), attribute)
    raise AttributeError(f"module 'loop_jupyter' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext loop_jupyter`` registers the ``%loop`` / ``%%loop`` magics."""
    from .magic import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext loop_jupyter`` removes the magics and the input transformer again."""
    from .magic import unload_ipython_extension as unload

    unload(ipython)


__all__ = [
    "COLUMNS",
    "SCHEMA",
    "ChatWidget",
    "LoadError",
    "LoadReport",
    "LogEngine",
    "Loop",
    "QueryError",
    "TraceExplorer",
    "__version__",
    "annotate",
    "attribute_failure",
    "connect",
    "demo_logs",
    "detect_format",
    "filter",
    "list_annotations",
    "list_datasets",
    "load_dataset",
    "load_ipython_extension",
    "load_logs",
    "load_logs_with_report",
    "load_report",
    "remove_annotation",
    "save",
    "sql",
    "traces",
    "unload_ipython_extension",
]
