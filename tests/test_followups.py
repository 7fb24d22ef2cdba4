"""Issue 16: follow-ups read against the conversation, offline. Each pattern is a multi-turn
conversation on the demo logs (or a real fixture), and the follow-up's answer is checked against an
independent Polars computation of the rows or figure it should give.

The demo is generated with ``now`` pinned at the module's start: the engine's SQL ``now()`` is the
clock's, so relative windows ("the last 5 days") are computed here at the instants just before and
after the question ran, and the answer must equal one of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

import loop_jupyter as lj
from loop_jupyter.agent.session import Answer, Loop
from loop_jupyter.artifacts import Chart, SqlFilter, Table
from loop_jupyter.demo import generate as demo_module

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    frame, _ = demo_module._generate(2000, 0, NOW, False)
    return frame


@pytest.fixture(scope="module")
def roots(logs: pl.DataFrame) -> pl.DataFrame:
    meta = pl.col("metadata").str.json_path_match
    return logs.filter(pl.col("is_root")).with_columns(user=meta("$.user"))


@pytest.fixture
def chat(logs: pl.DataFrame, tmp_path: Path) -> Iterator[Callable[..., list[Answer]]]:
    loops: list[Loop] = []

    def converse(*questions: str, frame: pl.DataFrame | None = None) -> list[Answer]:
        loop = Loop(logs if frame is None else frame, model="offline", workdir=tmp_path)
        loops.append(loop)
        return [loop.ask(q) for q in questions]

    yield converse
    for loop in loops:
        loop.close()


# -- helpers: what an answer selected, computed independently ------------------------------------------
def rows(answer: Answer, frame: pl.DataFrame) -> set[str]:
    """Every row of the answer's filter (span ids, or root span ids for traces)."""
    sql = [a for a in answer.artifacts if isinstance(a, SqlFilter)]
    assert sql, answer.text
    found = lj.filter(frame, sql[0].sql, shape=sql[0].shape)
    return set(found["root_span_id" if sql[0].shape == "traces" else "id"])


def table(answer: Answer, title: str = "") -> pl.DataFrame:
    found = [a.frame for a in answer.artifacts if isinstance(a, Table) and title in (a.title or "")]
    assert found, answer.text
    return found[0]


def names(answer: Answer) -> list[str]:
    return [c["name"] for c in answer.tool_calls]


def timed(ask: Callable[[], Answer], expected: Callable[[datetime], object], got: Callable[[Answer], object]) -> Answer:
    """The answer's value equals ``expected(now)`` for ``now`` just before or just after it ran."""
    before = datetime.now(UTC)
    answer = ask()
    after = datetime.now(UTC)
    want = [expected(before), expected(after)]
    assert got(answer) in want, (answer.text[:800], want)
    return answer


def errors_since(logs: pl.DataFrame, now: datetime, days: int) -> pl.Expr:
    return pl.col("error").is_not_null() & (pl.col("created") > now - timedelta(days=days))


def of_users(roots: pl.DataFrame, *users: str) -> pl.Expr:
    return pl.col("root_span_id").is_in(roots.filter(pl.col("user").is_in(users))["root_span_id"].implode())


def tagged(roots: pl.DataFrame, tag: str) -> pl.Expr:
    return pl.col("root_span_id").is_in(roots.filter(pl.col("tags").list.contains(tag))["root_span_id"].implode())


def week_start(now: datetime) -> datetime:
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


GPT = pl.col("model").str.starts_with("gpt")


# -- narrowing ---------------------------------------------------------------------------------------
def test_and_for_last_week_is_the_previous_calendar_week(chat, logs, roots) -> None:
    def expected(now: datetime) -> set[str]:
        start = week_start(now) - timedelta(weeks=1)
        when = (pl.col("created") >= start) & (pl.col("created") < start + timedelta(weeks=1))
        return set(logs.filter(pl.col("error").is_not_null() & of_users(roots, "John Smith") & when)["id"])

    answers: list[Answer] = []
    timed(lambda: answers.extend(chat("errors for John Smith this week", "and for last week?")) or answers[-1],
          expected, lambda a: rows(a, logs))  # fmt: skip
    assert expected(NOW), "no error of John Smith in the previous week: the case tests nothing"
    assert "Follow-up to 'errors for John Smith this week'" in answers[-1].text


