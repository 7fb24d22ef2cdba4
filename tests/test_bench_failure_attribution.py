"""The failure-attribution harness runs end to end on a few traces per subset (fast smoke test)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

import loop_jupyter as lj

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("failure_attribution", ROOT / "bench" / "failure_attribution.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_wilson_interval(bench) -> None:
    lo, hi = bench.wilson(5, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.2366, 0.7634)
    assert bench.wilson(0, 10)[0] == 0.0 and round(bench.wilson(0, 10)[1], 4) == 0.2775


def test_scoring_rules(bench) -> None:
    label = bench.Label("r", "AG", "Web", 1, ("Web", "Orchestrator"), 12)
    assert bench.paper_hit(label, "WebSurfer", 10) == (True, True)  # the paper's substring rule
    assert bench.strict_hit(label, "WebSurfer", 10) == (False, False)
    assert bench.strict_hit(label, "web", 1) == (True, True)
    # random: agent 1 of 2; steps 0..11 containing "1": 1, 10, 11 under the paper's rule
    assert bench.random_expectation(label, "paper") == (0.5, 3 / 12)
    assert bench.random_expectation(label, "strict") == (0.5, 1 / 12)


def test_label_check_fires_on_an_unstripped_frame(bench, fixtures_dir: Path) -> None:
    frame = lj.load_logs(str(fixtures_dir / "who-and-when" / "Who&When" / "Hand-Crafted" / "1.json"))
    with pytest.raises(AssertionError, match="label field"):
        bench.assert_no_labels(frame, {})
    bench.assert_no_labels(bench.strip_labels(frame), {})


def test_harness_runs_on_a_few_traces(bench, fixtures_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "section.md"
    bench.main(["--fixtures", str(fixtures_dir / "who-and-when" / "Who&When"), "--limit", "6", "--markdown", str(out)])
    text = out.read_text()
    assert "6 algorithm-generated (AG) and 6 hand-crafted (HC)" in text
    rows = [line for line in text.splitlines() if line.startswith("| Offline") or line.startswith("| Random (expected")]
    assert len(rows) == 8  # random, former first-match order, equal votes, tuned votes; two rules
    for row in rows:
        values = [float(v) for v in re.findall(r"\| (\d+\.\d\d) \[", row)]
        assert len(values) == 4 and all(0 <= v <= 100 for v in values)
        # accuracies over 6 traces are multiples of 1/6 for the attributor
        if row.startswith("| Offline"):
            assert all(abs(v * 6 / 100 - round(v * 6 / 100)) < 1e-3 for v in values)
    assert "Binary search (GPT-4o), paper Table 1 | 44.13 | 23.98 | 51.72 | 6.90" in text
    assert "Votes: shipped assumption 1, before_error 1, first_handoff 1, failed_action 1;" in text
    assert "**Per labelled agent, HC, equal votes (strict)**" in text and "| labelled ↓ / predicted → |" in text
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmarks\n")
    bench.update_results(text, results)
    bench.update_results(text, results)  # replaces, does not append twice
    assert results.read_text().count(bench.MARK_START) == 1


def test_tuning_leaves_equal_votes_only_for_a_gain(bench, fixtures_dir: Path) -> None:
    """On traces where the rules cannot be told apart the tuned weights stay equal; a subset where one
    rule alone is right moves them, and the penalty decides how far."""
    frame = lj.load_logs(str(fixtures_dir / "who-and-when" / "Who&When" / "Algorithm-Generated"))
    labels = list(bench.read_labels(frame).values())[:40]
    clean = bench.strip_labels(frame)
    prepared = bench.prepare(clean, [label.root for label in labels])
    equal = dict.fromkeys(bench.RULES, 1.0)
    # Labels made from the equal vote's own answers: nothing beats equal votes, and ties stay there.
    own = bench.predict(prepared, [label.root for label in labels], equal)
    echo = [bench.Label(lb.root, "AG", own[lb.root][0] or "", own[lb.root][1] if own[lb.root][1] is not None else -1,
                        lb.agents, lb.steps) for lb in labels]  # fmt: skip
    assert bench.tune(prepared, echo) == equal
    # Labels made from the first-hand-off turn alone: the tuning moves toward that rule.
    handoff = {"assumption": 0.0, "before_error": 0.0, "first_handoff": 1.0, "failed_action": 0.0}
    theirs = bench.predict(prepared, [label.root for label in labels], handoff)
    moved = [bench.Label(lb.root, "AG", theirs[lb.root][0] or "", theirs[lb.root][1], lb.agents, lb.steps)
             for lb in labels]  # fmt: skip
    tuned = bench.tune(prepared, moved, penalty=0.0)
    assert bench.predict(prepared, [lb.root for lb in labels], tuned) == theirs
    assert tuned["first_handoff"] > max(tuned[r] for r in bench.RULES if r != "first_handoff")
