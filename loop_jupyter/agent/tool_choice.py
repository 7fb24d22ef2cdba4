"""Which tool schemas a model is sent: a small always-on set, plus what it finds with ``search_tools``.

Sending every tool's schema with every request cost ~4.8k tokens a turn (28 tools), most of a
question's prompt. A run starts with :data:`ALWAYS_ON` (SQL, filters, the schema, reading inside
big fields, and ``search_tools``) and one line naming the other tools; the model enables more by
calling ``search_tools`` (the tools it finds join the tool list from the next request on, for the
rest of the run) or by calling one by name (it runs, and joins the list). Tools called in earlier
questions of the conversation stay in the list (a follow-up uses them again). Every registered tool
stays reachable; the prompt does not grow with the logs (it holds names, not data).
``Loop.tool_search = False`` sends every tool, as before.
"""

from __future__ import annotations

from typing import Any

from ..tools import ToolSpec
from ..tools.catalog import SEARCH_TOOL, find_tools
from .model_turn import ToolCall

#: Tools whose schemas every request carries (those registered; the rest are found by search).
ALWAYS_ON: tuple[str, ...] = ("run_sql", "generate_filter", "describe_schema", "read_field", "grep_field", SEARCH_TOOL)


def catalogue_note(specs: dict[str, ToolSpec], enabled: set[str] | None = None) -> str:
    """The system prompt's line naming the tools not sent yet (names only: a few tokens each)."""
    enabled = set(ALWAYS_ON) if enabled is None else enabled
    others = [name for name in specs if name not in enabled and name != SEARCH_TOOL]
    if not others:
        return ""
    return (
        f"\nMore tools, enabled by calling {SEARCH_TOOL} with what you need or their names: " + ", ".join(others) + "."
    )


class ToolChoice:
    """The tool schemas of one run (see the module docstring)."""

    def __init__(self, specs: dict[str, ToolSpec], *, search: bool = True) -> None:
        self.specs = specs
        self.search = search and SEARCH_TOOL in specs
        if self.search:
            self.enabled = [name for name in ALWAYS_ON if name in specs]
        else:
            self.enabled = [name for name in specs if name != SEARCH_TOOL]

    def note(self) -> str:
        """What to append to the system prompt (empty when every tool is sent). It names every tool
        outside :data:`ALWAYS_ON`, enabled or not, so it stays the same all session (a stable,
        cacheable prompt prefix)."""
        return catalogue_note(self.specs) if self.search else ""

    def schemas(self) -> list[dict[str, Any]]:
        """The tool definitions for the next request, in registry order."""
        enabled = set(self.enabled)
        return [spec.json_schema() for name, spec in self.specs.items() if name in enabled]

    def enable(self, names: list[str]) -> list[str]:
        """Add tools to the list; returns the ones that were not in it yet."""
        added = [n for n in names if n in self.specs and n not in self.enabled]
        self.enabled.extend(added)
        return added

    def keep_used(self, messages: list[dict[str, Any]]) -> list[str]:
        """Enable the tools called earlier in the conversation (neutral messages): a follow-up
        may use them again, and a provider sees no earlier call to a tool it is not offered."""
        names = [c.get("name", "") for m in messages if m.get("role") == "assistant" for c in m.get("tool_calls", [])]
        return self.enable(names) if self.search else []

    def after(self, calls: list[ToolCall]) -> list[str]:
        """Enable what the model's calls found (``search_tools``) or used by name; returns the added."""
        if not self.search:
            return []
        added: list[str] = []
        for call in calls:
            if call.name == SEARCH_TOOL and not call.error:
                query = call.input.get("query")
                limit = call.input.get("limit", 5)
                if isinstance(query, str):
                    try:
                        found = find_tools(query, self.specs, limit=int(limit))
                    except (TypeError, ValueError):
                        found = find_tools(query, self.specs)
                    added += self.enable(found)
            else:
                added += self.enable([call.name])
        return added


__all__ = ["ALWAYS_ON", "ToolChoice", "catalogue_note"]
