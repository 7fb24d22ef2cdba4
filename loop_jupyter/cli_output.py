"""What the CLI's commands share: exit statuses (docs/cli.md), frames printed and as ``--json``.

Apart from ``cli.py`` so the command modules (``cli_store``) use them without importing the entry
point back.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from .terminal import echo

#: Exit statuses (docs/cli.md): scripts tell a bad command line from a refused query.
EXIT_OK = 0
#: Not answered: the model or planner failed, no filter came out, a file would be replaced.
EXIT_NOT_ANSWERED = 1
#: Usage: argparse's own status for a bad command line; also logs that cannot be read (--logs PATH),
#: a load with skipped records, and an output that exists.
EXIT_USAGE = 2
#: A query (SQL, or a filter condition) refused by the sandbox or failed in the engine.
EXIT_QUERY = 3
#: Interrupted (Ctrl-C), as shells report SIGINT.
EXIT_INTERRUPTED = 130
#: The reader of stdout went away (``| head``, a pager quit early), as shells report SIGPIPE.
EXIT_BROKEN_PIPE = 141


def print_frame(frame: pl.DataFrame, max_rows: int = 40) -> None:
    with pl.Config(tbl_rows=max_rows, tbl_cols=12, fmt_str_lengths=60, tbl_width_chars=160):
        echo(frame)


#: The columns ``filter`` prints of each shape (``--json`` gives the ids).
FILTER_COLUMNS = {
    "traces": ["root_span_id", "name", "user", "duration", "span_count", "error_count", "total_tokens"],
    "spans": ["id", "name", "type", "model", "duration", "tokens", "error"],
}


def print_filtered(rows: pl.DataFrame, shape: str, select: str, count: int, limit: int) -> None:
    """What ``filter`` prints without ``--json``: the SQL it ran, how many rows match, the first ``limit``."""
    echo(f"-- {select}\n-- {count:,} {shape}")
    print_frame(rows.select(FILTER_COLUMNS[shape]), max_rows=limit)


def frame_json(frame: pl.DataFrame, cap: int | None = None) -> dict[str, Any]:
    """``{"columns", "rows", "total_rows"}`` with rows as lists (dates ISO, lists as lists)."""
    from .artifacts import json_rows

    return {"columns": frame.columns, "rows": json_rows(frame, cap), "total_rows": frame.height}
