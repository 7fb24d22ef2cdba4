"""Tool discovery: ONE explicit list of the modules that register tools, and ONE loader.

Like simonw/llm's ``DEFAULT_PLUGINS``: the registry (:mod:`loop_jupyter.tools.registry`) imports
none of its plugins; this module imports them by name, on demand, so neither the registry nor an
analysis module importing ``tool`` forms a cycle. A new tool module is added to
:data:`TOOL_MODULES` (``tests/test_import_direction.py`` checks that every module defining a
``@tool`` is listed).
"""

from __future__ import annotations

import importlib
import logging

from .registry import REGISTRY, ToolSpec

log = logging.getLogger(__name__)

#: Every module whose import registers tools, in the order their tools are listed to a model.
TOOL_MODULES: tuple[str, ...] = (
    "loop_jupyter.tools.core",
    "loop_jupyter.tools.catalog",
    "loop_jupyter.analysis.annotating",
    "loop_jupyter.analysis.attribution",
    "loop_jupyter.analysis.charts",
    "loop_jupyter.analysis.datasets",
    "loop_jupyter.analysis.docs_search",
    "loop_jupyter.analysis.errors",
    "loop_jupyter.analysis.failed_questions",
    "loop_jupyter.analysis.failure_mode_actions",
    "loop_jupyter.analysis.failure_modes",
    "loop_jupyter.analysis.frustration",
    "loop_jupyter.analysis.intents",
    "loop_jupyter.analysis.languages",
    "loop_jupyter.analysis.latency",
    "loop_jupyter.analysis.root_cause",
    "loop_jupyter.analysis.scorers",
    "loop_jupyter.analysis.similar",
    "loop_jupyter.analysis.tool_health",
    "loop_jupyter.analysis.trace",
    "loop_jupyter.analysis.trace_views",
    "loop_jupyter.analysis.trends",
)

_LOAD_ERRORS: dict[str, str] = {}


def load_tools(*, strict: bool = False) -> dict[str, ToolSpec]:
    """Import every module of :data:`TOOL_MODULES` and return the registry.

    The core tools always load (an error there is raised). An analysis module that fails to import
    is skipped and remembered in :func:`tool_load_errors`, so one broken tool never takes the
    agent down; ``strict=True`` raises instead (tests, ``load_all_tools``).
    """
    for name in TOOL_MODULES:
        try:
            importlib.import_module(name)
            _LOAD_ERRORS.pop(name, None)
        except Exception as exc:  # a colleague's module mid-edit must not break the session
            if strict or name == TOOL_MODULES[0]:
                raise
            _LOAD_ERRORS[name] = f"{type(exc).__name__}: {exc}"
            log.warning("could not load tools from %s: %s", name, exc)
    return REGISTRY


def load_all_tools() -> dict[str, ToolSpec]:
    """Every tool, or the import error of the module that failed (see :func:`load_tools`)."""
    return load_tools(strict=True)


def tool_load_errors() -> dict[str, str]:
    """Modules that failed to load, with their error (empty when every tool loaded)."""
    return dict(_LOAD_ERRORS)


__all__ = ["TOOL_MODULES", "load_all_tools", "load_tools", "tool_load_errors"]