def test_now_only_for_gpt_models(chat, logs) -> None:
    before = datetime.now(UTC)
    answers = chat("errors in the last 5 days", "now only for gpt models")
    after = datetime.now(UTC)
    want = [set(logs.filter(errors_since(logs, t, 5) & GPT)["id"]) for t in (before, after)]
    assert rows(answers[1], logs) in want and want[0], answers[1].text
    assert rows(answers[1], logs) < rows(answers[0], logs)


def test_what_about_another_user_replaces_the_user(chat, logs, roots) -> None:
    answers = chat("errors for John Smith", "what about Maria Garcia?")
    want = set(logs.filter(pl.col("error").is_not_null() & of_users(roots, "Maria Garcia"))["id"])
    assert want and rows(answers[1], logs) == want


def test_exclude_staging_narrows_a_tool_answer(chat, logs, roots) -> None:
    answers = chat("slow requests", "exclude staging")
    assert names(answers[1]) == ["slow_requests"]
    slow = roots.filter((pl.col("duration") > 60) & ~pl.col("tags").list.contains("staging"))
    assert 0 < slow.height < roots.filter(pl.col("duration") > 60).height
    assert rows(answers[1], logs) == set(slow["root_span_id"])
    assert f"{slow.height:,} of" in answers[1].text


def test_only_errors_narrows_slow_requests(chat, logs, roots) -> None:
    answers = chat("slow requests", "only errors")
    error_roots = set(logs.filter(pl.col("error").is_not_null())["root_span_id"])
    want = set(roots.filter((pl.col("duration") > 60) & pl.col("root_span_id").is_in(error_roots))["root_span_id"])
    assert want and rows(answers[1], logs) == want


def test_just_last_week_replaces_the_window(chat, logs) -> None:
    before = datetime.now(UTC)
    answers = chat("LLM spans longer than 20 seconds in the last 2 days", "just last week")
    after = datetime.now(UTC)
    llm = (pl.col("type") == "llm") & (pl.col("duration") > 20)
    want = [set(logs.filter(llm & (pl.col("created") > t - timedelta(days=7)))["id"]) for t in (before, after)]
    assert rows(answers[1], logs) in want and want[0]
    assert (
        "created in the last 7 days" in answers[1].text and "2 days" not in answers[1].tool_calls[0]["input"]["where"]
    )


def test_exclude_a_model_family_from_an_aggregate(chat, logs) -> None:
    answers = chat("errors by model", "exclude gpt models")
    got = table(answers[1])
    want = logs.filter(pl.col("error").is_not_null() & pl.col("model").is_not_null() & ~GPT).group_by("model").len()
    assert dict(zip(got["model"], got["n"], strict=True)) == dict(want.iter_rows())


def test_a_chain_of_three_follow_ups(chat, logs, roots) -> None:
    before = datetime.now(UTC)
    answers = chat("errors in the last 5 days", "now only for gpt models", "exclude staging", "by model instead")
    after = datetime.now(UTC)
    got = table(answers[3])

    def want(now: datetime) -> dict[str, int]:
        spans = logs.filter(errors_since(logs, now, 5) & GPT & ~tagged(roots, "staging"))
        return dict(spans.group_by("model").len().iter_rows())

    assert dict(zip(got["model"], got["n"], strict=True)) in [want(before), want(after)] and want(before)


