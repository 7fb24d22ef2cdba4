"""Issue 14 items 9 and 15, Python side: the explorer's table shows what a person reads (the user's
message, the reply, the error) with the raw JSON a request away, and "Find similar traces" answers
with scores and what the similar traces share."""

from __future__ import annotations

import json
from typing import Any

import polars as pl
import pytest

from loop_jupyter.demo import demo_logs
from loop_jupyter.widgets.explorer import TraceExplorer
from loop_jupyter.widgets.explorer_rows import error_text, reply_text


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    return demo_logs(n_traces=300, seed=5)


@pytest.fixture()
def explorer(logs: pl.DataFrame) -> TraceExplorer:
    explorer = TraceExplorer(logs, page_size=10)
    explorer.threaded = False
    sent: list[dict[str, Any]] = []
    explorer.send = lambda content, buffers=None: sent.append(content)  # type: ignore[method-assign]
    explorer.sent = sent  # type: ignore[attr-defined]
    return explorer


def _ask(explorer: TraceExplorer, **message: Any) -> dict[str, Any]:
    reply, _ = explorer.handle({"id": 5, **message})
    if reply is None:  # answered later (threaded off: already sent)
        reply = explorer.sent[-1]  # type: ignore[attr-defined]
    assert reply["ok"], reply
    return reply


def _column(reply: dict[str, Any], name: str) -> list[Any]:
    index = reply["columns"].index(name)
    return [row[index] for row in reply["rows"]]


def _first_user(value: str) -> str:
    messages = json.loads(value)
    return next(m["content"] for m in messages if m["role"] == "user")


def test_rows_show_the_users_message_the_reply_and_the_error(explorer: TraceExplorer, logs: pl.DataFrame) -> None:
    reply = _ask(explorer, type="rows", offset=0, limit=20, sort="created", descending=True)
    assert reply["columns"][:2] == ["root_span_id", "trace"]  # the id is the key; the first shown column reads
    for wanted in ("duration", "total_tokens", "total_cost", "scores", "error", "user", "tags"):
        assert wanted in reply["columns"], wanted
    roots = logs.filter(pl.col("span_id") == pl.col("root_span_id"))
    by_id = {r["root_span_id"]: r for r in roots.iter_rows(named=True)}
    for rid, trace, output in zip(
        _column(reply, "root_span_id"), _column(reply, "trace"), _column(reply, "output"), strict=True
    ):
        root = by_id[rid]
        assert trace == _first_user(root["input"])[:200].strip() or trace.endswith("…")
        assert output == json.loads(root["output"])["content"][:200] or output.endswith("…")
    for name in ("trace", "output", "error", "scores", "tags"):
        for value in _column(reply, name):
            assert not str(value).startswith(("[", "{")), (name, value)
    scores = _column(reply, "scores")[0]
    assert "Factuality" in scores and "{" not in scores


def test_error_column_shows_what_failed_inside_the_trace(explorer: TraceExplorer, logs: pl.DataFrame) -> None:
    # Traces whose root did not fail but a span inside did: the row still says what failed.
    failed = logs.filter(pl.col("error").is_not_null()).get_column("root_span_id").unique()
    roots_ok = logs.filter((pl.col("span_id") == pl.col("root_span_id")) & pl.col("error").is_null())
    inner = roots_ok.filter(pl.col("root_span_id").is_in(failed.implode())).get_column("root_span_id").to_list()
    assert inner
    explorer.set_filter("root_span_id IN (" + ", ".join(f"'{i}'" for i in inner[:10]) + ")")
    reply = _ask(explorer, type="rows", offset=0, limit=10)
    errors = _column(reply, "error")
    assert len(errors) == min(10, len(inner)) and all(errors), errors
    first = logs.filter(pl.col("root_span_id") == _column(reply, "root_span_id")[0]).filter(
        pl.col("error").is_not_null()
    )
    expected = first.sort("start").get_column("error")[0]
    assert errors[0] == error_text(expected)


def test_raw_json_is_one_request_away(explorer: TraceExplorer, logs: pl.DataFrame) -> None:
    reply = _ask(explorer, type="rows", offset=0, limit=3)
    rid = _column(reply, "root_span_id")[0]
    raw = _ask(explorer, type="raw", root_span_id=rid)
    root = logs.filter((pl.col("root_span_id") == rid) & (pl.col("span_id") == rid)).row(0, named=True)
    assert json.loads(raw["fields"]["input"]["text"]) == json.loads(root["input"])
    assert json.loads(raw["fields"]["output"]["text"]) == json.loads(root["output"])
    refused, _ = explorer.handle({"id": 6, "type": "raw", "root_span_id": "nope"})
    assert refused["ok"] is False and "no trace" in refused["error"]


def test_sort_by_the_readable_first_column(explorer: TraceExplorer) -> None:
    reply = _ask(explorer, type="rows", offset=0, limit=5, sort="trace", descending=False)
    assert len(reply["rows"]) == 5


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ('{"choices": [{"message": {"role": "assistant", "content": "from a completion"}}]}', "from a completion"),
        ('[{"role": "user", "content": "q"}, {"role": "assistant", "content": "last said"}]', "last said"),
        ('{"messages": [{"role": "assistant", "content": [{"type": "text", "text": "in blocks"}]}]}', "in blocks"),
        ('"a plain string"', "a plain string"),
        ("not json at all", "not json at all"),
        ('{"content": "just content"}', "just content"),
    ],
)
def test_reply_text_reads_the_usual_shapes(value: str, text: str) -> None:
    assert reply_text(value) == text


def test_error_text_of_an_error_object() -> None:
    assert error_text('{"type": "Timeout", "message": "GET /x took too long"}') == "Timeout: GET /x took too long"
    assert error_text("plain failure") == "plain failure"
    assert error_text(None) == ""


def test_find_similar_answers_with_scores_and_what_they_share(explorer: TraceExplorer) -> None:
    rows = _ask(explorer, type="rows", offset=0, limit=3)
    chosen = _column(rows, "root_span_id")[:1]
    _ask(explorer, type="select", ids=chosen, selected=True)
    reply = _ask(explorer, type="similar")
    results, shared = reply["results"], reply["shared"]
    assert reply["found"] == len(results["rows"]) > 0 and reply["of"] == 1
    for name in ("score", "why", "intent", "user", "tools", "error_kinds"):
        assert name in results["columns"], name
    ids = _column(results, "root_span_id")
    assert chosen[0] not in ids
    scores = _column(results, "score")
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
    assert shared["columns"][:3] == ["attribute", "value", "similar_traces"] and shared["rows"]
    assert {r[0] for r in shared["rows"]} <= {"error kind", "intent", "tool", "user"}
    # The table is filtered to the selection and what was found.
    assert reply["total"] == len(ids) + 1
