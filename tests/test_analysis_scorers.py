from __future__ import annotations

import re

import polars as pl
import pytest

from loop_jupyter.analysis import scorers
from loop_jupyter.analysis.scorers import create_scorer, pattern_from_errors, run_scorer
from loop_jupyter.artifacts import Pending, Scorer, Table
from loop_jupyter.tools import ToolContext
from tests.analysis_logs import chat_trace, frame


def _logs() -> pl.DataFrame:
    return frame(
        chat_trace("a", "q1", "all good", scores={"ok": 1.0}),
        chat_trace("b", "q2", "fine", tools=("db",), error="Timeout after 30 s on 'orders'", scores={"ok": 0.0}),
        chat_trace("c", "q3", "hmm", tools=("db",), error="Timeout after 5 s on 'users'", scores={"ok": 1.0}),
        chat_trace("d", "q4", "nope", tools=("http",), error="HTTP 500 from api", scores={"ok": 0.0}),
        chat_trace("e", "q5", "sorry, I cannot help with that"),
    )


def test_code_runs_only_after_confirmation(tmp_path, monkeypatch):
    ctx = ToolContext(logs=_logs(), workdir=tmp_path)
    executed = []
    real_run = scorers.score_in_child  # scorers run in a child process, never imported in the kernel
    monkeypatch.setattr(
        scorers, "score_in_child", lambda source, path, *a: executed.append(path) or real_run(source, path, *a)
    )
    result = create_scorer(ctx, name="timeouts", pattern=r"timeout")
    pending = result.first(Pending)
    assert "def score(input, output, expected=None, metadata=None)" in pending.preview
    assert executed == [] and not (tmp_path / "loop_scorers").exists()
    refused = run_scorer(ctx, "timeouts")
    assert refused.is_error and "confirm it first" in refused.text and executed == []
    saved = pending.action()[0]
    assert isinstance(saved, Scorer) and saved.path.endswith("timeouts/v1.py")
    assert (tmp_path / "loop_scorers" / "timeouts" / "v1.json").exists()
    scored = run_scorer(ctx, "timeouts")
    assert not scored.is_error and len(executed) == 1
    table = scored.frames[0]
    got = dict(zip(table.get_column("root_span_id"), table.get_column("timeouts"), strict=True))
    # Independent: a trace scores 0 when any of its errors or its output says "timeout".
    logs = _logs()
    expected = {}
    for root in logs.filter(pl.col("is_root")).iter_rows(named=True):
        errors = logs.filter((pl.col("root_span_id") == root["root_span_id"]) & pl.col("error").is_not_null())
        text = (root["output"] or "") + " ".join(errors.get_column("error").to_list())
        expected[root["root_span_id"]] = 0.0 if re.search("timeout", text, re.I) else 1.0
    assert got == expected == {"a": 1.0, "b": 0.0, "c": 0.0, "d": 1.0, "e": 1.0}
    agree = scored.frames[1].row(0, named=True)
    # vs ok: a (1,1) b (0,0) c (0,1) d (1,0) -> agreement 2/4, mean abs diff 2/4
    assert (agree["score"], agree["rows"], agree["agreement"], agree["mean_abs_diff"]) == ("ok", 4, 0.5, 0.5)
    assert agree["correlation"] == pytest.approx(0.0)


def test_versions_never_overwrite(tmp_path):
    ctx = ToolContext(logs=_logs(), workdir=tmp_path)
    create_scorer(ctx, name="s", pattern="x").first(Pending).action()
    second = create_scorer(ctx, name="s", pattern="sorry")
    assert "v2.py" in second.first(Pending).preview
    second.first(Pending).action()
    assert "x" in (tmp_path / "loop_scorers" / "s" / "v1.py").read_text()
    table = run_scorer(ctx, "s").frames[0]
    assert table.filter(pl.col("s") == 0.0).get_column("root_span_id").to_list() == ["e"]
    assert run_scorer(ctx, "s", version=1).frames[0].get_column("s").to_list() == [1.0] * 5


