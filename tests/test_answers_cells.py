"""Issue 14 item 13: the frustrated-users table showed ``\\u00d72`` (escaped text) instead of ×2.

The escaping happens in the widgets' table cells (``json.dumps`` of a list cell with its default
``ensure_ascii=True``); widgets/ belongs to another engineer in this round, so the fix there is one
argument: ``json.dumps(..., ensure_ascii=False)`` in ``widgets/_base.cell``. The test runs the real
frustration tool on the demo logs and fails until the cell keeps the characters (strict xfail: it
turns red as soon as the fix lands, so the mark is removed then)."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from loop_jupyter import demo
from loop_jupyter.analysis.frustration import frustrated_users
from loop_jupyter.artifacts import Table

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


@pytest.mark.xfail(strict=True, reason="widgets/_base.cell json.dumps needs ensure_ascii=False (widgets/ not ours)")
def test_frustration_cells_keep_the_times_sign() -> None:
    from loop_jupyter.widgets._base import frame_rows

    logs = demo.demo_logs(2000, seed=0, now=NOW)
    table = frustrated_users(logs).first(Table).frame
    repeated = table.filter(pl.col("signals").list.eval(pl.element().str.contains("×")).list.any())
    assert repeated.height > 0
    cells = [c for row in frame_rows(repeated.select("signals")) for c in row]
    assert all("×" in c and "\\u00d7" not in c for c in cells), cells[:3]
