"""Answer sentences that name "the most common" of something name the same one whatever the rows'
order when counts tie: the slow-requests conclusion's slowest step and the attribution's most
blamed agents ranked equal counts by Polars ``value_counts``, whose order among ties follows the
rows' order. The expected names are computed here with collections.Counter."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

import loop_jupyter as lj
from loop_jupyter.agent.session import Loop
from loop_jupyter.analysis.attribution import attribute_failure_tool, attributions
from loop_jupyter.analysis.failure_mode_actions import failure_modes_over_time
from loop_jupyter.frame import frame_from_events
from loop_jupyter.report import LoadReport
from loop_jupyter.tools import ToolContext

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _slow_trace(root: str, slowest: str, minute: int) -> list[dict]:
    """A 90 s trace whose slowest child span is ``slowest`` (80 s) beside a 5 s one."""
    created = T0 + timedelta(minutes=minute)
    start = created.timestamp()
    events = [
        {
            "id": root, "span_id": root, "root_span_id": root, "created": created.isoformat(),
            "metrics": {"start": start, "end": start + 90}, "span_attributes": {"name": "chat", "type": "task"},
        }
    ]  # fmt: skip
    for i, (name, seconds) in enumerate(((slowest, 80.0), ("quick", 5.0))):
        span = f"{root}-{i}"
        events.append(
            {
                "id": span, "span_id": span, "root_span_id": root, "span_parents": [root],
                "created": (created + timedelta(seconds=i + 1)).isoformat(),
                "metrics": {"start": start + i, "end": start + i + seconds},
                "span_attributes": {"name": name, "type": "tool"},
            }
        )  # fmt: skip
    return events


# Two slow traces whose slowest step is "zeta_step", two "alpha_step", one "mid_step".
_SLOWEST = ["zeta_step", "alpha_step", "mid_step", "zeta_step", "alpha_step"]


@pytest.mark.parametrize("order", list(itertools.permutations(range(5)))[::17])
def test_slowest_step_of_slow_requests_ties_on_the_name(order: tuple[int, ...], tmp_path: Path) -> None:
    traces = [_slow_trace(f"t{i}", _SLOWEST[i], i) for i in range(5)]
    events = [e for i in order for e in traces[i]]
    logs = frame_from_events(list(enumerate(events, start=1)), LoadReport())
    counts = Counter(_SLOWEST)
    step, n = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[0]
    assert (step, n) == ("alpha_step", 2) and counts["zeta_step"] == n  # a tie, broken by the name
    loop = Loop(logs, model="offline", workdir=tmp_path)
    try:
        answer = loop.ask("Find requests that took longer than 60 seconds")
    finally:
        loop.close()
    assert [c["name"] for c in answer.tool_calls] == ["slow_requests"]
    assert f"{step} is the slowest step in {n} of them" in answer.text, answer.text


@pytest.fixture(scope="module")
def who_and_when(fixtures_dir: Path) -> pl.DataFrame:
    return lj.load_logs(fixtures_dir / "who-and-when")


def test_most_blamed_agents_tie_on_the_name(who_and_when: pl.DataFrame) -> None:
    """Who&When traces chosen so that the blamed agents tie (two traces each for several agents):
    the list names them by count, then by name, whatever order the traces are asked in."""
    found = attributions(who_and_when)
    by_agent: dict[str, list[str]] = {}
    for a in found:
        if a.agent:
            by_agent.setdefault(a.agent, []).append(a.root_span_id)
    pairs = sorted(agent for agent, roots in by_agent.items() if len(roots) >= 2)
    assert len(pairs) >= 6, "the fixture has too few agents blamed twice: the case tests nothing"
    # Six agents with two traces each: five of them are listed, the first five by name.
    chosen = [r for agent in pairs[:6] for r in by_agent[agent][:2]]
    blamed = Counter(a.agent for a in attributions(who_and_when, chosen))
    want = [f"{agent} {n}" for agent, n in sorted(blamed.items(), key=lambda item: (-item[1], item[0]))[:5]]
    assert len(blamed) >= 6 and len(set(blamed.values())) == 1, blamed  # a six-way tie for five places
    for ids in (chosen, chosen[::-1], chosen[1::2] + chosen[::2]):
        text = attribute_failure_tool(ToolContext(who_and_when), root_span_id=ids).text
        (listed,) = re.findall(r"Most blamed agents: (.+)\.", text)
        assert listed == ", ".join(want), (ids[:3], text)


@pytest.mark.parametrize("order", [(0, 1, 2, 3, 4), (4, 3, 2, 1, 0), (2, 0, 4, 1, 3)])
def test_busiest_day_of_failure_modes_ties_on_the_mode(order: tuple[int, ...]) -> None:
    """Two modes with the same failing traces on the same day: the busiest is named by the mode's
    name (the sort had no mode key; a sort is not stable by default). The day is a date, not
    "00:00" of it, and one day is "1 day"."""
    from tests.test_tie_order import _frame, _trace

    tools = ["zeta_tool", "alpha_tool", "zeta_tool", "alpha_tool", "mid_tool"]
    traces = [
        _trace(f"t{i}", [{"type": "tool", "name": t, "error": "Timeout: no reply"}], i) for i, t in enumerate(tools)
    ]
    result = failure_modes_over_time(ToolContext(logs=_frame([traces[i] for i in order])))
    per_mode = Counter(tools)
    top = sorted(per_mode.items(), key=lambda item: (-item[1], item[0]))[0]
    day = T0.date().isoformat()
    assert result.text == f"3 modes over 1 day; the busiest day: {top[1]} traces in '{top[0]}: Timeout' on {day}."


def test_commonest_frustration_signal_ties_on_the_name() -> None:
    """The frustration conclusion names the commonest signal: equal counts by the signal's name,
    whatever order the table's rows come in (it re-sorted by the count alone)."""
    from loop_jupyter.agent.planner.conclusions import conclude
    from loop_jupyter.artifacts import Table

    users = pl.DataFrame({"user": ["u1"], "frustrated_traces": [3], "max_score": [3]})
    for order in (["still not working", "ALL CAPS", "profanity"], ["profanity", "ALL CAPS", "still not working"]):
        signals = pl.DataFrame({"signal": order, "traces": [2, 2, 1] if order[0] != "profanity" else [1, 2, 2]})
        artifacts = [Table(users, title="Frustrated users"), Table(signals, title="Frustration signals")]
        logs = frame_from_events(list(enumerate(_slow_trace("t0", "x", 0), start=1)), LoadReport())
        text = conclude({"name": "frustrated_users", "input": {}}, artifacts, ToolContext(logs=logs))
        want = min((s for s, n in zip(signals["signal"], signals["traces"], strict=True) if n == 2))
        assert f"The commonest signal is {want} (2 traces)." in text, text