# -- pivots ------------------------------------------------------------------------------------------
def test_by_type_instead_regroups_an_aggregate(chat, logs) -> None:
    answers = chat("average latency by model", "by type instead")
    got = table(answers[1])
    want = logs.group_by("type").agg(pl.col("duration").mean())
    assert got.columns[0] == "type"
    for kind, mean in want.iter_rows():
        assert got.filter(pl.col("type") == kind)["avg_duration"].item() == pytest.approx(mean)


def test_common_errors_by_model_instead(chat, logs) -> None:
    answers = chat("what are the most common errors?", "by model instead")
    assert names(answers[0]) == ["common_errors"] and names(answers[1]) == ["run_sql"]
    got = table(answers[1])
    want = logs.filter(pl.col("error").is_not_null() & pl.col("model").is_not_null()).group_by("model").len()
    assert dict(zip(got["model"], got["n"], strict=True)) == dict(want.iter_rows())


def test_show_that_as_a_chart(chat, logs) -> None:
    answers = chat("average latency by model", "show that as a chart")
    assert names(answers[1]) == ["chart"]
    assert any(isinstance(a, Chart) for a in answers[1].artifacts)
    got = table(answers[1])
    want = logs.filter(pl.col("model").is_not_null()).group_by("model").agg(pl.col("duration").mean())
    want = want.sort(["duration", "model"], descending=[True, False])  # the chart text's order: ties by name
    slowest, fastest = want.row(0), want.row(-1)
    assert f"highest {slowest[1]:,.4g} at {slowest[0]}" in answers[1].text
    assert f"lowest {fastest[1]:,.4g} at {fastest[0]}" in answers[1].text
    assert got.height == want.height


def test_a_filter_as_a_chart_counts_its_rows_per_day(chat, logs) -> None:
    answers = chat("errors for John Smith", "as a chart")
    got = table(answers[1])
    user_roots = logs.filter(pl.col("is_root") & pl.col("metadata").str.contains('"user":"John Smith"'))
    errors = logs.filter(
        pl.col("error").is_not_null() & pl.col("root_span_id").is_in(user_roots["root_span_id"].implode())
    )
    want = errors.group_by(pl.col("created").dt.truncate("1d")).len()
    assert got["spans"].sum() == errors.height and got.height == want.height


def test_show_the_slowest_one_of_a_filter(chat, logs) -> None:
    answers = chat("errors with model gpt-5.1", "show the slowest one")
    assert names(answers[1]) == ["summarize_trace"]
    having = logs.filter(pl.col("error").is_not_null() & (pl.col("model") == "gpt-5.1"))["root_span_id"].unique()
    traces = lj.traces(logs).filter(pl.col("root_span_id").is_in(having.implode()))
    slowest = traces.sort(["duration", "created", "root_span_id"], descending=[True, True, False], nulls_last=True).row(
        0, named=True
    )
    assert answers[1].tool_calls[0]["input"]["root_span_id"] == slowest["root_span_id"]


# -- why -------------------------------------------------------------------------------------------
def test_why_after_slow_requests_compares_those_traces(chat, roots) -> None:
    answers = chat("slow requests", "why?")
    assert names(answers[1]) == ["root_causes"]
    slow = roots.filter(pl.col("duration") > 60).height
    assert f"— {slow:,} of {roots.height:,} traces" in answers[1].text


def test_why_after_a_group_compares_that_groups_traces(chat, logs, roots) -> None:
    answers = chat("errors by model", "the second group", "why?")
    model = table(answers[0])["model"][1]
    symptom = logs.filter(pl.col("error").is_not_null() & (pl.col("model") == model))["root_span_id"].n_unique()
    assert f"— {symptom:,} of {roots.height:,} traces" in answers[2].text


# -- references -------------------------------------------------------------------------------------
def test_average_duration_of_those_traces(chat, logs) -> None:
    answers = chat("errors with model claude-4.5-haiku", "average duration of those traces")
    having = logs.filter(pl.col("error").is_not_null() & (pl.col("model") == "claude-4.5-haiku"))["root_span_id"]
    want = lj.traces(logs).filter(pl.col("root_span_id").is_in(having.unique().implode()))
    got = table(answers[1])
    assert got["n"].item() == want.height and got["avg_duration"].item() == pytest.approx(want["duration"].mean())


