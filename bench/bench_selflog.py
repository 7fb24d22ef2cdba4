"""The assistant's own run log, loaded and queried (a script, not a test).

Asks the bench's questions (bench_context.QUESTIONS) offline on demo logs, with the run log on and
off (the logging overhead per question), plus two questions through a scripted stand-in model
that fail on purpose (a tool call with a bad column the run recovers from, and a model outage), so
the log holds failures; then loads ``.loop/runs`` with ``load_logs`` and asks "which tools are
slowest" and "which of my questions failed" over it, printing the timings.

Usage: python bench/bench_selflog.py [--scale small|medium|full] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_context import QUESTIONS
from common import NOW, SCALES, demo_frame, machine, save, scale_arg

import loop_jupyter as lj
from loop_jupyter.agent.model_turn import AssistantTurn, ToolCall
from loop_jupyter.agent.models import ModelError
from loop_jupyter.agent.runlog import RunLog
from loop_jupyter.agent.session import Loop
from loop_jupyter.artifacts import Table

SELF_QUESTIONS = ["which tools are slowest", "which of my questions failed"]


class FailingModel:
    """A scripted stand-in model: a bad SQL call then an answer; then an outage."""

    name = "scripted-failures"

    def __init__(self) -> None:
        self.calls = 0

    def complete(self, system, messages, tools, stream_callback=None) -> AssistantTurn:
        self.calls += 1
        if self.calls == 1:
            return AssistantTurn(tool_calls=[ToolCall("c1", "run_sql", {"query": "SELECT no_such_column FROM logs"})])
        if self.calls == 2:
            return AssistantTurn(text="That column does not exist; the logs have no such field.")
        raise ModelError("simulated outage (bench)", kind="api")


FAILING = ["count the no_such_column values", "and now?"]


WRITES: list[float] = []


def _timed_write(write):
    def timed_write(self: RunLog, span: dict) -> None:
        start = time.perf_counter()
        write(self, span)
        WRITES.append(time.perf_counter() - start)

    return timed_write


def ask_all(frame, workdir: Path, rounds: int) -> dict[bool, dict[str, list[float]]]:
    """Each bench question ``rounds`` times in two sessions, run log on and off, interleaved (the
    machine is shared: both see the same load)."""
    times: dict[bool, dict[str, list[float]]] = {on: {q: [] for q in QUESTIONS} for on in (True, False)}
    loops = {
        on: Loop(frame, model="offline", workdir=workdir / ("on" if on else "off"), log_runs=on) for on in (True, False)
    }
    try:
        for loop in loops.values():
            loop.ask(QUESTIONS[0])  # warm-up: indexes and caches built once, as in a session
        for _ in range(rounds):
            for question in QUESTIONS:
                for on, loop in loops.items():
                    start = time.perf_counter()
                    answer = loop.ask(question)
                    times[on][question].append(time.perf_counter() - start)
                    assert answer.error is None, answer.text
    finally:
        for loop in loops.values():
            loop.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    scale_arg(parser)
    parser.add_argument("--rounds", type=int, default=3, help="times each bench question is asked")
    args = parser.parse_args()
    spans = SCALES[args.scale]["spans"]
    frame = demo_frame(spans, now=NOW)
    RunLog.write = _timed_write(RunLog.write)  # the cost of logging, measured where it is paid
    out: dict = {"spans": frame.height, "rounds": args.rounds, "machine": machine(), "questions": {}}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        timings = ask_all(frame, workdir, args.rounds)
        on, off = timings[True], timings[False]
        for question in QUESTIONS:
            row = {"off_s": statistics.median(off[question]), "on_s": statistics.median(on[question])}
            out["questions"][question] = row
            print(f"{question[:45]:45s} p50 log off {row['off_s'] * 1e3:8.1f} ms, on {row['on_s'] * 1e3:8.1f} ms")
        with Loop(frame, workdir=workdir / "on", client=FailingModel(), log_runs=True) as failing:
            for question in FAILING:
                failing.ask(question)
        per_span = statistics.median(WRITES)
        print(f"run log writes: {len(WRITES)} spans, p50 {per_span * 1e3:.2f} ms, total {sum(WRITES) * 1e3:,.1f} ms")
        out["writes"] = {"spans": len(WRITES), "p50_s": per_span, "total_s": sum(WRITES)}
        runs_dir = workdir / "on" / ".loop" / "runs"
        files = sorted(runs_dir.glob("*.jsonl"))
        size = sum(f.stat().st_size for f in files)
        start = time.perf_counter()
        runs = lj.load_logs(runs_dir)
        load_s = time.perf_counter() - start
        traces = runs.filter(runs["is_root"]).height
        print(f"run log: {len(files)} file(s), {size / 1e3:,.1f} kB, {runs.height:,} spans in {traces} traces; "
              f"load_logs {load_s * 1e3:,.1f} ms")  # fmt: skip
        out["run_log"] = {"files": len(files), "bytes": size, "spans": runs.height, "traces": traces, "load_s": load_s}
        with Loop(runs, model="offline", workdir=workdir / "self", log_runs=False) as me:
            for question in SELF_QUESTIONS:
                start = time.perf_counter()
                answer = me.ask(question)
                took = time.perf_counter() - start
                table = next((a.frame for a in answer.artifacts if isinstance(a, Table)), None)
                out["questions"][question] = {
                    "s": took,
                    "tools": [c["name"] for c in answer.tool_calls],
                    "rows": None if table is None else table.height,
                    "first_line": answer.text.splitlines()[0] if answer.text else "",
                }
                print(f"{question!r} over the run log: {took * 1e3:,.1f} ms via {out['questions'][question]['tools']}")
                print("   " + "\n   ".join(answer.text.splitlines()[:8]))
    save("selflog", out)


if __name__ == "__main__":
    main()
