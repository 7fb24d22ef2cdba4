"""Every example question of the documentation, asked of the offline planner on the demo logs, and
its answer checked against an independent Polars computation (figures, rows, ids), not just that
an answer came back.

The questions are read from their sources: README.md, docs/*.md, loop_jupyter/docs/*.md, the
notebooks and the widgets' placeholder strings (js/*.js). ``test_every_example_is_checked`` fails
when a source gains a question that :data:`CHECKS` does not check, or when a checked question is no
longer in any source.

The demo is generated with ``now`` pinned once for the module (as tests/test_demo.py pins it), at
the current time: the engine's SQL ``now()`` is the clock's, so "the last 5 days" must be the last 5
days of the demo too. Relative windows are computed here at the instants just before and after the
question ran, and the answer must equal one of them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from loop_jupyter.agent.session import Answer, Loop
from loop_jupyter.artifacts import Pending, Scorer, SqlFilter, Table
from loop_jupyter.demo import generate as demo_module
from loop_jupyter.demo.phrases import OTHER_USERS
from tests.example_sources import (
    NOT_QUESTIONS,
    Demo,
    answer_rows,
    as_asked,
    error_roots,
    filter_ids,
    first,
    meta,
    number,
    slow_roots,
    source_questions,
)
from tests.helpers import self_time_by_name

NOW = datetime.now(UTC).replace(microsecond=0)

# -- the demo and independent computations -----------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    logs, truth = demo_module._generate(2000, 0, NOW, False)
    roots = logs.filter(pl.col("is_root")).with_columns(user=meta("user"), intent=meta("intent"))
    users = ("John Smith", *OTHER_USERS)
    # The generator's per-trace truth is in root order: checked before it is used.
    assert roots["user"].to_list() == [users[u] for u in truth["user"]]
    workdir = tmp_path_factory.mktemp("examples")
    loop = Loop(logs, model="offline", workdir=workdir)
    yield Demo(logs, roots, truth, workdir, loop)
    loop.close()


#: Doc examples with no rows on the demo: the answer must be empty too (a variant above has rows).
EMPTY_ON_DEMO = {"LLM spans longer than 60 seconds in the last 5 days"}


def timed(demo: Demo, question: str, expected: Callable[[datetime], set[str]], shape: str) -> None:
    """The answer's ids equal ``expected(now)`` for ``now`` just before or just after it ran."""
    before = datetime.now(UTC)
    answer = demo.ask(question)
    after = datetime.now(UTC)
    found = filter_ids(answer, shape)
    want = [expected(before), expected(after)]
    if question in EMPTY_ON_DEMO:
        assert found == set() and want == [set(), set()] and "0 spans match" in answer.text, answer.text
        return
    if "this week" in question and before - week_start(before) < timedelta(days=3):
        # Early in the week (UTC) one user's errors this week may be none yet (the demo thins traffic
        # by weekday and hour; sampled: none up to ~30 h into the week, 1-4 up to 48 h), so the
        # answer may rightly be empty: only "equals the independent rows" is checked then.
        assert found in want, (question, len(found), [len(w) for w in want])
        return
    assert want[0] and want[1], f"the demo gives no rows for {question!r}: the case tests nothing"
    assert found in want, (question, len(found), [len(w) for w in want])


# -- the checks, one per kind of answer ----------------------------------------------------------------
def check_common_errors(demo: Demo, question: str) -> None:
    answer = demo.ask(question)
    assert [c["name"] for c in answer.tool_calls] == ["common_errors"]
    spans, traces, total = number(answer.text, r"([\d,]+) error spans in ([\d,]+) of ([\d,]+) traces")
    errors = demo.logs.filter(pl.col("error").is_not_null())
    assert (spans, traces, total) == (errors.height, errors["root_span_id"].n_unique(), demo.roots.height)
    # The first group: its fixed text up to the first placeholder names exactly its spans.
    text, count, in_traces = re.search(r"\n1\. (.+?) — ([\d,]+) spans, ([\d,]+) traces", answer.text).groups()
    # "[kind/type] message": the group's message with placeholders (<n>, <model>...) and a "…" where
    # it was shortened; every fixed piece of it is in each of its errors (error is JSON text).
    message = re.sub(r"^\[[^\]]*\] ", "", text)
    pieces = [p for p in re.split(r"<[a-z]+>|…|: ", message) if len(p.strip()) >= 4]  # ": " joins type and message
    assert sum(map(len, pieces)) >= 15, text
    group = errors.filter(pl.all_horizontal(pl.col("error").str.contains(p, literal=True) for p in pieces))
    assert (group.height, group["root_span_id"].n_unique()) == (int(count), int(in_traces))
    second = re.search(r"\n2\. .+? — ([\d,]+) spans", answer.text)
    assert second and int(second.group(1).replace(",", "")) <= group.height


