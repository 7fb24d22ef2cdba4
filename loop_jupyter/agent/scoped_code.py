"""The code of an answer in a chat scoped to one trace reproduces what its tools read: that trace.

Scoped (the explorer's ✦, "Ask Loop about this trace"), every tool sees the trace's spans only, but the
"Reproduce" cells the tools write read the notebook's ``logs``: "save the error traces as a dataset"
proposed 0 rows (the trace had no errors) while its cell, run, saved 828. The cell now starts from the
trace's spans, under a name of its own (the notebook's ``logs`` is left as it is)."""

from __future__ import annotations

import io
import tokenize
from collections.abc import Iterable

from ..artifacts import Artifact, Code
from ..snippet import literal

NAME = "trace_logs"


def _renamed(source: str) -> str | None:
    """``source`` with the Python name ``logs`` read as :data:`NAME` (strings and comments untouched:
    ``lj.sql(logs, "... FROM logs")`` keeps its table); None when the code does not read ``logs`` or
    does not tokenize."""
    lines = source.splitlines(keepends=True)
    try:
        tokens = [
            t
            for t in tokenize.generate_tokens(io.StringIO(source).readline)
            if t.type == tokenize.NAME and t.string == "logs"
        ]
    except (tokenize.TokenError, SyntaxError):
        return None
    if not tokens:
        return None
    for token in reversed(tokens):  # from the end, so earlier offsets stay right
        row, col = token.start
        line = lines[row - 1]
        lines[row - 1] = line[:col] + NAME + line[col + len("logs") :]
    return "".join(lines)


def scope_code(artifacts: Iterable[Artifact], root_span_id: str) -> None:
    """Point every Python ``Code`` artifact that reads ``logs`` at the trace's spans (in place)."""
    for artifact in artifacts:
        if not isinstance(artifact, Code) or artifact.language != "python":
            continue
        renamed = _renamed(artifact.source)
        if renamed is None:
            continue
        artifact.source = (
            "import polars as pl\n\n"
            f"# The chat is scoped to one trace: its spans, as the answer read them.\n"
            f'{NAME} = logs.filter(pl.col("root_span_id") == {literal(root_span_id)})\n' + renamed
        )


__all__ = ["scope_code"]
