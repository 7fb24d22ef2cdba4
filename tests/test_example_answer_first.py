"""The documentation's example questions answer with their finding first: no "Not used from the
question" note about words the answer did use (or that only phrase the request), and a question
about a trace's time opens with where the time went. tests/test_example_questions.py checks the
figures of the same answers; this checks what the person reads first.

Found wrong before: "Build a failure taxonomy" opened with "Not used from the question: 'Build'",
"create a dataset from high-scoring examples" with "'high-scoring' 'examples'" (the tool reads them
to pick its preset), "write a scorer that detects these errors" with "'detects'", "find traces like
this one" with "'one'"; "where was the time spent?" opened with "Nothing in this trace stands out".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import polars as pl
import pytest

from loop_jupyter.agent.planner.summary import UNUSED
from loop_jupyter.agent.session import Answer, Loop
from loop_jupyter.demo import generate as demo_module
from tests.example_sources import as_asked, source_questions
from tests.helpers import self_time_by_name
from tests.test_example_questions import CHECKS

NOW = datetime.now(UTC).replace(microsecond=0)

#: Examples whose answer rightly says it did not use a word, with the reason.
UNUSED_RIGHTLY = {"summarize trace abc": "'abc' stands for an id in getting-started.md; no trace has it"}
#: Examples asked about one trace (scoped to it), and with a selection.
ABOUT_A_TRACE = re.compile(r"^(summarize this|where was|explain the|show a timeline|find traces like|annotate)", re.I)
SELECTED = {"Find similar traces", "find similar traces"}


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Loop, pl.DataFrame]]:
    logs, _ = demo_module._generate(2000, 0, NOW, False)
    loop = Loop(logs, model="offline", workdir=tmp_path_factory.mktemp("first"))
    yield loop, logs
    loop.close()


def ask(session: tuple[Loop, pl.DataFrame], question: str) -> Answer:
    loop, logs = session
    root = logs.filter(pl.col("is_root"))["root_span_id"][0]
    loop.scope_trace(root if ABOUT_A_TRACE.match(question) else None)
    loop.selection = [root] if question in SELECTED else []
    return loop.wait(loop.edit(0, question)) if loop.history else loop.ask(question)


def _examples() -> list[str]:
    found = set().union(*source_questions().values())
    return sorted(q for q in CHECKS if q in found)


@pytest.mark.parametrize("question", _examples())
def test_example_answer_opens_with_its_finding(session: tuple[Loop, pl.DataFrame], question: str) -> None:
    answer = ask(session, as_asked(question))
    first = answer.text.split("\n\n", 1)[0]
    if question in UNUSED_RIGHTLY:
        assert UNUSED in answer.text
        return
    assert UNUSED not in answer.text, answer.text[:300]
    assert not first.startswith(("Chose ", "Follow-up")), first


def test_where_was_the_time_spent_opens_with_the_time(session: tuple[Loop, pl.DataFrame]) -> None:
    logs = session[1]
    answer = ask(session, "where was the time spent?")
    root = logs.filter(pl.col("is_root"))["root_span_id"][0]
    spans = logs.filter(pl.col("root_span_id") == root)
    # Self time: a span's duration minus its children's, summed by span name; the most first.
    own = self_time_by_name(spans)
    name, seconds = own.row(0)
    first = answer.text.split("\n\n", 1)[0]
    assert first.startswith(f"Most of the time went to {name}: {seconds:.2f} s of its own"), first
    # "Summarize this trace" keeps its anomalies first: the time is not what was asked.
    summary = ask(session, "Summarize this trace").text
    assert not summary.startswith("Most of the time"), summary[:200]


def test_preset_words_that_name_nothing_are_still_reported(session: tuple[Loop, pl.DataFrame]) -> None:
    # The preset's words are used; a word next to them that the tool ignores is still said.
    answer = ask(session, "create a dataset from high-scoring bananas")
    assert f"{UNUSED} 'bananas'" in answer.text and "'high-scoring'" not in answer.text


def test_every_source_example_is_here() -> None:
    assert len(_examples()) >= 40  # the extraction found the examples: the tests above test something


def test_the_magic_help_examples_are_checked() -> None:
    """``%loop?`` shows the module's docstring: its example questions (the indented block) are
    among the checked examples (tests/test_example_questions.py)."""
    import loop_jupyter.magic as magic
    from tests.example_sources import _code_questions

    block = "\n".join(line[4:] for line in (magic.__doc__ or "").splitlines() if line.startswith("    "))
    asked = _code_questions(block)
    assert len(asked) == 3 and asked <= set(CHECKS), sorted(asked - set(CHECKS))


def test_latency_patterns_open_with_where_slow_traces_spend_the_time(session: tuple[Loop, pl.DataFrame]) -> None:
    """The answer opens with the span name whose self time per trace grows most in slow traces
    (over 60 s) against the others, computed here: self time = duration minus the children's."""
    logs = session[1]
    answer = ask(session, "What patterns do you see in high-latency requests?")
    children = logs.group_by("parent_id").agg(child_s=pl.col("duration").sum())
    spans = logs.join(children, left_on="span_id", right_on="parent_id", how="left").with_columns(
        self_s=(pl.col("duration") - pl.col("child_s").fill_null(0)).clip(0)
    )
    slow_ids = logs.filter(pl.col("is_root") & (pl.col("duration") > 60))["root_span_id"]
    n_slow, n_other = slow_ids.len(), logs["root_span_id"].n_unique() - slow_ids.len()
    spans = spans.with_columns(slow=pl.col("root_span_id").is_in(slow_ids.implode()))
    per = spans.group_by("name").agg(
        slow=pl.col("self_s").filter(pl.col("slow")).sum() / n_slow,
        other=pl.col("self_s").filter(~pl.col("slow")).sum() / n_other,
    )
    top = per.with_columns(extra=pl.col("slow") - pl.col("other")).sort(["extra", "name"], descending=[True, False])
    name, slow, other, extra = top.row(0)
    first = answer.text.split("\n\n", 1)[0]
    assert first == (
        f"Traces over 60 s ({n_slow:,}) spend the most extra time in {name}: {slow:,.1f} s per trace against "
        f"{other:,.1f} s in the others (+{extra:,.1f} s)."
    ), first