def check_slow_requests(demo: Demo, question: str) -> None:
    answer = demo.ask(question)
    assert [c["name"] for c in answer.tool_calls] == ["slow_requests"]
    slow, total = number(answer.text, r"([\d,]+) of ([\d,]+) traces \([\d.]+%\) take over 60 s")
    want = slow_roots(demo).sort(["duration", "root_span_id"], descending=[True, False])
    assert (slow, total) == (want.height, demo.roots.height) and want.height > 0
    table = first(answer, Table).frame
    assert table["root_span_id"].to_list() == want["root_span_id"].head(table.height).to_list()
    assert table.height == min(50, want.height)


def check_frustrated(demo: Demo, question: str) -> None:
    answer = demo.ask(question)
    assert [c["name"] for c in answer.tool_calls] == ["frustrated_users"]
    count, users = number(answer.text, r"([\d,]+) of [\d,]+ traces score ≥ 2 for frustration, from ([\d,]+) users")
    per_user = first(answer, Table, "Frustrated users").frame
    assert per_user.height == users and per_user["frustrated_traces"].sum() == count
    # The traces listed (the top ones: the filter holds at most 20) are the users' traces shown.
    top = first(answer, Table, "Frustrated traces").frame
    sql = first(answer, SqlFilter)
    assert set(sql.ids) == set(top["root_span_id"]) == answer_rows(demo, sql) and top.height == min(20, count)
    shown = demo.roots.filter(pl.col("root_span_id").is_in(top["root_span_id"].implode()))
    assert shown["user"].to_list() and set(shown["user"]) <= set(per_user["user"])
    # Against the generator's truth (the traces it made frustrated): the count is close and the
    # top traces are frustrated ones.
    truth = set(demo.roots.filter(pl.Series(demo.truth["frustrated"]))["root_span_id"])
    assert abs(count - len(truth)) <= 0.2 * len(truth), (count, len(truth))
    assert len(set(top["root_span_id"]) & truth) >= 0.9 * top.height


def check_latency_patterns(demo: Demo, question: str) -> None:
    answer = demo.ask(question)
    assert [c["name"] for c in answer.tool_calls] == ["latency_patterns"]
    slow, total = number(answer.text, r"Slow = over 60\.0 s: ([\d,]+) of ([\d,]+) traces")
    assert (slow, total) == (slow_roots(demo).height, demo.roots.height)
    llm_slow, llm_other = number(answer.text, r"Slow vs other: ([\d.]+) vs ([\d.]+) LLM calls")
    calls = demo.logs.group_by("root_span_id").agg(llm=(pl.col("type") == "llm").sum())
    is_slow = pl.col("root_span_id").is_in(slow_roots(demo)["root_span_id"].implode())
    assert round(calls.filter(is_slow)["llm"].mean(), 1) == llm_slow
    assert round(calls.filter(~is_slow)["llm"].mean(), 1) == llm_other


