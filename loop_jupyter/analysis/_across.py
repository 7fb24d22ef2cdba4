"""Helpers shared by the "across the logs" tools: error fields, user text, charts, code artifacts.

Kept private: each tool module is the public surface; these are the pieces they have in common.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import polars as pl

from ..artifacts import Chart, Code
from ..embeddings import message_content
from ..tools import ToolContext

#: Neutral colours that read on white and on dark notebook themes alike.
COLORS = ["#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#9D755D", "#BAB0AC"]
TEMPLATE = "plotly_white"


# -- selections ----------------------------------------------------------------------------------
def selected_roots(ctx: ToolContext, where: str | None) -> pl.Series | None:
    """Root span ids of the traces matching ``where`` (a WHERE on the traces view), or None for all."""
    if not where:
        return None
    return ctx.engine.filter(where, shape="traces").get_column("root_span_id")


def restrict(frame: pl.DataFrame, roots: pl.Series | None) -> pl.DataFrame:
    if roots is None:
        return frame
    return frame.filter(pl.col("root_span_id").is_in(roots.implode()))


# -- errors ----------------------------------------------------------------------------------------
_INNER_TYPE = r"""['"]type['"]\s*:\s*['"]([A-Za-z]+_[A-Za-z_]*error|[A-Za-z]*Error)['"]"""
_INNER_MESSAGE = r"""['"]message['"]\s*:\s*['"]([^'"]+)['"]"""
_LEAD_TYPE = r"^([A-Z][a-z]+(?:[A-Z][a-z]*)+|[A-Z]\w*(?:Error|Exception))\s*:"


def error_fields(column: str = "error") -> tuple[pl.Expr, pl.Expr]:
    """(type, message) of an error stored as JSON text: a string, or an object with type/message.

    Provider SDKs often log ``"Error code: 429 - {'type': 'error', 'error': {'type':
    'rate_limit_error', 'message': '...'}}"``: the inner type and message are pulled out, otherwise
    masking the quoted keys would make every such error look the same.
    """
    error = pl.col(column)
    is_string = error.str.starts_with('"')
    object_type = pl.coalesce(
        error.str.json_path_match("$.type"),
        error.str.json_path_match("$.name"),
        error.str.json_path_match("$.error.type"),
        error.str.json_path_match("$.code"),
        error.str.json_path_match("$.status_code"),
        error.str.json_path_match("$.status"),
    )
    object_message = pl.coalesce(
        error.str.json_path_match("$.message"),
        error.str.json_path_match("$.error.message"),
        error.str.json_path_match("$.msg"),
        error.str.json_path_match("$.detail"),
        error,
    )
    raw = pl.when(is_string).then(error.str.json_decode(dtype=pl.String)).otherwise(object_message)
    inner_message = raw.str.extract(_INNER_MESSAGE, 1)
    prefix = raw.str.extract(r"^([^{]*?)[\s:-]*\{", 1)
    error_type = pl.coalesce(
        pl.when(is_string).then(None).otherwise(object_type),
        raw.str.extract(_INNER_TYPE, 1),
        raw.str.extract(_LEAD_TYPE, 1),
    )
    message = (
        pl.when(inner_message.is_not_null())
        .then(pl.concat_str([prefix.fill_null(""), inner_message], separator=": ").str.strip_chars(": "))
        .otherwise(raw)
    )
    return error_type, message


#: A model name (``claude-4.5-sonnet``, ``gpt-5.1``, ``o3-mini``): masked whole as ``<model>``, never
#: half-masked to ``claude-<n>-sonnet``; the models themselves are kept in a breakdown beside the group.
MODEL_NAME = (
    r"\b(?:claude|gpt|gemini|llama|mistral|mixtral|qwen|deepseek|grok|command|o[134])"
    r"(?:[-.:][A-Za-z0-9]+)+(?:@[0-9]+)?\b"
)
#: A URL: the host goes to the breakdown, the URL is masked whole so one failing endpoint family is one group.
URL = r"""\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'"<>()\[\]{}]+"""
URL_HOST = r"""\b[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/\s'"]*@)?([^/:\s'"?#<>()]+)"""

# Order matters: urls and model names before ids and numbers, ids before numbers, so a uuid becomes
# one placeholder and not many.
_MASKS: list[tuple[str, str]] = [
    (URL, "<url>"),
    (MODEL_NAME, "<model>"),
    (r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b", "<id>"),
    (r"\b0x[0-9a-fA-F]+\b", "<hex>"),
    # Prefixed ids (req_8f7a2c91, call-Xy12ab34cd) but not model names (claude-3-5-sonnet, gpt-4o).
    (r"\b[A-Za-z]{2,12}[_-][A-Za-z0-9]*[0-9][A-Za-z0-9]{5,}\b", "<id>"),
    (r"\b[0-9a-f]{8,}\b", "<hex>"),
    (r"'[^']*'", "'<name>'"),
    (r'"[^"]*"', '"<name>"'),
    (r"`[^`]*`", "`<name>`"),
    (r"\d+(?:\.\d+)?", "<n>"),
    (r"\s+", " "),
]


def normalize_message(message: pl.Expr, models: list[str] | None = None) -> pl.Expr:
    """Mask what varies between occurrences of the same error: urls, model names, ids, hex, quoted
    names, numbers. ``models`` (the frame's model names) are masked first, whatever they look like."""
    expr = message
    for name in sorted({m for m in models or () if m and len(m) > 2}, key=len, reverse=True):
        expr = expr.str.replace_all(name, "<model>", literal=True)
    for pattern, replacement in _MASKS:
        expr = expr.str.replace_all(pattern, replacement)
    return expr.str.strip_chars().str.slice(0, 300)


def normalize_text(message: str) -> str:
    """The Python twin of :func:`normalize_message` (for one string)."""
    return pl.select(normalize_message(pl.lit(message))).item()


# -- user text -----------------------------------------------------------------------------------
def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "\n".join(parts)
    if isinstance(content, dict) and isinstance(content.get("text"), str):
        return content["text"]
    return ""


def _messages_of(value: Any) -> list[dict[str, Any]] | None:
    if (
        isinstance(value, list)
        and value
        and all(isinstance(m, dict) for m in value)
        and any("role" in m or "content" in m or "contents" in m for m in value)
    ):
        return value
    if isinstance(value, dict):
        for key in ("messages", "chat_history", "history", "conversation"):
            if isinstance(value.get(key), list):
                found = _messages_of(value[key])
                if found is not None:
                    return found
    return None


def user_messages(input_json: str | None) -> list[str]:
    """The user's messages in a root input: a plain string, ``{"messages": [...]}``, a list of chat
    messages, or an object with a text field (``input``, ``question``, ``query``, ...)."""
    if input_json is None:
        return []
    try:
        value = orjson.loads(input_json)
    except orjson.JSONDecodeError:
        return [input_json]
    if isinstance(value, str):
        return [value] if value.strip() else []
    messages = _messages_of(value)
    if messages is not None:
        texts = [_content_text(message_content(m)) for m in messages if m.get("role", "user") in ("user", "human")]
        return [t for t in texts if t.strip()]
    if isinstance(value, dict):
        for key in ("input", "question", "query", "prompt", "text", "message", "user_input", "content"):
            if key in value:
                inner = value[key]
                if isinstance(inner, str):
                    return [inner] if inner.strip() else []
                found = user_messages(orjson.dumps(inner).decode())
                if found:
                    return found
    return []


def user_text_column(frame: pl.DataFrame, column: str = "input") -> pl.Series:
    """The user messages of each row's root input (a List[String] column), parsed once per distinct input."""
    distinct = frame.select(pl.col(column).unique()).get_column(column)
    mapping = pl.DataFrame(
        {
            column: distinct,
            "_messages": pl.Series([user_messages(v) for v in distinct.to_list()], dtype=pl.List(pl.String)),
        }
    )
    return frame.select(column).join(mapping, on=column, how="left", nulls_equal=True).get_column("_messages")


# -- artifacts -------------------------------------------------------------------------------------
def code(module: str, function: str, call_args: dict[str, Any], tail: str = ".first(Table).frame") -> Code:
    """Python that reproduces a tool's result in a cell, given the notebook's frame is ``logs``."""
    args = "".join(f", {k}={v!r}" for k, v in call_args.items() if v is not None)
    source = (
        f"from loop_jupyter.analysis.{module} import {function}\n"
        "from loop_jupyter.artifacts import Table\n\n"
        f"{function}(logs{args}){tail}"
    )
    return Code(source, title="Reproduce in a cell")


def style(fig: Any, title: str) -> Any:
    """Title, neutral template, transparent background: legible in light and dark notebooks."""
    fig.update_layout(
        title=title,
        template=TEMPLATE,
        paper_bgcolor="rgba(0,0,0,0)",
        font={"color": "#7f7f7f"},
        legend_title_text="",
        margin={"l": 60, "r": 20, "t": 60, "b": 50},
    )
    fig.update_xaxes(gridcolor="rgba(128,128,128,0.25)", zerolinecolor="rgba(128,128,128,0.4)")
    fig.update_yaxes(gridcolor="rgba(128,128,128,0.25)", zerolinecolor="rgba(128,128,128,0.4)")
    return fig


def chart(fig: Any, title: str) -> Chart:
    return Chart(style(fig, title), title=title)


def sql_quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def ids_condition(ids: list[str], column: str = "root_span_id") -> str:
    """A WHERE that selects exactly these ids (kept short: the model and the person read it)."""
    return f"{column} IN ({', '.join(sql_quote(i) for i in ids)})" if ids else "FALSE"


def capped_title(title: str, shown: int, total: int, how: str) -> str:
    """A table's title that says when the table is capped, and how to see all rows
    (``how``: "raise limit= or apply the SQL filter")."""
    if total <= shown:
        return title
    return f"{title} — first {shown:,} of {total:,} (capped: {how} to see all)"


def fmt_pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def clip(text: str | None, width: int = 80) -> str:
    text = re.sub(r"\s+", " ", text or "").strip()
    return text if len(text) <= width else text[: width - 1] + "…"


def clip_middle(text: str | None, width: int = 100) -> str:
    """Keep both ends: error messages often differ only in their tail (a model, a table name)."""
    text = re.sub(r"\s+", " ", text or "").strip()
    if len(text) <= width:
        return text
    head = (width - 1) * 3 // 5
    return text[:head] + "…" + text[len(text) - (width - 1 - head) :]