def test_count_those_traces_by_user(chat, roots) -> None:
    answers = chat("slow requests", "count those traces by user")
    got = table(answers[1])
    want = roots.filter(pl.col("duration") > 60).group_by("user").len()
    assert dict(zip(got["user"], got["n"], strict=True)) == dict(want.iter_rows())


def test_errors_of_that_user_after_frustrated_users(chat, logs, roots) -> None:
    answers = chat("which users are frustrated?", "errors of that user")
    user = table(answers[0], "Frustrated users")["user"][0]
    want = set(logs.filter(pl.col("error").is_not_null() & of_users(roots, user))["id"])
    assert want and rows(answers[1], logs) == want
    assert f"'that user' = {user}" in answers[1].text


def test_that_user_of_one_trace(chat, logs, roots) -> None:
    answers = chat("show me the slowest trace", "what about that user?")
    root = answers[0].tool_calls[0]["input"]["root_span_id"]
    user = roots.filter(pl.col("root_span_id") == root)["user"].item()
    # "what about that user?" narrows the earlier question (the slowest trace) to that user's traces.
    mine = lj.traces(logs).filter(pl.col("user") == user)
    mine = mine.sort(["duration", "created", "root_span_id"], descending=[True, True, False], nulls_last=True)
    assert answers[1].tool_calls[0]["input"]["root_span_id"] == mine["root_span_id"][0]


def test_the_second_group_is_that_groups_rows(chat, logs) -> None:
    answers = chat("errors by model", "the second group")
    groups = table(answers[0])
    model, n = groups.row(1)
    assert n <= groups.row(0)[1]
    want = set(logs.filter(pl.col("error").is_not_null() & (pl.col("model") == model))["id"])
    assert len(want) == n and rows(answers[1], logs) == want


def test_the_first_user_group_of_a_traces_aggregate(chat, roots, logs) -> None:
    answers = chat("errors by user", "the first one")
    user, n = table(answers[0]).row(0)
    error_roots = set(logs.filter(pl.col("error").is_not_null())["root_span_id"])
    want = set(roots.filter((pl.col("user") == user) & pl.col("root_span_id").is_in(error_roots))["root_span_id"])
    assert len(want) == n and rows(answers[1], logs) == want


# -- what is refused -------------------------------------------------------------------------------
def test_an_unreadable_follow_up_is_refused_saying_what_was_understood(chat) -> None:
    answers = chat("errors for John Smith", "now only for gpt models on the blue team")
    assert answers[1].tool_calls == []
    assert "model gpt" in answers[1].text and "'blue'" in answers[1].text and "'team'" in answers[1].text


def test_why_after_an_aggregate_is_refused(chat) -> None:
    answers = chat("average latency by model", "why?")
    assert answers[1].tool_calls == [] and "selected no traces" in answers[1].text


def test_a_group_past_the_last_is_refused(chat) -> None:
    answers = chat("errors by model", "the tenth group")
    n = table(answers[0]).height
    assert answers[1].tool_calls == [] and f"has {n} groups, no tenth" in answers[1].text


def test_a_question_of_its_own_is_not_a_follow_up(chat, logs) -> None:
    answers = chat("errors for John Smith", "LLM spans with errors")
    want = set(logs.filter(pl.col("error").is_not_null() & (pl.col("type") == "llm"))["id"])
    assert rows(answers[1], logs) == want and "Follow-up" not in answers[1].text


# -- real fixtures ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tau(fixtures_dir: Path) -> pl.DataFrame:
    return lj.load_logs(fixtures_dir / "tau-bench" / "gpt-4o-airline.json")