def check_summary(demo: Demo, question: str) -> None:
    root = demo.roots["root_span_id"][0]
    answer = demo.ask(question, scope=root)
    assert [c["name"] for c in answer.tool_calls] == ["summarize_trace"]
    assert answer.tool_calls[0]["input"]["root_span_id"] == root
    spans = demo.logs.filter(pl.col("root_span_id") == root)
    n, seconds, llm, tokens, tools, errors = number(
        answer.text,
        rf"Trace {root}: (\d+) spans, ([\d.]+) s, (\d+) LLM calls \(([\d,]+) tokens\), (\d+) tool calls, (\d+) errors",
    )
    llm_spans = spans.filter(pl.col("type") == "llm")
    assert (n, llm, tokens, tools, errors) == (
        spans.height,
        llm_spans.height,
        llm_spans["tokens"].sum(),
        spans.filter(pl.col("type") == "tool").height,
        spans["error"].is_not_null().sum(),
    )
    assert seconds == round(spans.filter(pl.col("is_root"))["duration"][0], 2)
    # "Where the time went": self time = own duration minus the children's, summed by name.
    own = self_time_by_name(spans)
    top, top_s = re.search(r"Time went to: (\S+) ([\d.]+)s self", answer.text).groups()
    assert top == own["name"][0] and abs(float(top_s) - own["self_s"][0]) < 0.01


def check_tool_calls_of_trace(demo: Demo, question: str) -> None:
    root = demo.roots["root_span_id"][0]
    answer = demo.ask(question, scope=root)
    assert answer.tool_calls[0]["input"]["root_span_id"] == root
    tools = demo.logs.filter((pl.col("root_span_id") == root) & (pl.col("type") == "tool"))
    _, calls = number(answer.text, r"(\d+) tools available, (\d+) tool calls")
    assert calls == tools.height > 0
    assert first(answer, Table, "Tool calls").frame["tool"].to_list() == tools.sort("start")["name"].to_list()


def check_llm_timeline(demo: Demo, question: str) -> None:
    root = demo.roots["root_span_id"][0]
    answer = demo.ask(question, scope=root)
    llm = demo.logs.filter((pl.col("root_span_id") == root) & (pl.col("type") == "llm"))
    calls, tokens, seconds = number(answer.text, r"(\d+) LLM calls, ([\d,]+) tokens, ([\d.]+) s in total")
    assert (calls, tokens) == (llm.height, llm["tokens"].sum()) and llm.height > 0
    spans = demo.logs.filter(pl.col("root_span_id") == root)  # "in total": the whole trace's length
    assert abs(seconds - (spans["end"].max() - spans["start"].min()).total_seconds()) < 0.006


def check_similar(demo: Demo, question: str, *, selected: bool) -> None:
    root = demo.roots["root_span_id"][0]
    answer = demo.ask(question, selection=[root]) if selected else demo.ask(question, scope=root)
    assert [c["name"] for c in answer.tool_calls] == ["similar_traces"]
    assert f"most similar to trace {root}" in answer.text
    table = first(answer, Table).frame
    assert root not in table["root_span_id"].to_list() and table.height == 10
    # Similar traces share what the person asked for: the logged intent of the source trace is
    # at least twice as common among them as among all traces.
    intents = dict(zip(demo.roots["root_span_id"], demo.roots["intent"], strict=True))
    share = sum(intents[r] == intents[root] for r in table["root_span_id"]) / table.height
    base = sum(i == intents[root] for i in intents.values()) / len(intents)
    assert share >= 2 * base, (intents[root], share, base)


def check_intents(demo: Demo, question: str) -> None:
    answer = demo.ask(question)
    assert [c["name"] for c in answer.tool_calls] == ["classify_intents"]
    each = first(answer, Table, "Intent of each trace").frame
    assert set(each["root_span_id"]) == set(demo.roots["root_span_id"])
    joined = each.select("root_span_id", "intent_name").join(
        demo.roots.select("root_span_id", "intent"), on="root_span_id"
    )
    majority = joined.group_by("intent_name", "intent").len().group_by("intent_name").agg(pl.col("len").max())
    purity = majority["len"].sum() / joined.height
    (stated,) = number(answer.text, r"purity ([\d.]+)")
    assert round(purity, 2) == stated
    # Each group's size in the text is its number of traces.
    sizes = dict(joined.group_by("intent_name").len().iter_rows())
    for name, size in re.findall(r"\n- (.+?): ([\d,]+) \(", answer.text):
        assert sizes[name] == int(size.replace(",", "")), name


def tool_spans(demo: Demo) -> pl.DataFrame:
    return demo.logs.filter(pl.col("type") == "tool")


