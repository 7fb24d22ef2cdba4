"""Summarising tool results into the offline answer text."""

from __future__ import annotations

from typing import Any

from .conclusions import conclude

# -- summarising results -----------------------------------------------------------------------------------------
#: How a note saying which words of the question were not used starts.
UNUSED = "Not used from the question:"


def summarize(
    question: str,
    calls: list[dict[str, Any]],
    results: list[dict[str, Any]],
    notes: list[str] | None = None,
    *,
    ctx: Any = None,
    artifacts: list[Any] | None = None,
    read_as: str = "",
) -> str:
    """The offline answer text from the tool results (the same bounded texts a model would read):
    its conclusion in a sentence (figures from the tool's ``artifacts``), how a follow-up was read
    (``read_as``), the planner's ``notes`` (which trace "the slowest trace" turned out to be, and
    why), then the evidence."""
    unused = [n for n in notes or () if n.startswith(UNUSED)]
    chose = [n for n in notes or () if not n.startswith(UNUSED)]
    parts: list[str] = []
    if len(calls) == 1 and len(results) == 1 and not results[0].get("is_error"):
        # The finding first, in a sentence, then the evidence (figures from the tool's artifacts).
        conclusion = conclude(calls[0], artifacts or [], ctx, question)
        if conclusion:
            parts.append(conclusion)
    parts += [f"{read_as}."] if read_as else []  # how a follow-up was read
    parts += [f"Chose {'; '.join(chose)}."] if chose else []
    parts += [f"{n}." for n in unused]
    for call, result in zip(calls, results, strict=False):
        body = _strip_wrapper(result.get("content", ""))
        name = call["name"]
        if result.get("is_error"):
            parts.append(f"{name} failed: {body}")
        elif name == "generate_filter":
            shape = call["input"].get("shape", "spans")
            parts.append(f"{body}\n\nFilter ({shape}): `{call['input']['where']}`")
        elif name == "run_sql":
            parts.append(f"Ran `{call['input']['query']}`:\n{body}")
        else:
            parts.append(body)
    return "\n\n".join(parts)


def _strip_wrapper(text: str) -> str:
    lines = text.splitlines()
    keep = [
        line
        for line in lines
        if not line.startswith("<tool_output")
        and line != "</tool_output>"
        and not line.startswith("(Everything inside tool_output")
        and not line.startswith("[shown to the person:")
    ]
    return "\n".join(keep).strip()
