"""The explorer's traces table as a person reads it: the user's message, the reply, the error.

Inputs and outputs are JSON (message lists, ``{"role", "content"}`` objects, ``{"choices": ...}``
completions, plain strings); a row shows the text in them, cut short, and the raw JSON is one click
away (the ``raw`` request, :func:`raw_fields`). The first column is the trace's first user message
(its root span's name when there is none), not its id; the id travels as the row's key, hidden.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import polars as pl

from ..engine import LogEngine
from ..frame import loads
from ..tools.text import json_text, message_content, shorten, user_text

#: Columns of the traces table, in order (``root_span_id`` is the rows' key, hidden in the browser).
TABLE_COLUMNS: tuple[str, ...] = (
    "root_span_id",
    "trace",
    "created",
    "output",
    "error",
    "duration",
    "total_tokens",
    "total_cost",
    "scores",
    "user",
    "tags",
    "span_count",
    "llm_calls",
    "tool_calls",
    "models",
)
#: Header labels the browser shows (a column not listed shows its name).
LABELS: dict[str, str] = {
    "trace": "trace (first user message)",
    "output": "reply",
    "total_tokens": "tokens",
    "total_cost": "cost",
    "span_count": "spans",
    "llm_calls": "LLM calls",
    "tool_calls": "tool calls",
}
#: Columns of the traces view to sort by, for a table column that is not one itself.
SORT_BY: dict[str, str] = {"trace": "name"}
#: Characters of text per readable cell.
TEXT_CHARS = 200
#: Longest JSON parsed for a cell; a longer field shows its raw start (its text is in "raw").
PARSE_CHARS = 400_000
#: Fields the raw view shows, in order, and the characters of each sent.
RAW_FIELDS: tuple[str, ...] = ("input", "output", "error", "expected", "metadata", "scores")
RAW_CHARS = 16_000


def _parse(value: str | None) -> Any:
    if value is None or len(value) > PARSE_CHARS:
        return value
    try:
        return loads(value)
    except ValueError:
        return value


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return json_text(json.dumps(content, default=str)) if content is not None else ""


def reply_text(value: str | None) -> str:
    """What the assistant said: the last assistant message of a message list, a completion's first
    choice, a ``content`` field, or the text in the JSON."""
    parsed = _parse(value)
    if parsed is None:
        return ""
    if isinstance(parsed, str):
        return shorten(parsed, TEXT_CHARS)
    if isinstance(parsed, dict):
        choices = parsed.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            message = choices[0].get("message") or choices[0]
            if isinstance(message, dict):
                return shorten(_content_text(message_content(message) or message.get("text")), TEXT_CHARS)
        if "messages" in parsed and isinstance(parsed["messages"], list):
            parsed = parsed["messages"]
        else:
            content = message_content(parsed)
            if content is None:
                content = parsed.get("output") if "output" in parsed else parsed.get("text")
            if content is not None:
                return shorten(_content_text(content), TEXT_CHARS)
    if isinstance(parsed, list):
        said = [m for m in parsed if isinstance(m, dict) and m.get("role") in ("assistant", "model")]
        if said:
            return shorten(_content_text(message_content(said[-1])), TEXT_CHARS)
    return shorten(json_text(value), TEXT_CHARS)


def error_text(value: str | None) -> str:
    """An error as one line: ``type: message`` of an error object, or its text."""
    parsed = _parse(value)
    if parsed is None:
        return ""
    if isinstance(parsed, dict):
        kind = parsed.get("type") or parsed.get("name") or parsed.get("code")
        message = parsed.get("message") or parsed.get("error") or parsed.get("detail")
        if isinstance(message, dict):
            message = message.get("message") or json.dumps(message, default=str)
        text = f"{kind}: {message}" if kind and message else str(message or kind or json_text(value))
        return shorten(text, TEXT_CHARS)
    return shorten(parsed if isinstance(parsed, str) else json_text(value), TEXT_CHARS)


def first_message(value: str | None, name: str | None) -> str:
    """The trace's first user message (its root span's name when there is none)."""
    text = shorten(user_text(value, which="first"), TEXT_CHARS) if value is not None else ""
    return text or (name or "")


def scores_text(value: str | None) -> str:
    parsed = _parse(value)
    if not isinstance(parsed, dict) or not parsed:
        return ""
    parts = []
    for key, score in parsed.items():
        with contextlib.suppress(TypeError, ValueError):
            parts.append(f"{key} {float(score):.2f}")
    return ", ".join(parts)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def page_frame(engine: LogEngine, where: str, sort: str, descending: bool, limit: int, offset: int) -> pl.DataFrame:
    """One page of the traces table, readable columns computed for its rows only."""
    condition = f" WHERE {where}" if where else ""
    direction = "DESC" if descending else "ASC"
    query = (
        'SELECT root_span_id, name, "input", "output", error, created, duration, total_tokens, total_cost, '
        "scores, user, tags, span_count, llm_calls, tool_calls, models "
        f'FROM traces{condition} ORDER BY "{sort}" {direction} NULLS LAST, root_span_id '
        f"LIMIT {limit} OFFSET {offset}"
    )
    frame = engine.sql(query, limit=limit)
    span_errors = _span_errors(engine, frame.get_column("root_span_id").to_list())
    rows = frame.to_dicts()
    return pl.DataFrame(
        {
            "root_span_id": frame.get_column("root_span_id"),
            "trace": [first_message(r["input"], r["name"]) for r in rows],
            "created": frame.get_column("created"),
            "output": [reply_text(r["output"]) for r in rows],
            "error": [error_text(r["error"] or span_errors.get(r["root_span_id"])) for r in rows],
            "duration": frame.get_column("duration"),
            "total_tokens": frame.get_column("total_tokens"),
            "total_cost": frame.get_column("total_cost"),
            "scores": [scores_text(r["scores"]) for r in rows],
            "user": frame.get_column("user").cast(pl.String),
            "tags": [", ".join(str(t) for t in (r["tags"] or [])) for r in rows],
            "span_count": frame.get_column("span_count"),
            "llm_calls": frame.get_column("llm_calls"),
            "tool_calls": frame.get_column("tool_calls"),
            "models": [", ".join(str(m) for m in (r["models"] or [])) for r in rows],
        }
    )


def _span_errors(engine: LogEngine, ids: list[str]) -> dict[str, str]:
    """The first error (by start) of any span of each trace: a trace whose root did not fail
    still shows what failed inside it."""
    if not ids:
        return {}
    listed = ", ".join(_quote(i) for i in ids)
    frame = engine.sql(
        "SELECT root_span_id, arg_min(error, start) AS error FROM logs "
        f"WHERE error IS NOT NULL AND root_span_id IN ({listed}) GROUP BY root_span_id",
        limit=len(ids),
    )
    return dict(frame.iter_rows())


def raw_fields(engine: LogEngine, root_span_id: str) -> dict[str, dict[str, Any]]:
    """The root span's raw JSON fields (pretty-printed, each cut at :data:`RAW_CHARS`)."""
    columns = ", ".join(f'"{name}"' for name in RAW_FIELDS)
    frame = engine.sql(f"SELECT {columns} FROM traces WHERE root_span_id = {_quote(root_span_id)}", limit=1)
    if frame.height == 0:
        return {}
    out = {}
    for name, value in frame.row(0, named=True).items():
        if value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        if len(text) <= PARSE_CHARS:
            with contextlib.suppress(ValueError):
                text = json.dumps(loads(text), indent=2, ensure_ascii=False)
        out[name] = {"text": text[:RAW_CHARS], "length": len(text)}
    return out