def check_tool_health(demo: Demo, question: str) -> None:
    answer = demo.ask(question)
    assert [c["name"] for c in answer.tool_calls] == ["tool_health"]
    health = first(answer, Table, "Tool health").frame
    tools = tool_spans(demo).group_by("name").agg(calls=pl.len(), errors=pl.col("error").is_not_null().sum())
    got = health.select("name", "calls", "errors").sort("name")
    assert (
        got.to_dicts() == tools.sort("name").with_columns(pl.col("calls", "errors").cast(got["calls"].dtype)).to_dicts()
    )
    # Ranked by blast radius: the failed calls, most first; the text's first tool fails most.
    assert health["errors"].to_list() == sorted(health["errors"].to_list(), reverse=True)
    ranked = tools.with_columns(rate=pl.col("errors") / pl.col("calls"))
    worst = ranked.sort(["errors", "rate", "name"], descending=[True, True, False])["name"][0]
    assert re.search(r"\n- (\S+):", answer.text).group(1) == worst
    # Week over week: calendar weeks (UTC, from Monday) of the tool spans; the last week is the latest.
    weekly = (
        tool_spans(demo)
        .with_columns(week=pl.col("created").dt.truncate("1w"))
        .group_by("name", "week")
        .agg(rate=1 - pl.col("error").is_not_null().mean())
    )
    last = weekly["week"].max()
    for row in health.iter_rows(named=True):
        for column, week in (("success_rate_last_week", last), ("success_rate_prev_week", last - timedelta(weeks=1))):
            want = weekly.filter((pl.col("name") == row["name"]) & (pl.col("week") == week))["rate"]
            if want.len():
                assert abs(row[column] - want[0]) < 1e-9, (row["name"], column)


def check_slowest_tools(demo: Demo, question: str) -> None:
    answer = demo.ask(question)
    table = first(answer, Table).frame
    want = tool_spans(demo).group_by("name").agg(avg=pl.col("duration").mean())
    want = want.sort(["avg", "name"], descending=[True, False], nulls_last=True)
    assert table[table.columns[0]].to_list() == want["name"].to_list()
    assert np.allclose(table["avg_duration"].to_numpy(), want["avg"].to_numpy())


def check_failed_questions(demo: Demo, question: str) -> None:
    answer = demo.ask(question)
    assert [c["name"] for c in answer.tool_calls] == ["failed_questions"]
    table = first(answer, Table, "Questions with errors").frame
    assert set(table["root_span_id"]) == error_roots(demo)
    failed = set(demo.roots.filter(pl.col("error").is_not_null())["root_span_id"])
    assert set(table.filter(pl.col("outcome") == "failed")["root_span_id"]) == failed
    # The question is the user's message of the root input (the demo logs a list of chat messages).
    asked = {
        r: json.loads(i)[-1]["content"] for r, i in zip(demo.roots["root_span_id"], demo.roots["input"], strict=True)
    }
    assert all(asked[r] == q for r, q in zip(table["root_span_id"], table["question"], strict=True))
    assert f"{len(error_roots(demo)):,} of {demo.roots.height:,} questions" in answer.text


def check_root_causes(demo: Demo, question: str) -> None:
    answer = demo.ask(question)
    assert [c["name"] for c in answer.tool_calls] == ["root_causes"]
    count, total = number(answer.text, r"— ([\d,]+) of ([\d,]+) traces")
    sql = first(answer, SqlFilter)
    symptom = answer_rows(demo, sql)
    assert len(symptom) == count == sql.count and total == demo.roots.height
    # Against the generator's truth: the traces where the agent falsely claimed a deploy.
    truth = set(demo.roots.filter(pl.Series(demo.truth["false_claim"]))["root_span_id"])
    assert len(symptom & truth) / len(truth) >= 0.9 and len(symptom & truth) / len(symptom) >= 0.9
    # The version feature, counted here.
    in_symptom, in_rest = number(
        answer.text, r"metadata\.app_version: 2\.8\.0 — [\d.]+×; (\d+)/\d+ symptom .* vs (\d+)/\d+ rest"
    )
    v280 = set(demo.roots.filter(meta("app_version") == "2.8.0")["root_span_id"])
    assert (in_symptom, in_rest) == (len(v280 & symptom), len(v280 - symptom))
    assert "deploy_app" in answer.text


