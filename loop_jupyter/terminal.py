"""Writing to a terminal: log text is shown, never obeyed.

Log text is written by anyone (end users of the traced app, pages an agent fetched). Printed raw, an
escape sequence in it would drive the terminal: set the window title, write the clipboard
(``ESC ] 52``), clear the screen, move the cursor to overwrite what was printed, or reorder a line
with bidi overrides. :func:`echo` is the one way the CLI writes text: every control character except
newline and tab is shown as its escape (``\\x1b``, ``\\x9b``, ``\\u202e``). JSON output goes through
:func:`echo_json` instead, exact: ``json.dumps`` escapes control characters itself.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any, TextIO

#: C0 controls but tab and newline, DEL, C1 controls, bidi marks/embeddings/overrides/isolates
#: (U+061C, U+200E-F, U+202A-E, U+2066-9), line/paragraph separators, lone surrogates.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_text(text: Any) -> str:
    """``text`` with every control character but ``\\n`` and ``\\t`` written as a visible escape."""
    return _CONTROLS.sub(_escape, str(text))


def echo(*parts: Any, err: bool = False, end: str = "\n", sep: str = " ", flush: bool = False) -> None:
    """``print`` for text that may hold log text: to stdout (or stderr with ``err``), controls neutralised."""
    stream: TextIO = sys.stderr if err else sys.stdout
    stream.write(safe_text(sep.join(str(p) for p in parts) + end))
    if flush:
        stream.flush()


def echo_json(value: Any) -> None:
    """One JSON document on stdout, exact (ASCII-only: controls and non-ASCII text come out as ``\\u`` escapes)."""
    sys.stdout.write(json.dumps(value, default=str, ensure_ascii=True) + "\n")


__all__ = ["echo", "echo_json", "safe_text"]
