"""Failure attribution: checked against the raw Who&When JSON, label-blind by construction and by test."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import loop_jupyter as lj
from loop_jupyter.analysis import attribution
from loop_jupyter.analysis.attribution import ASSUMPTION, attributions, strip_labels
from tests.helpers import frame_of, span

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def base(fixtures_dir: Path) -> Path:
    return fixtures_dir / "who-and-when" / "Who&When"


def _files(base: Path, subset: str) -> list[Path]:
    return sorted((base / subset).glob("*.json"), key=lambda p: int(p.stem))


def _by_file(found: list[attribution.Attribution]) -> dict[str, tuple]:
    """Attributions keyed by the file stem (root ids carry a hash of the folder path)."""
    return {a.root_span_id.rsplit("-", 1)[1]: (a.agent, a.step, a.reason, (a.evidence_span_id or "").rsplit("-", 1)[-1])
            for a in found}  # fmt: skip


def _agent(message: dict) -> str:
    return re.sub(r"\s*\(.*\)\s*$", "", message.get("name") or message.get("role") or "")


def _invents(history: list[dict]) -> bool:
    return any("terminal" not in _agent(m).lower() and m.get("role") != "human" and ASSUMPTION.search(m["content"])
               for m in history)  # fmt: skip


def test_a_failed_terminal_run_is_blamed_on_the_turn_before_it(base: Path) -> None:
    """AG runs: the first terminal output reporting ``exitcode: N`` (N ≠ 0) is blamed on the last
    non-terminal message before it, computed here from the raw history."""
    expected = {}
    for path in _files(base, "Algorithm-Generated"):
        history = json.loads(path.read_text())["history"]
        if _invents(history):
            continue
        failed = next((i for i, m in enumerate(history) if "terminal" in _agent(m).lower()
                       and re.match(r"\s*exitcode:\s*([1-9]\d*)", m["content"])), None)  # fmt: skip
        if failed is None:
            continue
        actor = max(i for i in range(failed) if "terminal" not in _agent(history[i]).lower())
        expected[path.stem] = (_agent(history[actor]), actor, str(failed))
    assert len(expected) >= 20
    got = _by_file(attributions(lj.load_logs(str(base / "Algorithm-Generated")), all_traces=True))
    assert {stem: (got[stem][0], got[stem][1], got[stem][3]) for stem in expected} == {
        stem: (agent, step, f"s{failed}") for stem, (agent, step, failed) in expected.items()
    }


def test_without_failure_signals_the_first_hand_off_is_blamed(base: Path) -> None:
    """HC runs with no error and no invented data: the first message by an agent other than the
    question's sender and whoever restated the question."""
    expected = {}
    for path in _files(base, "Hand-Crafted"):
        run = json.loads(path.read_text())
        history = run["history"]
        if _invents(history) or any(re.search(r"exit code(?: was)?:? *[1-9]", m["content"][:300]) for m in history):
            continue
        head = re.sub(r"\s+", " ", run["question"]).strip().lower()[:120]
        acting = [i for i, m in enumerate(history) if m.get("role") != "human" and "terminal" not in _agent(m).lower()]
        restaters = {_agent(history[i]) for i in acting if head in re.sub(r"\s+", " ", history[i]["content"]).lower()}
        others = [i for i in acting if _agent(history[i]) not in restaters]
        first = others[0] if others else acting[min(1, len(acting) - 1)]  # nobody else: the second turn
        expected[path.stem] = (_agent(history[first]), first)
    assert len(expected) >= 30
    got = _by_file(attributions(lj.load_logs(str(base / "Hand-Crafted")), all_traces=True))
    assert {stem: got[stem][:2] for stem in expected} == expected


def _copy(files: list[Path], target: Path, change) -> Path:
    target.mkdir(parents=True)
    for path in files:
        run = json.loads(path.read_text())
        change(run)
        (target / f"{path.parent.name[:1].lower()}{path.name}").write_text(json.dumps(run))  # a1.json, h1.json
    return target