def check_dataset(demo: Demo, question: str, expected: Callable[[Demo], int]) -> None:
    answer = demo.ask(question)
    assert [c["name"] for c in answer.tool_calls] == ["create_dataset"]
    (rows,) = number(answer.text, r"Ready to save ([\d,]+) rows")
    want = expected(demo)
    assert want > 0 and rows == want
    assert "Rows: " in first(answer, Pending).preview


def common_inputs(demo: Demo) -> int:
    return min(100, demo.roots["input"].drop_nulls().n_unique())


def high_scores(demo: Demo) -> int:
    scores = demo.roots["scores"].drop_nulls().to_list()
    means = [np.mean(list(json.loads(s).values())) for s in scores if json.loads(s)]
    return sum(m >= 0.8 for m in means)


def scorer_pattern(source: str) -> re.Pattern[str]:
    """The PATTERN of a generated scorer (its module run here: code this test made the tool write)."""
    namespace: dict = {}
    exec(compile(source, "<scorer>", "exec"), namespace)
    return namespace["PATTERN"]


def check_scorer(demo: Demo, question: str) -> Answer:
    answer = demo.ask(question)
    assert [c["name"] for c in answer.tool_calls] == ["create_scorer"]
    pattern = scorer_pattern(first(answer, Scorer).source)
    # The groups it was built from: each count in the preview is how many error spans it matches.
    errors = demo.logs.filter(pl.col("error").is_not_null())["error"].to_list()
    matched = sum(bool(pattern.search(e)) for e in errors)
    listed = [
        int(n) for n in re.findall(r"\((\d+)\)(?:;|\n|$)", answer.text.split("most common errors:")[1].split("\n")[0])
    ]
    assert listed and matched == sum(listed), (matched, listed)
    return answer


def check_run_scorer(demo: Demo, question: str) -> None:
    """The notebook's sequence: create the scorer, confirm it, then "run the scorer"."""
    loop = Loop(demo.logs, model="offline", workdir=demo.workdir / "scorer_run")
    try:
        created = loop.ask("create a scorer that detects these errors")
        loop.confirm(first(created, Pending).action_id)
        answer = loop.ask(question)
    finally:
        loop.close()
    pattern = scorer_pattern(first(created, Scorer).source)
    assert [c["name"] for c in answer.tool_calls] == ["run_scorer"], answer.text
    scored, mean = number(answer.text, r"over [\d,]+ traces: ([\d,]+) scored, 0 without a score, mean (\d+(?:\.\d+)?)")
    # Per trace: 0 when the root output or any span's error matches, else 1.
    errors = demo.logs.group_by("root_span_id").agg(pl.col("error").drop_nulls())
    texts = demo.roots.select("root_span_id", "output").join(errors, on="root_span_id", how="left")
    values = [
        0.0 if pattern.search(out or "") or any(pattern.search(e) for e in errs or []) else 1.0
        for out, errs in zip(texts["output"].to_list(), texts["error"].to_list(), strict=True)
    ]
    assert scored == len(values) == demo.roots.height
    assert round(float(np.mean(values)), 3) == mean


def check_plot_latency(demo: Demo, question: str) -> None:
    answer = demo.ask(question)
    assert [c["name"] for c in answer.tool_calls] == ["chart"]
    n, p50, p95, p99, top = number(
        answer.text, r"([\d,]+) traces: p50 ([\d.]+) s, p95 ([\d.]+) s, p99 ([\d.]+) s, max ([\d.]+) s"
    )
    durations = demo.roots["duration"]
    assert n == durations.len()
    for q, stated in ((0.5, p50), (0.95, p95), (0.99, p99), (1.0, top)):
        assert abs(durations.quantile(q, "linear") - stated) < 0.006, q


def check_usage_weekly(demo: Demo, question: str) -> None:
    answer = demo.ask(question)
    assert answer.tool_calls[0]["name"] == "usage_trends" and answer.tool_calls[0]["input"]["period"] == "week"
    table = first(answer, Table, "Usage per week").frame
    want = (
        demo.roots.with_columns(period=pl.col("created").dt.truncate("1w"))
        .group_by("period")
        .agg(traces=pl.len(), users=pl.col("user").n_unique())
        .sort("period")
    )
    assert table.select("period", "traces", "users").cast({"traces": pl.Int64, "users": pl.Int64}).to_dicts() == (
        want.cast({"traces": pl.Int64, "users": pl.Int64}).to_dicts()
    )


