"""common_errors' per-group rankings (span_names, by_model, by_span, by_host) list equal counts in
the order of the value, whatever the rows' order, the thread count or the path (Polars or the
engine's SQL). They were ranked by Polars ``value_counts``, whose order among equal counts follows
its hashing and threads, and by first appearance in the SQL; the expected lists here are computed
with collections.Counter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from loop_jupyter.analysis import errors_sql
from loop_jupyter.analysis.errors import (
    _KIND_CATEGORIES,
    MODEL_ERROR_PATTERNS,
    common_errors,
    error_spans,
    polars_common_errors,
)
from loop_jupyter.schema import SCHEMA, empty_frame
from loop_jupyter.tools import ToolContext

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

# One error group ("ValueError: boom"): span names and models with equal counts, in an order that
# is neither alphabetical nor reverse alphabetical, and a second group so the join has two keys.
NAMES = ["step-k", "step-c", "step-x", "step-a", "step-m", "step-e", "step-q", "step-b", "step-z", "step-f"]
MODELS = ["m-d", "m-b", "m-e", "m-a", "m-c"] * 2 + ["m-e", "m-c"]  # m-e and m-c 3 times, the others twice
HOSTS = ["h9.example.com", "h2.example.com", "h5.example.com", "h1.example.com"]


def _frame(order: list[int] | None = None) -> pl.DataFrame:
    rows = []
    for i in range(len(MODELS)):
        host = HOSTS[i % len(HOSTS)]
        rows.append(
            {
                "name": NAMES[i % len(NAMES)],
                "model": MODELS[i],
                "error": json.dumps(f"ValueError: boom at https://{host}/v1"),
            }
        )
    rows += [{"name": n, "model": None, "error": json.dumps("KeyError: gone")} for n in ("zz", "aa", "mm")]
    if order is not None:
        rows = [rows[i] for i in order]
    n = len(rows)
    spans = pl.DataFrame(
        {
            "id": [f"s{i:02d}" for i in range(n)],
            "span_id": [f"s{i:02d}" for i in range(n)],
            "root_span_id": [f"t{i:02d}" for i in range(n)],
            "is_root": [True] * n,
            "name": [r["name"] for r in rows],
            "type": ["llm"] * n,
            "model": [r["model"] for r in rows],
            "start": [NOW - timedelta(minutes=i) for i in range(n)],
            "created": [NOW - timedelta(minutes=i) for i in range(n)],
            "error": [r["error"] for r in rows],
        }
    )
    return pl.concat([empty_frame(), spans], how="diagonal_relaxed").cast(SCHEMA)


def _ranked(values: list[str | None], k: int, with_counts: bool) -> list[str]:
    counts = Counter(v for v in values if v is not None)
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:k]
    return [f"{v}: {n}" if with_counts else v for v, n in top]


def _expected(frame: pl.DataFrame, marker: str) -> dict[str, list[str]]:
    rows = frame.filter(pl.col("error").str.contains(marker, literal=True))
    hosts = [e.split("https://")[1].split("/")[0] if "https://" in e else None for e in rows["error"]]
    return {
        "span_names": _ranked(rows["name"].to_list(), 3, False),
        "by_model": _ranked(rows["model"].to_list(), 8, True),
        "by_span": _ranked(rows["name"].to_list(), 8, True),
        "by_host": _ranked(hosts, 8, True),
    }


def _group(groups: pl.DataFrame, marker: str) -> dict:
    (row,) = groups.filter(pl.col("message").str.contains(marker, literal=True)).iter_rows(named=True)
    return row


ORDERS = [None, list(range(14, -1, -1)), [7, 3, 11, 0, 14, 5, 9, 1, 13, 2, 8, 12, 4, 10, 6]]


@pytest.mark.parametrize("order", ORDERS, ids=["as-made", "reversed", "shuffled"])
def test_equal_counts_rank_by_value_in_polars(order: list[int] | None) -> None:
    frame = _frame(order)
    groups = polars_common_errors(error_spans(frame), 20)["groups"]
    for marker in ("boom", "gone"):
        row = _group(groups, marker)
        assert {k: row[k] for k in ("span_names", "by_model", "by_span", "by_host")} == _expected(frame, marker)
    # The case tests ties: several values share a count in each list.
    assert _expected(frame, "boom")["by_model"] == ["m-c: 3", "m-e: 3", "m-a: 2", "m-b: 2", "m-d: 2"]


@pytest.mark.parametrize("order", ORDERS, ids=["as-made", "reversed", "shuffled"])
def test_equal_counts_rank_by_value_in_sql(order: list[int] | None) -> None:
    frame = _frame(order)
    found = errors_sql.sql_common_errors(ToolContext(frame), None, 20, MODEL_ERROR_PATTERNS, _KIND_CATEGORIES)
    assert found is not None
    for marker in ("boom", "gone"):
        row = _group(found["groups"], marker)
        assert {k: row[k] for k in ("span_names", "by_model", "by_span", "by_host")} == _expected(frame, marker)


def test_the_answer_text_names_tied_spans_by_name() -> None:
    text = common_errors(ToolContext(_frame(ORDERS[2]))).text
    # Two spans named per group, then the 4 first of the breakdown: all tied at one or two spans.
    boom = next(line for line in text.splitlines() if "boom" in line)
    spans = _expected(_frame(), "boom")["by_span"]
    assert f"in {', '.join(_expected(_frame(), 'boom')['span_names'][:2])};" in boom
    assert "spans " + ", ".join(spans[:4]) in boom


_CHILD = """
import json, sys
sys.path.insert(0, {root!r})
from tests.test_tie_order_errors import ORDERS, _frame
from loop_jupyter.analysis.errors import common_errors
from loop_jupyter.tools import ToolContext
print(json.dumps([common_errors(ToolContext(_frame(o))).text for o in ORDERS]))
"""


def test_one_thread_and_many_threads_answer_the_same() -> None:
    """The same answers in a process with one Polars thread, with the default, and here."""
    here = [common_errors(ToolContext(_frame(o))).text for o in ORDERS]
    assert len(set(here)) == 1, "the row order changed the answer"
    for threads in ("1", None):
        env = {k: v for k, v in os.environ.items() if k != "POLARS_MAX_THREADS"}
        if threads:
            env["POLARS_MAX_THREADS"] = threads
        env["PYTHONHASHSEED"] = "12345"
        out = subprocess.run(
            [sys.executable, "-c", _CHILD.format(root=str(ROOT))], env=env, capture_output=True, text=True, check=True
        )
        assert json.loads(out.stdout) == here, threads
