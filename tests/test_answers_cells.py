"""Issue 14 item 13: the frustrated-users table showed ``\\u00d72`` (escaped text) instead of ×2.

The escaping happened in the widgets' table cells (``json.dumps`` of a list cell with its default
``ensure_ascii=True``). The test runs the real frustration tool on the demo logs and checks the
cells keep the characters."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from loop_jupyter import demo
from loop_jupyter.analysis.frustration import frustrated_users
from loop_jupyter.artifacts import Table

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def test_frustration_cells_keep_the_times_sign() -> None:
    from loop_jupyter.widgets._base import frame_rows

    logs = demo.demo_logs(2000, seed=0, now=NOW)
    table = frustrated_users(logs).first(Table).frame
    repeated = table.filter(pl.col("signals").list.eval(pl.element().str.contains("×")).list.any())
    assert repeated.height > 0
    cells = [c for row in frame_rows(repeated.select("signals")) for c in row]
    assert all("×" in c and "\\u00d7" not in c for c in cells), cells[:3]