def check_summarize_placeholder(demo: Demo, question: str) -> None:
    """getting-started.md writes "summarize trace abc": "abc" stands for an id. With a real id's first
    8 characters the summary is that trace's; with "abc" itself no trace is summarised."""
    root = demo.roots["root_span_id"][5]
    answer = demo.ask(question.replace("abc", root[:8]))
    assert answer.tool_calls[0]["name"] == "summarize_trace"
    assert answer.tool_calls[0]["input"]["root_span_id"] == root
    spans = demo.logs.filter(pl.col("root_span_id") == root).height
    assert f"Trace {root}: {spans} spans" in answer.text
    literal = demo.ask(question)
    assert "Trace " not in literal.text and not [a for a in literal.artifacts if isinstance(a, Table)]


# -- filters: the rows, computed here -------------------------------------------------------------------
def spans_ids(demo: Demo, expr: pl.Expr) -> set[str]:
    return set(demo.logs.filter(expr)["id"])


def factuality() -> pl.Expr:
    return pl.col("scores").str.json_path_match("$.Factuality").cast(pl.Float64)


def of_user(demo: Demo, user: str) -> pl.Expr:
    return pl.col("root_span_id").is_in(demo.roots.filter(pl.col("user") == user)["root_span_id"].implode())


def week_start(now: datetime) -> datetime:
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def check_filter(demo: Demo, question: str, shape: str, expected: Callable[[Demo, datetime], set[str]]) -> None:
    timed(demo, question, lambda now: expected(demo, now), shape)


FILTERS: dict[str, tuple[str, Callable[[Demo, datetime], set[str]]]] = {
    "Only LLM spans": ("spans", lambda d, now: spans_ids(d, pl.col("type") == "llm")),
    "logs from the last 5 days where factuality score is less than 0.5": (
        "spans",
        lambda d, now: spans_ids(d, (pl.col("created") > now - timedelta(days=5)) & (factuality() < 0.5)),
    ),
    "LLM spans from the last 5 days": (
        "spans",
        lambda d, now: spans_ids(d, (pl.col("created") > now - timedelta(days=5)) & (pl.col("type") == "llm")),
    ),
    "LLM spans longer than 60 seconds in the last 5 days": (
        "spans",
        lambda d, now: spans_ids(
            d, (pl.col("created") > now - timedelta(days=5)) & (pl.col("type") == "llm") & (pl.col("duration") > 60)
        ),
    ),
    # The demo has no LLM span over 60 s (its slowest is about 30 s), so the docs' phrasing is also
    # checked with a threshold that has rows on every day: over 10 s, 49-76 spans in the last 5 days
    # of the demos sampled (over 20 s had 0-13: none for the demo of 2027-06-14 12:00:03 UTC).
    "LLM spans longer than 10 seconds in the last 5 days": (
        "spans",
        lambda d, now: spans_ids(
            d, (pl.col("created") > now - timedelta(days=5)) & (pl.col("type") == "llm") & (pl.col("duration") > 10)
        ),
    ),
    "errors for {user} this week": (
        "spans",
        lambda d, now: spans_ids(
            d, pl.col("error").is_not_null() & of_user(d, "John Smith") & (pl.col("created") >= week_start(now))
        ),
    ),
    "slow traces with tool errors": (
        "traces",
        lambda d, now: (
            set(slow_roots(d)["root_span_id"])
            & d.trace_ids(d.logs.filter((pl.col("type") == "tool") & pl.col("error").is_not_null()))
        ),
    ),
}


def check_attribution(demo: Demo, question: str) -> None:
    answer = demo.ask(question)
    assert [c["name"] for c in answer.tool_calls] == ["attribute_failure"]
    (count,) = number(answer.text, r"Attributed ([\d,]+) failing traces")
    # The demo's failing traces are its traces with an error (no expected answers to miss).
    assert count == len(error_roots(demo)) > 0
    table = first(answer, Table).frame
    assert set(table["root_span_id"]) <= set(error_roots(demo)) and table.height > 0
    assert table["agent"].null_count() < table.height


