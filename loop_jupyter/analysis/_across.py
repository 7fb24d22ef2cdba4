"""Helpers shared by the "across the logs" tools: error fields, user text, charts, code artifacts.

Kept private: each tool module is the public surface; these are the pieces they have in common.
"""

from __future__ import annotations

from typing import Any

import orjson
import polars as pl

from ..artifacts import Chart, Code
from ..snippet import keyword_args
from ..tools import ToolContext

# The text helpers live in loop_jupyter.tools.text; re-exported under the names the analysis
# modules import from here (``clip`` here is the one-line label, tools.text.shorten).
from ..tools.text import MODEL_NAME, URL, URL_HOST, message_content, normalize_message, normalize_text
from ..tools.text import shorten as clip
from ..tools.text import shorten_middle as clip_middle
from ..tools.text import sql_literal as sql_quote

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
    return (
        frame.select(column)
        .join(mapping, on=column, how="left", nulls_equal=True, maintain_order="left")
        .get_column("_messages")
    )


# -- artifacts -------------------------------------------------------------------------------------
def code(module: str, function: str, call_args: dict[str, Any], tail: str = ".first(Table).frame") -> Code:
    """Python that reproduces a tool's result in a cell, given the notebook's frame is ``logs``."""
    args = keyword_args(call_args)
    args = f", {args}" if args else ""
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


def compare_bars(frame: pl.DataFrame, label: str, groups: dict[str, str], value: str, label_title: str = "") -> Any:
    """Horizontal grouped bars, one pair per row of ``frame`` (its first row on top): ``groups``
    names two numeric columns (a set of traces, then the rest) by their legend entries; the value
    axis is titled ``value``, the ``label`` axis ``label_title``."""
    import plotly.express as px

    long = frame.unpivot(index=label, on=list(groups), variable_name="group", value_name="_value")
    fig = px.bar(
        long.with_columns(pl.col("group").replace(groups)),
        x="_value",
        y=label,
        color="group",
        barmode="group",
        orientation="h",
        color_discrete_sequence=[COLORS[3], COLORS[0]],
        labels={"_value": value, label: label_title, "group": ""},
    )
    fig.update_yaxes(autorange="reversed")
    return fig


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


__all__ = [
    "COLORS",
    "MODEL_NAME",
    "TEMPLATE",
    "URL",
    "URL_HOST",
    "chart",
    "clip",
    "clip_middle",
    "code",
    "compare_bars",
    "error_fields",
    "fmt_pct",
    "ids_condition",
    "normalize_message",
    "normalize_text",
    "restrict",
    "selected_roots",
    "sql_quote",
    "style",
    "user_messages",
    "user_text_column",
]
