"""The phrasings the product itself suggests in its answers ("ask e.g. 'why do deploys fail?'", "name
one in the question ('the slowest trace', 'the latest trace from John Smith')", the explorer's "e.g.
'errors from the last day'") asked on the demo logs, each checked against an independent Polars
computation. The follow-ups it lists ("Follow-ups I read: 'now only for gpt models', ...") are
checked in tests/test_followups.py.

Wrong before: the answer after root causes suggested 'why did those traces fail?', which the
planner could not read ("I did not understand: 'fail'"), after root causes or any other answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from loop_jupyter.agent.session import Answer, Loop
from loop_jupyter.artifacts import Table
from loop_jupyter.demo import generate as demo_module
from loop_jupyter.widgets.explorer import TraceExplorer

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    frame, _ = demo_module._generate(2000, 0, NOW, False)
    return frame


@pytest.fixture(scope="module")
def roots(logs: pl.DataFrame) -> pl.DataFrame:
    return logs.filter(pl.col("is_root")).with_columns(user=pl.col("metadata").str.json_path_match("$.user"))


@pytest.fixture
def chat(logs: pl.DataFrame, tmp_path: Path) -> Iterator:
    loops: list[Loop] = []

    def converse(*questions: str) -> list[Answer]:
        loop = Loop(logs, model="offline", workdir=tmp_path)
        loops.append(loop)
        return [loop.ask(q) for q in questions]

    yield converse
    for loop in loops:
        loop.close()


def names(answer: Answer) -> list[str]:
    return [c["name"] for c in answer.tool_calls]


def table(answer: Answer) -> pl.DataFrame:
    (frame,) = [a.frame for a in answer.artifacts if isinstance(a, Table)][:1]
    return frame


def error_roots(logs: pl.DataFrame, expr: pl.Expr) -> set[str]:
    return set(logs.filter(pl.col("error").is_not_null() & expr)["root_span_id"])


#: Suggested phrasing → the file that suggests it (the test fails when the suggestion is gone).
SUGGESTED = {
    "why do deploys fail?": "loop_jupyter/agent/planner/followups.py",
    "plot latency": "loop_jupyter/agent/planner/followups.py",
    "errors by day": "loop_jupyter/agent/planner/followups.py",
    "errors by model": "loop_jupyter/agent/planner/followups.py",
    "the second group": "loop_jupyter/agent/planner/followups.py",
    "errors from the last day": "loop_jupyter/widgets/explorer.py",
    "How do my agents fail?": "loop_jupyter/analysis/failure_mode_actions.py",
    "the slowest trace": "loop_jupyter/analysis/_trace_parts.py",
    "the latest trace from John Smith": "loop_jupyter/analysis/_trace_parts.py",
}


def test_every_suggestion_is_checked() -> None:
    for phrase, path in SUGGESTED.items():
        assert f"'{phrase}'" in (ROOT / path).read_text(), (phrase, path)
    # Every "e.g. '...'" written in the package is one of them.
    found = set()
    for path in (ROOT / "loop_jupyter").rglob("*.py"):
        found |= set(re.findall(r"e\.g\. '([^'{}]+)'", path.read_text()))
    assert found and found <= set(SUGGESTED), sorted(found - set(SUGGESTED))
    assert "why did those traces fail" not in (ROOT / "loop_jupyter/agent/planner/followups.py").read_text()


def test_why_do_deploys_fail(chat, logs, roots) -> None:
    (answer,) = chat("why do deploys fail?")
    assert names(answer) == ["root_causes"]
    failing = error_roots(logs, pl.col("name") == "deploy_app")
    assert failing and f"— {len(failing):,} of {roots.height:,} traces" in answer.text


def test_the_suggestion_after_root_causes_is_answered(chat, logs, roots) -> None:
    first, second = chat("agent claims success but didn't do it — why?", "why?")
    assert names(first) == ["root_causes"] and second.tool_calls == []
    (suggested,) = re.findall(r"e\.g\. '([^']+)'", second.text)
    (answer,) = chat(suggested)
    assert names(answer) == ["root_causes"] and "I did not understand" not in answer.text


def test_why_did_those_traces_fail_after_slow_requests(chat, roots) -> None:
    answers = chat("slow requests", "why did those traces fail?")
    assert names(answers[1]) == ["root_causes"], answers[1].text[:300]
    slow = roots.filter(pl.col("duration") > 60).height
    assert slow and f"— {slow:,} of {roots.height:,} traces" in answers[1].text


def test_errors_by_day(chat, logs) -> None:
    (answer,) = chat("errors by day")
    got = table(answer)
    errors = logs.filter(pl.col("error").is_not_null())
    want = errors.group_by(pl.col("created").dt.truncate("1d").alias("day")).len().sort("day")
    assert [(d.date(), n) for d, n in got.rows()] == [(d.date(), n) for d, n in want.rows()]


def test_errors_by_model(chat, logs) -> None:
    (answer,) = chat("errors by model")
    got = table(answer)
    want = logs.filter(pl.col("error").is_not_null() & pl.col("model").is_not_null()).group_by("model").len()
    assert dict(got.rows()) == dict(want.rows())
    assert got["n"].to_list() == sorted(got["n"].to_list(), reverse=True)


def test_plot_latency_is_a_chart(chat, roots) -> None:
    (answer,) = chat("plot latency")
    assert names(answer) == ["chart"]
    p50 = roots["duration"].quantile(0.5, "linear")
    (stated,) = re.findall(r"p50 ([\d.]+) s", answer.text)
    assert abs(float(stated) - p50) < 0.006


def test_errors_from_the_last_day_in_the_explorer(logs) -> None:
    """The explorer's own example description: its filter keeps the traces with an error span
    created in the last day (computed for the instants just before and after it ran)."""
    loop = Loop(logs, model="offline")
    try:
        explorer = TraceExplorer(logs, loop=loop)
        before = datetime.now(UTC)
        explorer.set_filter(explorer.generate_filter("errors from the last day"))
        after = datetime.now(UTC)
        got = set(explorer.filtered["root_span_id"])
    finally:
        loop.close()
    want = [error_roots(logs, pl.col("created") > t - timedelta(days=1)) for t in (before, after)]
    assert want[0] and got in want


@pytest.mark.parametrize("phrase", ["show me the slowest trace", "show me the latest trace from John Smith"])
def test_naming_one_trace(chat, roots, phrase: str) -> None:
    (answer,) = chat(phrase)
    assert names(answer) == ["summarize_trace"]
    if "slowest" in phrase:
        ranked = roots.sort(["duration", "created", "root_span_id"], descending=[True, True, False], nulls_last=True)
    else:
        ranked = roots.filter(pl.col("user") == "John Smith").sort(
            ["created", "root_span_id"], descending=[True, False]
        )
    assert answer.tool_calls[0]["input"]["root_span_id"] == ranked["root_span_id"][0]