def check_failure_modes(demo: Demo, question: str) -> None:
    answer = demo.ask(question)
    assert [c["name"] for c in answer.tool_calls] == ["failure_modes"]
    modes, failing = number(answer.text, r"([\d,]+) failure modes over ([\d,]+) failing traces")
    assert modes >= 5 and failing >= len(error_roots(demo))
    # The largest mode, rate limits, counted from the raw errors.
    (largest,) = number(answer.text, r"Largest: model error: rate_limit ([\d,]+)")
    rate_limited = demo.logs.filter(pl.col("error").str.contains("rate_limit_error", literal=True))
    assert largest == rate_limited["root_span_id"].n_unique()


def check_follow_up_last_week(demo: Demo, question: str) -> None:
    """A follow-up (chat-widget.md): after "errors for John Smith this week", "and for last week?" is
    John Smith's error spans of the previous calendar week (UTC, from Monday)."""

    def expected(now: datetime) -> set[str]:
        start = week_start(now) - timedelta(weeks=1)
        when = (pl.col("created") >= start) & (pl.col("created") < start + timedelta(weeks=1))
        return spans_ids(demo, pl.col("error").is_not_null() & of_user(demo, "John Smith") & when)

    demo.ask("errors for John Smith this week")
    before = datetime.now(UTC)
    answer = demo.loop.ask(question)
    after = datetime.now(UTC)
    want = [expected(before), expected(after)]
    assert want[0], "John Smith has no error in the previous week of the demo: the case tests nothing"
    assert answer_rows(demo, first(answer, SqlFilter)) in want, answer.text
    assert "the calendar week before this one" in answer.text


def check_annotate(demo: Demo, question: str) -> None:
    root = demo.roots["root_span_id"][1]
    answer = demo.ask(question, scope=root)
    assert [c["name"] for c in answer.tool_calls] == ["annotate"]
    assert answer.tool_calls[0]["input"]["label"] == "wrong tool arguments"
    pending = first(answer, Pending)
    assert pending.description == "Annotate 1 span(s) as 'wrong tool arguments'" and root in pending.preview
    assert not (demo.workdir / "loop_annotations").exists()  # asked, not written


def _rate_limited_first(demo: Demo) -> pl.DataFrame:
    """Traces with a rate-limit error and when the first one happened, from the raw errors."""
    spans = demo.logs.filter(pl.col("error").str.contains("rate_limit_error", literal=True))
    return spans.group_by("root_span_id").agg(when=pl.coalesce("start", "created").min())


def check_mode_dataset_scorer(demo: Demo, question: str) -> None:
    answer = demo.ask(question)
    assert [c["name"] for c in answer.tool_calls] == ["mode_to_dataset_and_scorer"]
    want = _rate_limited_first(demo).height
    (traces,) = number(answer.text, r"failure mode 'model error: rate_limit' \(([\d,]+) traces\)")
    caught, total = number(answer.text, r"flags ([\d,]+) of the mode's ([\d,]+) traces")
    assert traces == total == caught == want > 0
    assert first(answer, Pending).description.startswith(f"Save {want:,} rows as dataset")


def check_modes_over_time(demo: Demo, question: str) -> None:
    answer = demo.ask(question)
    assert [c["name"] for c in answer.tool_calls] == ["failure_modes_over_time"]
    data = first(answer, Table).frame.filter(pl.col("mode") == "model error: rate_limit")
    expected = _rate_limited_first(demo).group_by(time=pl.col("when").dt.truncate("1d")).len().sort("time")
    assert data.sort("time").select("time", "traces").rows() == expected.rows()


