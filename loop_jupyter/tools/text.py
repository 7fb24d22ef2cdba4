"""Text helpers shared by the tools, the analysis modules and the agent: one home for each job.

- cutting text: :func:`clip` (model-facing, with a marker saying how much was cut),
  :func:`shorten` / :func:`shorten_middle` (one-line labels for a person);
- previews: :func:`frame_preview`, :func:`cell_text` (bounded text of a table for a model);
- SQL string literals: :func:`sql_literal` (lives in the data layer, :mod:`loop_jupyter.sqltext`);
- the text of JSON fields and chat messages: :func:`json_text`, :func:`user_text`, :func:`message_content`;
- error masking: :func:`error_kind` (coarse label, :data:`ERROR_KIND_MASKS`) and
  :func:`normalize_message` / :func:`normalize_text` (message kept, ids and numbers masked,
  :data:`ERROR_MESSAGE_MASKS`);
- stop words of the two word searches: :data:`DOCS_STOPWORDS` and :data:`SIMILARITY_STOPWORDS`.
"""

from __future__ import annotations

import json
import re
from typing import Any

import polars as pl

from ..frame import dumps, loads
from ..sqltext import sql_literal

#: Characters of a trace's text that are embedded or compared (wordllama averages token vectors:
#: more text only dilutes the signal).
MAX_TEXT_CHARS = 2000
#: Characters of one cell shown to a model in a table preview.
CELL_CHARS = 160
#: Rows of a table shown to a model.
PREVIEW_ROWS = 10


# -- stop words ------------------------------------------------------------------------------------
# Two lists, because the two searches see different text. (Language detection keeps its own
# per-language lists in :mod:`loop_jupyter.analysis.languages`.)

#: Words dropped from documentation search queries and sections (:mod:`loop_jupyter.analysis.docs_search`,
#: BM25). Its tokens are any run of ``[a-z0-9_%]``, so short function words ("a", "i", "do", "me")
#: and the words of a "how do I ...?" question are listed; everything else may be a docs term.
DOCS_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "to",
        "of",
        "in",
        "on",
        "for",
        "and",
        "or",
        "is",
        "are",
        "be",
        "it",
        "i",
        "do",
        "how",
        "can",
        "my",
        "me",
        "with",
        "from",
        "by",
        "this",
        "that",
        "what",
        "as",
        "at",
        "you",
        "your",
        "we",
        "our",
        "use",
        "using",
    ]
)

#: Words dropped from trace text before similar traces are compared (:mod:`loop_jupyter.analysis.similar`).
#: Its tokens have three or more characters, so no short words; the list adds the filler of chat
#: transcripts and serialised messages ("user", "assistant", "content", "role", "null", "true") that
#: every trace shares and that would make unrelated traces look alike.
SIMILARITY_STOPWORDS = frozenset(
    [
        "the",
        "and",
        "for",
        "with",
        "that",
        "this",
        "from",
        "you",
        "your",
        "are",
        "was",
        "were",
        "have",
        "has",
        "had",
        "not",
        "but",
        "can",
        "will",
        "what",
        "when",
        "where",
        "which",
        "who",
        "how",
        "why",
        "all",
        "any",
        "its",
        "into",
        "out",
        "our",
        "about",
        "there",
        "their",
        "them",
        "they",
        "then",
        "than",
        "been",
        "being",
        "also",
        "just",
        "more",
        "most",
        "some",
        "such",
        "only",
        "over",
        "very",
        "please",
        "would",
        "could",
        "should",
        "does",
        "did",
        "doing",
        "done",
        "here",
        "like",
        "get",
        "got",
        "let",
        "use",
        "used",
        "user",
        "assistant",
        "system",
        "content",
        "message",
        "messages",
        "role",
        "text",
        "null",
        "true",
        "false",
        "none",
    ]
)


# -- cutting text ----------------------------------------------------------------------------------
def clip(text: str, limit: int, *, hint: str = "") -> str:
    """``text`` cut to ``limit`` characters with a marker saying how much was cut (and how to read on)."""
    if len(text) <= limit:
        return text
    cut = len(text) - limit
    more = f"; {hint}" if hint else ""
    return f"{text[:limit]}…[+{cut:,} chars cut of {len(text):,}{more}]"


def cell_text(value: Any, limit: int) -> str:
    """One table cell as bounded text for a model (lists and dicts as JSON, newlines escaped)."""
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, pl.Series):
        value = value.to_list()
    if isinstance(value, list | dict):
        value = json.dumps(value, default=str)
    return clip(str(value), limit).replace("\n", "\\n")


def frame_preview(frame: pl.DataFrame, *, rows: int = PREVIEW_ROWS, cell_chars: int = CELL_CHARS) -> str:
    """A bounded text summary of a table: row count, columns, and the head with clipped cells.

    Long cells carry a marker with their full length; ``read_field`` reads the rest.
    """
    columns = frame.columns
    lines = [f"{frame.height:,} row{'s' if frame.height != 1 else ''} × {len(columns)} columns: {', '.join(columns)}"]
    if frame.height == 0:
        return lines[0]
    lines.append(" | ".join(columns))
    for row in frame.head(rows).iter_rows():
        lines.append(" | ".join(cell_text(v, cell_chars) for v in row))
    if frame.height > rows:
        lines.append(f"… {frame.height - rows:,} more rows (the full table is in the artifact)")
    return "\n".join(lines)


