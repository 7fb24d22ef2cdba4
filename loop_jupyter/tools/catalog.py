"""Finding tools by what they do: ``search_tools``, through which a model enables the tools it needs.

A model is sent a small always-on set of tool schemas (the core tools and ``search_tools``) and the
names of the others; it calls ``search_tools("group errors by message")`` and the tools found are
sent with its next request (the agent does that: :mod:`loop_jupyter.agent.tool_choice`). The
search is plain and offline: a tool named in the query is found first; then tools whose planner
phrases (the questions the offline planner routes to them) match the query; then tools sharing
words with the query in their name and description.
"""

from __future__ import annotations

import re

from ..artifacts import ToolResult
from .registry import REGISTRY, ToolContext, ToolSpec, tool
from .text import DOCS_STOPWORDS, shorten

SEARCH_TOOL = "search_tools"
#: Tools found by one search, at most.
MAX_FOUND = 8

_WORD = re.compile(r"[a-z0-9]+")
_EXTRA_STOPWORDS = frozenset({"tool", "tools", "find", "show", "which", "all", "any", "me", "get", "list"})


def _stem(word: str) -> str:
    for suffix in ("ing", "ies", "es", "ed", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def _words(text: str) -> set[str]:
    return {
        _stem(w)
        for w in _WORD.findall(text.lower().replace("_", " "))
        if w not in DOCS_STOPWORDS and w not in _EXTRA_STOPWORDS
    }


def summary(spec: ToolSpec, width: int = 110) -> str:
    """The first sentence of a tool's description, shortened."""
    first = spec.description.split("\n\n")[0].replace("\n", " ")
    first = re.split(r"(?<=[.!?])\s", first, maxsplit=1)[0]
    return shorten(first, width)


def find_tools(
    query: str, specs: dict[str, ToolSpec] | None = None, *, limit: int = 5, exclude: tuple[str, ...] = ()
) -> list[str]:
    """Names of the tools that best match ``query`` (best first; see the module docstring)."""
    specs = REGISTRY if specs is None else specs
    limit = max(1, min(int(limit), MAX_FOUND))
    text = query.lower()
    wanted = _words(query)
    scored: list[tuple[float, int, str]] = []
    for order, (name, spec) in enumerate(specs.items()):
        if name == SEARCH_TOOL or name in exclude:
            continue
        score = 0.0
        if re.search(rf"\b{re.escape(name)}\b", text):
            score += 100
        for phrase in spec.phrases:
            try:
                if re.search(phrase, query, re.IGNORECASE):
                    score += 10
                    break
            except re.error:
                continue
        name_words = _words(name)
        score += 3 * len(wanted & name_words)
        score += len(wanted & (_words(spec.description) - name_words))
        if score > 0:
            scored.append((-score, order, name))
    return [name for _, _, name in sorted(scored)[:limit]]


@tool(name=SEARCH_TOOL)
def search_tools(ctx: ToolContext, query: str = "", limit: int = 5) -> ToolResult:
    """Find more tools by what they do (or by name) and enable them: the tools found can be called
    from your next step on. Use it when the tools you have do not fit the question (errors, latency,
    failures, charts, traces, users, languages, scorers, datasets, ...). An empty query lists them all.

    Args:
        query: what the tool should do, in a few words, or tool names.
        limit: how many tools to enable (at most 8).
    """
    found = find_tools(query, limit=limit) if query.strip() else []
    if not found:
        listing = "\n".join(f"- {n}: {summary(s, 80)}" for n, s in REGISTRY.items() if n != SEARCH_TOOL)
        head = f"No tool matches {query!r}." if query.strip() else "Tools you can enable:"
        return ToolResult(f"{head} Call {SEARCH_TOOL} again with their names or other words.\n{listing}")
    lines = [f"- {name}: {summary(REGISTRY[name])}" for name in found]
    return ToolResult("Enabled (call them directly now):\n" + "\n".join(lines))


__all__ = ["MAX_FOUND", "SEARCH_TOOL", "find_tools", "search_tools", "summary"]