CHECKS: dict[str, Callable[[Demo, str], object]] = {
    "Which agent caused the failure and at which step?": check_attribution,
    "Which agent made the mistake?": check_attribution,
    "Why did this task fail?": check_attribution,
    "How do my agents fail?": check_failure_modes,
    "Build a failure taxonomy": check_failure_modes,
    "save the top failure mode as a dataset and scorer": check_mode_dataset_scorer,
    "show failure modes over time": check_modes_over_time,
    "annotate this trace as wrong tool arguments": check_annotate,
    "the most common failure modes": check_common_errors,
    "What are the most common errors?": check_common_errors,
    "Find requests that took longer than 60 seconds.": check_slow_requests,
    "Find requests that took longer than 60 seconds": check_slow_requests,
    "slow traces over {threshold} seconds": check_slow_requests,
    "Show me traces where users were frustrated.": check_frustrated,
    "What patterns do you see in high-latency requests?": check_latency_patterns,
    "Summarize this trace": check_summary,
    "summarize this trace": check_summary,
    "where was the time spent?": check_summary,
    "explain the tool calls": check_tool_calls_of_trace,
    "show a timeline of the LLM calls": check_llm_timeline,
    "Find similar traces": lambda d, q: check_similar(d, q, selected=True),
    "find similar traces": lambda d, q: check_similar(d, q, selected=True),
    "find traces like this one": lambda d, q: check_similar(d, q, selected=False),
    "classify what users are trying to do": check_intents,
    "what are users trying to do?": check_intents,
    "What are users trying to do?": check_intents,
    "rank tools by blast radius": check_tool_health,
    "blast radius of tools": check_tool_health,
    "which tools fail most?": check_tool_health,
    "success rate of tools week over week": check_tool_health,
    "which tools are slowest": check_slowest_tools,
    "which of my questions failed": check_failed_questions,
    "agent claims success but didn't do it — why?": check_root_causes,
    "agent claims success but didn't do it": check_root_causes,
    "Create a dataset from logs with errors": lambda d, q: check_dataset(d, q, lambda d: len(error_roots(d))),
    "create a dataset from logs with errors": lambda d, q: check_dataset(d, q, lambda d: len(error_roots(d))),
    "save the error traces as a dataset": lambda d, q: check_dataset(d, q, lambda d: len(error_roots(d))),
    "build a dataset of the slow traces and save it": lambda d, q: check_dataset(d, q, lambda d: slow_roots(d).height),
    "from the most common inputs": lambda d, q: check_dataset(d, q, common_inputs),
    "from high-scoring examples": lambda d, q: check_dataset(d, q, high_scores),
    "write a scorer that detects these errors": check_scorer,
    "create a scorer for these errors": check_scorer,
    "create a scorer that detects these errors": check_scorer,
    "run the scorer": check_run_scorer,
    "plot latency": check_plot_latency,
    "how did usage change week over week": check_usage_weekly,
    "summarize trace abc": check_summarize_placeholder,
    "and for last week?": check_follow_up_last_week,
    **{
        q: (lambda shape, fn: lambda d, question: check_filter(d, question, shape, fn))(*spec)
        for q, spec in FILTERS.items()
    },
}

#: Checked beside the examples, not taken from a source.
VARIANTS = {"LLM spans longer than 10 seconds in the last 5 days"}

#: Examples the offline planner answers wrongly today, each with the precise reason.
WRONG: dict[str, str] = {}


def test_every_example_is_checked() -> None:
    sources = source_questions()
    found = set().union(*sources.values())
    unchecked = found - set(CHECKS) - set(WRONG) - set(NOT_QUESTIONS)
    assert not unchecked, f"example questions without a check: {sorted(unchecked)}"
    stale = (set(CHECKS) | set(WRONG) | set(NOT_QUESTIONS)) - found - set(VARIANTS)
    assert not stale, f"checked but in no source any more: {sorted(stale)}"
    # Every kind of source holds examples (the extraction reads them all).
    assert sources["README.md"] and sources["notebooks/quickstart.ipynb"] and sources["js/explorer.js"]
    assert not sources["js/chat.js"], "the chat's placeholder gained an example: check it here"


@pytest.mark.parametrize("question", sorted(CHECKS), ids=sorted(CHECKS))
def test_example_question_is_answered_right(demo: Demo, question: str) -> None:
    CHECKS[question](demo, as_asked(question))


@pytest.mark.parametrize(
    "question", [pytest.param(q, marks=pytest.mark.xfail(strict=True, reason=why)) for q, why in WRONG.items()]
)
def test_example_question_answered_wrongly_today(demo: Demo, question: str) -> None:
    CHECKS[question](demo, as_asked(question))
