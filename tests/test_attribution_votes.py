"""The offline attributor's vote: rules point at agent turns, the turn most rules agree on wins."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

import loop_jupyter as lj
from loop_jupyter.analysis import attribution
from loop_jupyter.analysis.attribution import (
    RULE_ORDER,
    RULE_WEIGHTS,
    RULES,
    _failed_actions,
    attributions,
    trace_votes,
    traces_as_steps,
)
from tests.helpers import frame_of, span

T = 1_760_000_000.0


def _invented_then_failed() -> pl.DataFrame:
    """A planner restates the task and invents its data; the coder it hands off to runs the
    first failing tool call; a reviewer's later tool call fails too."""
    return frame_of([
        span("r", "r", name="chat", type="task", start=T, input="count the rows of sales.csv"),
        span("r1", "r", "r", name="planner", type="llm", start=T + 1,
             output="To count the rows of sales.csv, let's assume it has 10 rows."),
        span("r2", "r", "r", name="coder", type="llm", start=T + 2, output="df = read_csv('sales.csv')"),
        span("r3", "r", "r", name="run_python", type="tool", start=T + 3, error="FileNotFoundError: sales.csv"),
        span("r4", "r", "r", name="reviewer", type="llm", start=T + 4, output="Retry with the full path."),
        span("r5", "r", "r", name="run_python", type="tool", start=T + 5, error="PermissionError"),
        span("r6", "r", "r", name="run_python", type="tool", start=T + 6, error="PermissionError again"),
    ])  # fmt: skip


def test_the_turn_most_rules_point_at_wins_over_the_first_rule_that_fires() -> None:
    (found,) = attributions(_invented_then_failed(), "r")
    # coder: first hand-off after the planner restated the task, acted last before the first
    # failure, and its action failed: three votes against the planner's one (invented data).
    assert (found.agent, found.step, found.evidence_span_id) == ("coder", 2, "r3")
    assert found.rule == "before_error" and set(found.votes) == {"before_error", "first_handoff", "failed_action"}
    assert "acted last before the first failure" in found.reason and "first substantive turn" in found.reason
    # The former first-match order stops at the invented data.
    (first_match,) = attributions(_invented_then_failed(), "r", order=RULE_ORDER)
    assert (first_match.agent, first_match.step, first_match.rule) == ("planner", 1, "assumption")
    # Weights change the decision: only the assumption rule counting, the planner is blamed.
    (weighted,) = attributions(_invented_then_failed(), "r", weights={"assumption": 1.0})
    assert (weighted.agent, weighted.step, weighted.votes) == ("planner", 1, ("assumption",))
    (nothing,) = attributions(_invented_then_failed(), "r", weights=dict.fromkeys(RULES, 0.0))
    assert (nothing.agent, nothing.step) == (None, None)


def test_failed_actions_count_each_failing_turn_once() -> None:
    ((_root, (task, steps, _)),) = traces_as_steps(_invented_then_failed(), "r")
    failing = [(s.agent, s.position, evidence) for s, evidence, _ in _failed_actions(task, steps)]
    assert failing == [("coder", 2, "r3"), ("reviewer", 4, "r5")]  # two failures after the reviewer: one vote
    votes = trace_votes(task, steps)
    assert sorted((v.rule, v.step.agent) for v in votes) == [
        ("assumption", "planner"), ("before_error", "coder"), ("failed_action", "coder"),
        ("failed_action", "reviewer"), ("first_handoff", "coder"),
    ]  # fmt: skip
    # Equal votes by default; ties go to the earliest turn.
    assert set(RULE_WEIGHTS) == set(RULES) and set(RULE_WEIGHTS.values()) == {1.0}
    (tie,) = attributions(_invented_then_failed(), "r", weights={"assumption": 1.0, "failed_action": 1.0})
    assert (tie.agent, tie.step) == ("planner", 1)


def test_an_agent_own_error_is_a_failed_action() -> None:
    frame = frame_of([
        span("a", "a", name="chat", type="task", start=T, input="summarize"),
        span("a1", "a", "a", name="writer", type="llm", start=T + 1, output="draft"),
        span("a2", "a", "a", name="summarizer", type="llm", start=T + 2, error="rate limited"),
    ])  # fmt: skip
    ((_, (task, steps, _)),) = traces_as_steps(frame, "a")
    assert [(s.agent, e) for s, e, _ in _failed_actions(task, steps)] == [("summarizer", "a2")]
    (found,) = attributions(frame, "a")
    assert (found.agent, found.step, found.rule) == ("summarizer", 2, "before_error")


def test_who_and_when_votes_read_no_label(fixtures_dir: Path, tmp_path: Path) -> None:
    """The votes the harness tunes on come from the stripped frame: poisoned labels change nothing."""
    base = fixtures_dir / "who-and-when" / "Who&When"
    files = sorted((base / "Algorithm-Generated").glob("*.json"), key=lambda p: int(p.stem))[:8]
    folders = {}
    for name in ("original", "poisoned"):
        folder = tmp_path / name
        folder.mkdir()
        for path in files:
            run = json.loads(path.read_text())
            if name == "poisoned":
                run.update(mistake_agent="SENTINEL_AGENT", mistake_reason="SENTINEL_REASON", mistake_step="0")
            (folder / path.name).write_text(json.dumps(run))
        folders[name] = lj.load_logs(str(folder))

    def votes(frame: pl.DataFrame) -> list:
        out = []
        for root, found in traces_as_steps(frame, all_traces=True):
            task, steps, _expected = found
            out.append(
                (root.rsplit("-", 1)[1], [(v.rule, v.step.position, v.step.agent) for v in trace_votes(task, steps)])
            )
        return out

    original, poisoned = votes(folders["original"]), votes(folders["poisoned"])
    assert original == poisoned and len(original) == len(files)
    assert all(any(rule == "first_handoff" for rule, _, _ in found) for _, found in original)
    assert "SENTINEL" not in repr(traces_as_steps(folders["poisoned"], all_traces=True))
    assert attribution.RULE_WEIGHTS == RULE_WEIGHTS