def test_pattern_from_the_logs_errors(tmp_path):
    pattern, common = pattern_from_errors(_logs())
    assert common == [("Timeout after <n> s on <str>", 2), ("HTTP <n> from api", 1)]
    assert re.search(pattern, "Timeout after 99 s on 'x'") and not re.search(pattern, "all fine")
    ctx = ToolContext(logs=_logs(), workdir=tmp_path)
    result = create_scorer(ctx, name="errs")
    assert "Timeout after <n> s on <str> (2)" in result.text
    result.first(Pending).action()
    scored = run_scorer(ctx, "errs", where="has_error").frames[0]
    assert sorted(scored.get_column("root_span_id").to_list()) == ["b", "c", "d"]
    assert scored.get_column("errs").to_list() == [0.0, 0.0, 0.0]


def test_keywords_and_bad_input(tmp_path):
    ctx = ToolContext(logs=_logs(), workdir=tmp_path)
    create_scorer(ctx, name="refusal", keywords=["cannot help", "sorry"]).first(Pending).action()
    scores = run_scorer(ctx, "refusal").frames[0].get_column("refusal").to_list()
    assert scores == [0.0 if r == "e" else 1.0 for r in run_scorer(ctx, "refusal").frames[0]["root_span_id"]]
    assert create_scorer(ctx, name="bad", pattern="(unclosed").is_error
    assert create_scorer(ctx, name="../x", pattern="a").is_error
    clean = frame(chat_trace("z", "q", "a"))
    assert create_scorer(ToolContext(logs=clean, workdir=tmp_path), name="none").is_error


def test_llm_judge(tmp_path):
    ctx = ToolContext(logs=_logs(), workdir=tmp_path)
    result = create_scorer(ctx, name="helpful", kind="llm_judge")
    assert result.first(Scorer).scorer_kind == "llm_judge" and "CHOICES" in result.first(Pending).preview
    result.first(Pending).action()
    offline = run_scorer(ctx, "helpful")
    assert offline.is_error and "needs a model" in offline.text
    prompts = []

    def judge(prompt: str) -> str:
        prompts.append(prompt)
        return "C" if "sorry" in prompt else "A"

    ctx.llm = judge
    table = run_scorer(ctx, "helpful").first(Table).frame
    assert dict(zip(table["root_span_id"], table["helpful"], strict=True)) == {
        "a": 1.0,
        "b": 1.0,
        "c": 1.0,
        "d": 1.0,
        "e": 0.0,
    }
    assert len(prompts) == 5 and any("all good" in p for p in prompts)
    assert "{{input}}" not in prompts[0]


def test_planner_style_calls(tmp_path):
    ctx = ToolContext(logs=_logs(), workdir=tmp_path)
    assert run_scorer(ctx).is_error  # nothing saved yet
    judge = create_scorer(ctx, description="create an LLM-as-judge scorer for helpfulness")
    assert judge.first(Scorer).scorer_kind == "llm_judge"
    learned = create_scorer(ctx, description="a scorer that detects these errors", where="name = 'http'")
    assert "HTTP <n> from api (1)" in learned.text and "Timeout" not in learned.text
    learned.first(Pending).action()
    scored = run_scorer(ctx).frames[0]  # the latest saved scorer
    assert scored.filter(pl.col("errors") == 0.0)["root_span_id"].to_list() == ["d"]


def test_two_waiting_proposals_preview_and_write_their_own_versions(tmp_path):
    ctx = ToolContext(logs=_logs(), workdir=tmp_path)
    first = create_scorer(ctx, name="s", pattern="x").first(Pending)
    second = create_scorer(ctx, name="s", pattern="sorry").first(Pending)
    assert "s/v1.py" in first.preview and "s/v2.py" in second.preview
    assert second.action()[0].path.endswith("s/v2.py")  # confirmed first, still the version it showed
    assert first.action()[0].path.endswith("s/v1.py")
    assert "sorry" in (tmp_path / "loop_scorers" / "s" / "v2.py").read_text()
