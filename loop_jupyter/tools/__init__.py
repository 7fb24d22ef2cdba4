"""Tools: the registry (``@tool``, :class:`ToolSpec`, :class:`ToolContext`), their discovery
(one list of tool modules, one loader), the core tools and the shared text helpers.

    loop_jupyter.tools.registry   the @tool decorator, ToolSpec (schema + argument validation),
                                  ToolContext, REGISTRY, model_call / called_by_model
    loop_jupyter.tools.plugins    TOOL_MODULES and load_tools (imports the tool modules by name)
    loop_jupyter.tools.core       run_sql, generate_filter, describe_schema, read_field, grep_field
    loop_jupyter.tools.text       clip, shorten, previews, SQL literals, message text, error masks

The registry's names are re-exported here (``from loop_jupyter.tools import tool, ToolContext``),
as lonboard re-exports its private modules; importing this package loads no tool module.
"""

from __future__ import annotations

from .plugins import TOOL_MODULES, load_all_tools, load_tools, tool_load_errors
from .registry import (
    REGISTRY,
    ToolArgumentError,
    ToolContext,
    ToolSpec,
    adapters_of,
    called_by_model,
    model_call,
    schema_of,
    tool,
)

__all__ = [
    "REGISTRY",
    "TOOL_MODULES",
    "ToolArgumentError",
    "ToolContext",
    "ToolSpec",
    "adapters_of",
    "called_by_model",
    "load_all_tools",
    "load_tools",
    "model_call",
    "schema_of",
    "tool",
    "tool_load_errors",
]