def shorten(text: str | None, width: int = 80) -> str:
    """One line (whitespace collapsed) of at most ``width`` characters, ending in … when cut.
    For labels a person reads; :func:`clip` is the model-facing cut with a marker."""
    text = re.sub(r"\s+", " ", text or "").strip()
    return text if len(text) <= width else text[: width - 1] + "…"


def shorten_middle(text: str | None, width: int = 100) -> str:
    """Keep both ends: error messages often differ only in their tail (a model, a table name)."""
    text = re.sub(r"\s+", " ", text or "").strip()
    if len(text) <= width:
        return text
    head = (width - 1) * 3 // 5
    return text[:head] + "…" + text[len(text) - (width - 1 - head) :]


# -- text of JSON fields and chat messages ---------------------------------------------------------
_SKIP_KEYS = {"role", "type", "id", "tool_call_id", "name_id", "cache_control", "index"}


def json_text(value: str | None, limit: int = MAX_TEXT_CHARS) -> str:
    """The human text in a JSON field: string leaves in order (message contents, prompts), capped."""
    if value is None:
        return ""
    try:
        parsed = loads(value)
    except ValueError:
        return value[:limit]
    out: list[str] = []
    size = 0

    def walk(node: Any) -> None:
        nonlocal size
        if size >= limit:
            return
        if isinstance(node, str):
            out.append(node)
            size += len(node) + 1
        elif isinstance(node, dict):
            for key, item in node.items():
                if key not in _SKIP_KEYS:
                    walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif node is not None and not isinstance(node, bool):
            out.append(str(node))
            size += len(out[-1]) + 1

    walk(parsed)
    return " ".join(out)[:limit]


def user_text(value: str | None, limit: int = MAX_TEXT_CHARS, *, which: str = "last") -> str:
    """What the user asked: the last (or ``which="first"``) user message of a chat input, else the
    whole input's text."""
    if value is None:
        return ""
    try:
        parsed = loads(value)
    except ValueError:
        return value[:limit]
    messages = parsed.get("messages") if isinstance(parsed, dict) else parsed
    if isinstance(messages, list):
        users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        if users:
            return json_text(_dumps(message_content(users[0 if which == "first" else -1])), limit)
    return json_text(value, limit)


def message_content(message: dict[str, Any]) -> Any:
    """A chat message's content, under the key its SDK uses (``content``; ``contents`` or Gemini's
    ``parts``)."""
    for key in ("content", "contents", "parts"):
        if key in message:
            return message[key]
    return None


def _dumps(value: Any) -> str | None:
    return None if value is None else dumps(value)


# -- error masking ---------------------------------------------------------------------------------
#: Masks of :func:`error_kind` (coarse: one label per kind of error, for grouping traces).
ERROR_KIND_MASKS = (
    (re.compile(r"'[^']*'|\"[^\"]*\""), "<str>"),
    (re.compile(r"\b[0-9a-f]{8,}(?:-[0-9a-f]{4,})*\b", re.IGNORECASE), "<id>"),
    (re.compile(r"\d+(?:\.\d+)?"), "<n>"),
)


def error_kind(error: str | None, limit: int = 80) -> str | None:
    """A short normalised error label (numbers, ids and quoted names masked) for grouping."""
    if error is None:
        return None
    try:
        parsed = loads(error)
    except ValueError:
        parsed = error
    if isinstance(parsed, dict):
        text = str(parsed.get("type") or parsed.get("name") or parsed.get("message") or parsed.get("error") or parsed)
    else:
        text = str(parsed)
    text = text.strip().splitlines()[0] if text.strip() else "error"
    for pattern, mask in ERROR_KIND_MASKS:
        text = pattern.sub(mask, text)
    return text[:limit]


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
ERROR_MESSAGE_MASKS: list[tuple[str, str]] = [
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
    # Longest first (a name inside a longer one waits), then by name: the same order every run.
    for name in sorted({m for m in models or () if m and len(m) > 2}, key=lambda m: (-len(m), m)):
        expr = expr.str.replace_all(name, "<model>", literal=True)
    for pattern, replacement in ERROR_MESSAGE_MASKS:
        expr = expr.str.replace_all(pattern, replacement)
    return expr.str.strip_chars().str.slice(0, 300)


def normalize_text(message: str) -> str:
    """The Python twin of :func:`normalize_message` (for one string)."""
    return pl.select(normalize_message(pl.lit(message))).item()


__all__ = [
    "CELL_CHARS",
    "ERROR_KIND_MASKS",
    "ERROR_MESSAGE_MASKS",
    "MAX_TEXT_CHARS",
    "MODEL_NAME",
    "PREVIEW_ROWS",
    "URL",
    "URL_HOST",
    "cell_text",
    "clip",
    "error_kind",
    "frame_preview",
    "json_text",
    "message_content",
    "normalize_message",
    "normalize_text",
    "shorten",
    "shorten_middle",
    "sql_literal",
    "user_text",
]
