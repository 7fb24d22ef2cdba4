"""The demo logs: canonical, deterministic, well-formed trees, and every documented pattern present at
its documented rate. Expected numbers are computed here from the frame with plain Polars, never by
calling the generator's internals."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

import orjson
import polars as pl
import pytest

from loop_jupyter import demo, schema
from loop_jupyter.frame import frame_from_events, iter_json_lines
from loop_jupyter.report import LoadReport

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
N = 4000
SUPPORTED_MODELS = {
    "claude-4.5-sonnet",
    "claude-4.5-haiku",
    "claude-4.5-opus",
    "claude-4-sonnet",
    "claude-4.1-opus",
    "gpt-5.1",
    "gpt-5.2",
}


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    return demo.demo_logs(N, seed=7, now=NOW)


@pytest.fixture(scope="module")
def roots(logs: pl.DataFrame) -> pl.DataFrame:
    return logs.filter(pl.col("is_root"))


def assert_rate(hits: int, total: int, rate: float, slack: float = 0.0) -> None:
    """hits/total within 4.5 binomial standard errors of rate (plus slack)."""
    assert total > 0
    se = math.sqrt(rate * (1 - rate) / total)
    observed = hits / total
    assert abs(observed - rate) <= 4.5 * se + slack + 1e-9, f"{hits}/{total} = {observed:.4f}, expected {rate}"


def meta(field: str) -> pl.Expr:
    return pl.col("metadata").str.json_path_match(f"$.{field}")


def test_canonical_schema(logs: pl.DataFrame) -> None:
    assert schema.is_canonical(logs)
    assert logs.columns == list(schema.SCHEMA)
    for name, dtype in schema.SCHEMA.items():
        assert logs.schema[name] == dtype, name


def test_deterministic_per_seed() -> None:
    a = demo.demo_logs(150, seed=3, now=NOW)
    b = demo.demo_logs(150, seed=3, now=NOW)
    c = demo.demo_logs(150, seed=4, now=NOW)
    assert a.equals(b)
    assert not a.equals(c)


def test_default_now_is_current_time() -> None:
    before = datetime.now(UTC)
    frame = demo.demo_logs(30, seed=1)
    assert frame["end"].max() <= datetime.now(UTC)
    assert frame["start"].min() >= before - timedelta(days=demo.DAYS)


def test_progress_bar_runs() -> None:
    frame = demo.demo_logs(20, seed=1, now=NOW, progress=True)
    assert frame.filter(pl.col("is_root")).height == 20


def test_average_spans_per_trace(logs: pl.DataFrame, roots: pl.DataFrame) -> None:
    assert roots.height == N
    assert abs(logs.height / N - demo.AVG_SPANS_PER_TRACE) < 0.4


def test_ids_unique_and_parent_links_valid(logs: pl.DataFrame) -> None:
    assert logs["id"].n_unique() == logs.height
    assert logs["span_id"].n_unique() == logs.height
    assert logs.filter(pl.col("id").is_in(logs["span_id"].implode())).height == 0
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", logs["span_id"][0])
    children = logs.filter(pl.col("parent_id").is_not_null())
    assert children.filter(~pl.col("parent_id").is_in(logs["span_id"].implode())).height == 0
    assert (children["span_parents"].list.len() == 1).all()
    assert (children["span_parents"].list.first() == children["parent_id"]).all()
    roots = logs.filter(pl.col("parent_id").is_null())
    assert roots["is_root"].all() and (roots["depth"] == 0).all() and (roots["span_parents"].list.len() == 0).all()
    assert (roots["root_span_id"] == roots["span_id"]).all()
    assert not children["is_root"].any()
    # Every span's root_span_id is the span_id of the root at the top of its parent chain, and depth
    # is one more than the parent's.
    parents = logs.select(
        pl.col("span_id").alias("parent_id"),
        pl.col("root_span_id").alias("parent_root"),
        pl.col("depth").alias("parent_depth"),
        pl.col("start").alias("parent_start"),
        pl.col("end").alias("parent_end"),
    )
    joined = children.join(parents, on="parent_id")
    assert joined.height == children.height
    assert (joined["root_span_id"] == joined["parent_root"]).all()
    assert (joined["depth"] == joined["parent_depth"] + 1).all()
    # Children run inside their parent.
    assert (joined["start"] >= joined["parent_start"]).all()
    assert (joined["end"] <= joined["parent_end"]).all()


def test_five_levels(logs: pl.DataFrame) -> None:
    assert sorted(logs["depth"].unique().to_list()) == [0, 1, 2, 3, 4]
    by_depth = logs.group_by("depth").agg(pl.col("type").unique()).sort("depth")
    types = dict(zip(by_depth["depth"], by_depth["type"].to_list(), strict=True))
    assert set(types[0]) == {"task"}
    assert {"classifier", "task", "function"} <= set(types[1])
    assert {"llm", "tool"} <= set(types[2])
    assert {"llm", "function"} <= set(types[3])
    assert set(types[4]) == {"function"}
    # depth-4 functions sit under nested LLM calls
    parents = logs.select(pl.col("span_id").alias("parent_id"), pl.col("type").alias("parent_type"))
    deep = logs.filter(pl.col("depth") == 4).join(parents, on="parent_id")
    assert set(deep["parent_type"].unique()) == {"llm"}


def test_times_within_last_30_days(logs: pl.DataFrame) -> None:
    assert logs["start"].min() >= NOW - timedelta(days=30)
    assert logs["end"].max() <= NOW
    assert (logs["created"] == logs["start"]).all()
    assert (logs["end"] > logs["start"]).all()
    # spread over the whole window, not bunched
    days = logs.filter(pl.col("is_root")).select(((pl.lit(NOW) - pl.col("start")).dt.total_days()).alias("d"))["d"]
    assert days.n_unique() == 30


def test_jsonl_round_trip(tmp_path) -> None:
    path = tmp_path / "demo.jsonl"
    written = demo.write_demo_jsonl(path, 400, seed=5, now=NOW)
    assert written.equals(demo.demo_logs(400, seed=5, now=NOW))
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) - 1 == written.height
    first = orjson.loads(lines[0])
    assert set(first) == {
        "id", "span_id", "root_span_id", "span_parents", "is_root", "created", "input", "output", "expected",
        "error", "tags", "scores", "metadata", "metrics", "span_attributes", "context",
    }  # fmt: skip
    report = LoadReport()
    loaded = frame_from_events(iter_json_lines(path.read_bytes(), report), report)
    assert report.ok and not report.warnings
    assert loaded.height == written.height
    for name in schema.COLUMNS:
        if name in schema.JSON_FIELDS:
            parsed_a = [None if v is None else orjson.loads(v) for v in written[name]]
            parsed_b = [None if v is None else orjson.loads(v) for v in loaded[name]]
            assert parsed_a == parsed_b, name
        assert written[name].equals(loaded[name]), name  # byte-identical too


def test_llm_spans_carry_models_metrics_and_messages(logs: pl.DataFrame) -> None:
    llm = logs.filter(pl.col("type") == "llm")
    assert set(llm["model"].unique()) == SUPPORTED_MODELS
    assert logs.filter(pl.col("type") != "llm")["model"].null_count() == logs.height - llm.height
    provider = llm.select(meta("provider").alias("p"), "model")
    assert (provider.filter(pl.col("model").str.starts_with("claude"))["p"] == "anthropic").all()
    assert (provider.filter(pl.col("model").str.starts_with("gpt"))["p"] == "openai").all()
    ok = llm.filter(pl.col("error").is_null())
    assert ok["prompt_tokens"].null_count() == 0 and ok["cost"].null_count() == 0
    assert (ok["tokens"] == ok["prompt_tokens"] + ok["completion_tokens"]).all()
    assert (ok["cost"] > 0).all()
    metrics = ok.head(200)["metrics"].map_elements(orjson.loads, return_dtype=pl.Object).to_list()
    assert all(
        set(m) == {"start", "end", "prompt_tokens", "completion_tokens", "tokens", "estimated_cost"} for m in metrics
    )
    for text in ok.head(300)["input"]:
        messages = orjson.loads(text)
        assert isinstance(messages, list) and all({"role", "content"} <= set(m) for m in messages)
    for text in ok.head(300)["output"]:
        assert orjson.loads(text)["role"] == "assistant"
    # Latency depends on the model: opus 4.1 is slower than haiku on the agents' calls.
    agent_calls = llm.filter(pl.col("depth") == 2, pl.col("error").is_null())
    med = agent_calls.group_by("model").agg(pl.col("duration").median()).to_dict(as_series=False)
    medians = dict(zip(med["model"], med["duration"], strict=True))
    assert medians["claude-4.1-opus"] > 1.5 * medians["claude-4.5-haiku"]


@pytest.mark.parametrize("tool", sorted(demo.TOOL_ERROR_RATES))
def test_tool_error_rates(logs: pl.DataFrame, tool: str) -> None:
    calls = logs.filter(pl.col("type") == "tool", pl.col("name") == tool)
    marker = demo.TOOL_ERROR_MARKERS[tool]
    failed = calls.filter(pl.col("error").str.contains(marker, literal=True))
    assert calls.filter(pl.col("error").is_not_null()).height == failed.height
    assert_rate(failed.height, calls.height, demo.TOOL_ERROR_RATES[tool])
    # messages carry ids, so they differ; with digits normalised they collapse to a few groups
    messages = failed["error"]
    assert messages.n_unique() > 0.9 * failed.height
    shapes = messages.str.replace_all(r"https?://\S+", "URL").str.replace_all(r"\d+", "N")
    assert shapes.str.replace_all(r"'[^']*'", "Q").n_unique() == 1
    assert failed["output"].null_count() == failed.height


def test_no_errors_on_tools_without_a_documented_rate(logs: pl.DataFrame) -> None:
    other = logs.filter(pl.col("type") == "tool", ~pl.col("name").is_in(list(demo.TOOL_ERROR_RATES)))
    assert other.height > 0 and other["error"].null_count() == other.height


def test_model_error_rates(logs: pl.DataFrame) -> None:
    llm = logs.filter(pl.col("type") == "llm")
    err = pl.col("error")
    rate_limited = llm.filter(err.str.contains("429") & err.str.contains("rate_limit_error")).height
    overloaded = llm.filter(err.str.contains("529") & err.str.contains("overloaded_error")).height
    too_long = llm.filter(err.str.contains(r"prompt is too long: \d+ tokens > 200000 maximum")).height
    timeouts = llm.filter(err.str.contains("timed out")).height
    # a 4th failure in a row is never generated, which lowers the rates by a hair
    for hits, kind in ((rate_limited, "rate_limit"), (overloaded, "overloaded"), (too_long, "context_overflow"),
                       (timeouts, "timeout")):  # fmt: skip
        assert_rate(hits, llm.height, demo.LLM_ERROR_RATES[kind], slack=0.001)
    assert rate_limited + overloaded + too_long + timeouts == llm["error"].is_not_null().sum()
    # overflow token counts vary and exceed the limit
    counts = llm.filter(err.str.contains("prompt is too long"))["error"].str.extract(r"too long: (\d+)").cast(pl.Int64)
    assert (counts > 200_000).all() and counts.n_unique() > 0.8 * len(counts)
    # failed requests report no usage
    assert llm.filter(err.is_not_null())["tokens"].null_count() == llm["error"].is_not_null().sum()


def test_failed_llm_calls_are_retried_as_siblings(logs: pl.DataFrame) -> None:
    llm = logs.filter(pl.col("type") == "llm").select("span_id", "parent_id", "name", "start", "end", "error")
    failed = llm.filter(pl.col("error").is_not_null())
    later = failed.join(llm, on=["parent_id", "name"], suffix="_r").filter(pl.col("start_r") >= pl.col("end"))
    assert later["span_id"].n_unique() == failed.height
    # and the last LLM call under each parent succeeds
    last = llm.sort("start").group_by("parent_id", "name").agg(pl.col("error").last())
    assert last["error"].null_count() == last.height


def test_slow_traces(roots: pl.DataFrame) -> None:
    slow = roots.filter(pl.col("duration") > 60).height
    assert_rate(slow, roots.height, demo.SLOW_TRACE_RATE)
    assert roots.filter(pl.col("duration") <= 60)["duration"].max() <= 58.001
    assert roots["duration"].median() > 5


def user_messages(roots: pl.DataFrame) -> pl.DataFrame:
    messages = roots.select(
        "span_id", pl.col("input").str.json_decode(pl.List(pl.Struct({"role": pl.String, "content": pl.String})))
    )
    return messages.explode("input").unnest("input").filter(pl.col("role") == "user")


def test_frustrated_users(roots: pl.DataFrame) -> None:
    users = user_messages(roots)
    turns = users.group_by("span_id").agg(pl.len().alias("n"), pl.col("content").last().alias("last"))
    words = r"(?i)this is wrong|you said it was|already asked|^again:|not what i asked|still not work|third time"
    frustrated = turns.filter(pl.col("n") > 1, pl.col("last").str.contains(words))
    assert_rate(frustrated.height, roots.height, demo.FRUSTRATED_RATE)
    caps = frustrated.filter(pl.col("last").str.contains("[A-Z]{4,} [A-Z]{2,} [A-Z]{2,}"))
    assert_rate(caps.height, frustrated.height, demo.FRUSTRATED_CAPS_RATE, slack=0.05)
    swearing = frustrated.filter(pl.col("last").str.contains(r"(?i)wtf|damn|bullshit|ffs|the hell"))
    assert_rate(swearing.height, frustrated.height, demo.FRUSTRATED_PROFANITY_RATE, slack=0.05)
    # other multi-turn conversations exist, so turns alone do not give frustration away
    assert turns.filter(pl.col("n") > 1).height > 2 * frustrated.height
    # turn counts are in metadata too
    counted = roots.select(meta("conversation_turns").cast(pl.Int64).alias("n"), "span_id").join(
        turns.select("span_id", pl.col("n").cast(pl.Int64)), on="span_id"
    )
    assert (counted["n"] == counted["n_right"]).all()
    # frustrated users are less happy
    scores = roots.select("span_id", pl.col("scores").str.json_path_match("$.helpfulness").cast(pl.Float64).alias("h"))
    h_frustrated = scores.join(frustrated, on="span_id", how="semi")["h"].mean()
    assert h_frustrated < scores["h"].mean() - 0.2


def test_mandarin_requests(roots: pl.DataFrame) -> None:
    users = user_messages(roots).group_by("span_id").agg(pl.col("content").first())
    zh = users.filter(pl.col("content").str.contains(r"[\u4e00-\u9fff]"))
    assert_rate(zh.height, roots.height, demo.MANDARIN_RATE)


def test_missing_deploy_tool_concentrated_in_one_version(logs: pl.DataFrame, roots: pl.DataFrame) -> None:
    agents = logs.filter(pl.col("name").is_in(list(demo.DEPLOY_AGENTS)), pl.col("depth") == 1).select(
        "root_span_id",
        meta("app_version").alias("version"),
        pl.col("metadata").str.json_decode(pl.Struct({"tools": pl.List(pl.String)})).struct.field("tools"),
    )
    agents = agents.with_columns(missing=~pl.col("tools").list.contains("deploy_app"))
    by_version = agents.group_by("version").agg(pl.col("missing").mean(), pl.len()).sort("version")
    rates = dict(zip(by_version["version"], by_version["missing"], strict=True))
    assert rates[demo.BAD_APP_VERSION] == pytest.approx(demo.MISSING_DEPLOY_TOOL_RATE_BAD, abs=0.06)
    assert all(r < 0.05 for v, r in rates.items() if v != demo.BAD_APP_VERSION)
    # Traces that claim a deploy with no deploy_app span: the false claims.
    deploy_spans = logs.filter(pl.col("name") == "deploy_app").select("root_span_id").unique()
    claims = roots.filter(pl.col("output").str.contains("I've deployed|我已经部署了")).select(
        pl.col("span_id").alias("root_span_id"), meta("app_version").alias("version"), "scores"
    )
    false = claims.join(deploy_spans, on="root_span_id", how="anti")
    true = claims.join(deploy_spans, on="root_span_id", how="semi")
    assert false.height > 20 and true.height > 20
    assert (false["version"] == demo.BAD_APP_VERSION).mean() > 0.8
    missing_roots = agents.filter(pl.col("missing")).select("root_span_id")
    assert false.join(missing_roots, on="root_span_id", how="anti").height == 0  # every one lacked the tool
    fact = pl.col("scores").str.json_path_match("$.Factuality").cast(pl.Float64)
    assert false.select(fact.mean()).item() < 0.3 < true.select(fact.mean()).item()
    # Expected count: deployable intents x deploy asked x missing x claim, from the documented rates.
    deployable = roots.filter(meta("intent").is_in(list(demo.DEPLOYABLE_INTENTS)))
    bad = deployable.filter(meta("app_version") == demo.BAD_APP_VERSION).height
    other = deployable.height - bad
    expected = (
        demo.DEPLOY_REQUEST_RATE
        * demo.FALSE_DEPLOY_CLAIM_RATE
        * (bad * demo.MISSING_DEPLOY_TOOL_RATE_BAD + other * demo.MISSING_DEPLOY_TOOL_RATE_OTHER)
    )
    assert abs(false.height - expected) < 4.5 * math.sqrt(expected) + 3


def test_intents_and_varied_inputs(roots: pl.DataFrame) -> None:
    intents = roots.select(meta("intent").alias("intent"), pl.col("input"))
    for intent, weight in demo.INTENT_WEIGHTS.items():
        group = intents.filter(pl.col("intent") == intent)
        assert_rate(group.height, roots.height, weight)
        assert group["input"].n_unique() > 0.6 * group.height, intent


def test_scores_on_roots(logs: pl.DataFrame, roots: pl.DataFrame) -> None:
    assert logs.filter(~pl.col("is_root"))["scores"].null_count() == logs.height - roots.height
    scores = roots["scores"].str.json_decode(
        pl.Struct({"Factuality": pl.Float64, "helpfulness": pl.Float64, "tool_call_success": pl.Float64})
    )
    for field in ("Factuality", "helpfulness", "tool_call_success"):
        values = scores.struct.field(field)
        assert values.null_count() == 0 and values.min() >= 0 and values.max() <= 1, field


def test_users(roots: pl.DataFrame) -> None:
    users = roots.select(
        meta("user").alias("user"), meta("user_id").alias("uid"), pl.col("start").dt.date().alias("day")
    )
    assert users["user"].n_unique() == demo.N_USERS == users["uid"].n_unique()
    assert_rate(users.filter(pl.col("user") == "John Smith").height, roots.height, demo.JOHN_SMITH_RATE)
    # one id per user, and users come back on many days
    assert users.group_by("user").agg(pl.col("uid").n_unique())["uid"].max() == 1
    returning = users.group_by("user").agg(pl.col("day").n_unique().alias("days")).filter(pl.col("days") >= 5)
    assert returning.height >= 30


def test_tags(logs: pl.DataFrame, roots: pl.DataFrame) -> None:
    tags = roots["tags"]
    assert_rate(int(tags.list.contains("staging").sum()), roots.height, demo.STAGING_RATE)
    assert_rate(int(tags.list.contains("production").sum()), roots.height, 1 - demo.STAGING_RATE)
    assert_rate(int(tags.list.contains("beta").sum()), roots.height, demo.BETA_RATE)
    assert (logs.filter(~pl.col("is_root"))["tags"].list.len() == 0).all()