def test_labels_never_reach_the_attributor(base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Poisoned labels (sentinel agent, a moved step, sentinel reasons) and no labels at all give
    the same attributions; no sentinel is ever seen by the rules or in the output."""
    files = _files(base, "Algorithm-Generated")[:15] + _files(base, "Hand-Crafted")[:10]

    def poison(run: dict) -> None:
        steps = len(run["history"])
        run.update(mistake_agent="SENTINEL_AGENT", mistake_reason="SENTINEL_REASON", mistake_type="SENTINEL_TYPE",
                   mistake_step=str((int(run["mistake_step"]) + 1) % steps), is_correct="SENTINEL_CORRECT")  # fmt: skip

    def unlabel(run: dict) -> None:
        for key in ("mistake_agent", "mistake_step", "mistake_reason", "is_correct", "is_corrected"):
            run.pop(key, None)

    runs = {
        "original": _copy(files, tmp_path / "original", lambda run: None),
        "poisoned": _copy(files, tmp_path / "poisoned", poison),
        "unlabelled": _copy(files, tmp_path / "unlabelled", unlabel),
    }
    seen: list[str] = []
    real = attribution.attribute_steps

    def spy(*args, **kwargs):
        seen.append(repr(args) + repr(kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(attribution, "attribute_steps", spy)
    results = {}
    for name, folder in runs.items():
        frame = lj.load_logs(str(folder))
        results[name] = _by_file(attributions(frame, all_traces=True))
    assert len(results["original"]) == len(files)
    assert results["poisoned"] == results["original"] == results["unlabelled"]
    text = "\n".join(seen)
    assert "SENTINEL" not in text and "is_mistake_step" not in text  # ("mistaken" occurs in messages)
    assert "SENTINEL" not in json.dumps(results["poisoned"])
    # The loader does keep the labels for the user; the stripped frame has none of them.
    poisoned = lj.load_logs(str(runs["poisoned"]))
    assert "SENTINEL_AGENT" in poisoned.get_column("metadata").str.join("\n").item()
    clean = strip_labels(poisoned)
    blob = clean.select(pl.all().cast(pl.String, strict=False)).write_csv()
    metadata = clean.get_column("metadata").drop_nulls().str.join("\n").item()
    assert "SENTINEL" not in blob and "mistake" not in metadata and "subset" not in metadata


def test_strip_labels_keeps_only_what_the_attributor_reads() -> None:
    frame = frame_of([
        span("r", "r", name="run", type="task", metadata={"mistake_agent": "A", "question": "q"}),
        span("s", "r", "r", name="A", type="llm", metadata={"step": 0, "agent": "A", "is_mistake_step": True,
                                                            "label": "x"}),
    ])  # fmt: skip
    clean = strip_labels(frame)
    assert [json.loads(m) if m else None for m in clean.get_column("metadata")] == [None, {"step": 0, "agent": "A"}]
    assert set(clean.columns) == set(attribution.COLUMNS)


def _generic() -> pl.DataFrame:
    t = 1_760_000_000.0
    return frame_of([
        # a tool failure: blamed on the agent turn that called it
        span("a", "a", name="chat", type="task", start=t, input="book a flight"),
        span("a1", "a", "a", name="planner", type="llm", start=t + 1),
        span("a2", "a", "a", name="search_flights", type="tool", start=t + 2, error="HTTP 500"),
        span("a3", "a", "a", name="writer", type="llm", start=t + 3),
        # an agent's own error
        span("b", "b", name="chat", type="task", start=t + 10),
        span("b1", "b", "b", name="writer", type="llm", start=t + 11),
        span("b2", "b", "b", name="summarizer", type="llm", start=t + 12, error="rate limited"),
        # no error, the answer misses the expected one
        span("c", "c", name="chat", type="task", start=t + 20, output="Paris", expected="Rome"),
        span("c1", "c", "c", name="writer", type="llm", start=t + 21),
        # nested: the agent is the component under the root (a "task"-typed agent span is not the task)
        span("e", "e", name="chat", type="task", start=t + 40),
        span("e1", "e", "e", name="sql_agent", type="task", start=t + 41),
        span("e2", "e", "e1", name="llm.create", type="llm", start=t + 42),
        span("e3", "e", "e1", name="query_database", type="tool", start=t + 43, error="SQL syntax error"),
        # fine
        span("d", "d", name="chat", type="task", start=t + 30, output="It is Rome.", expected="Rome"),
        span("d1", "d", "d", name="writer", type="llm", start=t + 31),
    ])  # fmt: skip


def test_generic_traces_step_is_the_position_in_time_order() -> None:
    got = {a.root_span_id: (a.agent, a.step, a.evidence_span_id, a.rule) for a in attributions(_generic())}
    assert got == {
        "a": ("planner", 1, "a2", "before_error"),
        "b": ("summarizer", 2, "b2", "before_error"),
        "c": ("writer", 1, "c1", "first_handoff"),
        "e": ("sql_agent", 2, "e3", "before_error"),
    }
    (nested,) = attributions(_generic(), "e")
    assert "step 3, query_database: SQL syntax error" in nested.reason
    table = lj.attribute_failure(_generic(), trace="c")
    assert table.columns == ["root_span_id", "agent", "step", "reason", "evidence_span_id"]
    assert table.row(0)[:3] == ("c", "writer", 1) and "expected answer" in table.row(0)[3]


def test_cli_json_shape_and_trace(base: Path, tmp_path: Path) -> None:
    folder = _copy(_files(base, "Algorithm-Generated")[:3], tmp_path / "ag", lambda run: None)
    env_cmd = [sys.executable, "-m", "loop_jupyter", "attribute", "--logs", str(folder), "--json"]
    out = subprocess.run(env_cmd, capture_output=True, text=True, cwd=ROOT, check=True)
    traces = json.loads(out.stdout)["traces"]
    assert traces and all(set(t) == {"root_span_id", "agent", "step", "reason", "evidence_span_id"} for t in traces)
    one = subprocess.run([*env_cmd, "--trace", traces[0]["root_span_id"]], capture_output=True, text=True, cwd=ROOT)
    assert one.returncode == 0 and json.loads(one.stdout)["traces"] == traces[:1]
    missing = subprocess.run([*env_cmd, "--trace", "no-such-trace"], capture_output=True, text=True, cwd=ROOT)
    assert missing.returncode == 1


@pytest.mark.parametrize(
    "question",
    ["Which agent caused the failure and at which step?", "Why did this task fail?", "Which agent made the mistake?"],
)
def test_offline_planner_routes_failure_questions(base: Path, tmp_path: Path, question: str) -> None:
    folder = _copy(_files(base, "Hand-Crafted")[:4], tmp_path / "hc", lambda run: None)
    logs = lj.load_logs(str(folder))
    loop = lj.Loop(logs, model="offline")
    try:
        answer = loop.ask(question)
    finally:
        loop.close()
    assert [c["name"] for c in answer.tool_calls] == ["attribute_failure"]
    (table,) = [a for a in answer.artifacts if a.kind == "table"]
    assert table.frame.height == len(attribution.failing_roots(strip_labels(logs))) > 0