def test_tau_bench_second_tool_then_why(chat, tau) -> None:
    answers = chat("count tool spans by name", "the second group", "why?", frame=tau)
    tools = tau.filter(pl.col("type") == "tool").group_by("name").len().sort(["len", "name"], descending=[True, False])
    name, n = tools.row(1)
    assert table(answers[0]).row(1) == (name, n)
    assert rows(answers[1], tau) == set(tau.filter((pl.col("type") == "tool") & (pl.col("name") == name))["id"])
    traces = tau.filter(pl.col("name") == name)["root_span_id"].n_unique()
    assert f"— {traces:,} of {tau['root_span_id'].n_unique():,} traces" in answers[2].text


def test_tau_bench_narrow_an_aggregate_to_a_user(chat, tau) -> None:
    answers = chat("tool calls per trace", "now only for user mia_li_3668", frame=tau)
    traces = lj.traces(tau).filter(pl.col("user") == "mia_li_3668")
    got = table(answers[1])
    assert traces.height and got["traces"].item() == traces.height
    assert got["avg_tool_calls"].item() == pytest.approx(traces["tool_calls"].mean())


def test_tau_bench_the_biggest_of_those(chat, tau) -> None:
    answers = chat("traces with more than 10 tool calls", "show the biggest one", frame=tau)
    traces = lj.traces(tau).filter(pl.col("tool_calls") > 10)
    biggest = traces.sort(["span_count", "created", "root_span_id"], descending=[True, True, False]).row(0, named=True)
    assert answers[1].tool_calls[0]["input"]["root_span_id"] == biggest["root_span_id"]


def test_a_question_of_its_own_after_and_is_answered_alone(chat, logs) -> None:
    answers = chat("errors for John Smith", "and what are the most common errors?")
    assert names(answers[1]) == ["common_errors"]
    errors = logs.filter(pl.col("error").is_not_null())
    assert f"{errors.height:,} error spans in {errors['root_span_id'].n_unique():,} of" in answers[1].text


def test_narrow_then_group_in_one_follow_up(chat, roots, logs) -> None:
    answers = chat("slow requests", "now only errors, by user")
    error_roots = logs.filter(pl.col("error").is_not_null())["root_span_id"].unique().implode()
    want = roots.filter((pl.col("duration") > 60) & pl.col("root_span_id").is_in(error_roots)).group_by("user").len()
    got = table(answers[1])
    assert dict(zip(got["user"], got["n"], strict=True)) == dict(want.iter_rows())


def test_narrowing_a_tool_answer_keeps_the_tool(chat, logs) -> None:
    answers = chat("what are the most common errors?", "only for gpt models")
    assert names(answers[1]) == ["common_errors"]
    gpt_roots = logs.filter(GPT)["root_span_id"].unique().implode()
    errors = logs.filter(pl.col("error").is_not_null() & pl.col("root_span_id").is_in(gpt_roots))
    assert f"Errors overall: {errors.height:,} spans in {errors['root_span_id'].n_unique():,} of" in answers[1].text


def test_openhands_narrow_by_duration_then_the_slowest(chat, fixtures_dir) -> None:
    logs = lj.load_logs(fixtures_dir / "openhands" / "multi_swe_bench_output.jsonl")
    answers = chat("LLM spans", "now only longer than 10 seconds", "show the slowest one", frame=logs)
    slow = logs.filter((pl.col("type") == "llm") & (pl.col("duration") > 10))
    assert slow.height and rows(answers[1], logs) == set(slow["id"])
    traces = lj.traces(logs).filter(pl.col("root_span_id").is_in(slow["root_span_id"].implode()))
    slowest = traces.sort(["duration", "created", "root_span_id"], descending=[True, True, False], nulls_last=True)
    slowest = slowest["root_span_id"][0]
    assert answers[2].tool_calls[0]["input"]["root_span_id"] == slowest


def test_a_row_of_common_errors_is_refused_saying_why(chat) -> None:
    answers = chat("what are the most common errors?", "the second group")
    assert answers[1].tool_calls == []
    assert "I cannot turn a row of common_errors's table into a filter offline" in answers[1].text
