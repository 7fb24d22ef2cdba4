"""The example questions of the documentation, read from their sources, and the helpers that check
their answers on the demo. Questions come from their sources (README.md, docs/*.md,
loop_jupyter/docs/*.md, the notebooks and the widgets' placeholders in js/*.js); checked in
tests/test_example_questions.py."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

import loop_jupyter as lj
from loop_jupyter.agent.session import Answer, Loop
from loop_jupyter.artifacts import SqlFilter

ROOT = Path(__file__).resolve().parents[1]

# -- the example questions, read from their sources ------------------------------------------------
#: Quoted text in the sources' prose that is no question to the assistant.
NOT_QUESTIONS = {
    "The output is a refusal. Answer: C": "a judge's reply quoted in scorers.md",
    "Apply to explorer": "a button label (quickstart notebook)",
    "let's assume": "a phrase the attributor looks for, quoted in failures.md",
    "cannot open the store PATH: process N is writing it (an import?) ... open it again when the import has finished": (
        "an error message quoted in docs/sources.md"
    ),
    "cannot write the store PATH: process N has it open ... close the store there (source.close(), or restart the kernel) and import again": (
        "an error message quoted in docs/sources.md"
    ),
}
#: Values the notebooks and docs give their ``{var}`` placeholders (the quickstart sets threshold = 60;
#: magic.md's {user} is any user: the demo's first).
NAMESPACE = {"threshold": "60", "user": "John Smith"}
#: Doc fragments that continue a question ("Ask "create a dataset from logs with errors", "from the
#: most common inputs" or ...").
FRAGMENTS = {
    "from the most common inputs": "create a dataset from the most common inputs",
    "from high-scoring examples": "create a dataset from high-scoring examples",
}


def _strip_flags(line: str) -> str:
    line = re.sub(r"(?:^|\s+)#.*$", "", line).strip()
    while True:
        m = re.match(r"--(?:logs|model|workdir)\s+\S+\s*|--yes\s*", line)
        if not m:
            return line.strip()
        line = line[m.end() :]


def _code_questions(code: str) -> set[str]:
    found: set[str] = set()
    found |= set(re.findall(r"""\bloop\.ask\(\s*(?P<q>"(?:[^"\\]|\\.)*")\s*\)""", code))
    found = {json.loads(q) for q in found}
    lines = code.splitlines()
    for i, line in enumerate(lines):
        if m := re.match(r"\s*%loop(?:\s+(.*))?$", line):
            question = _strip_flags(m.group(1) or "")
            if question:
                found.add(question)
        if re.match(r"\s*%%loop\b", line):
            body = " ".join(x.strip() for x in lines[i + 1 :] if x.strip())
            found.add(body)
        if m := re.search(r"""\bask\s+"([^"]+)\"""", line):
            found.add(m.group(1))
        m = re.search(r"""\bfilter\s+"([^"]+)\"""", line)
        if m and not re.search(r"[<>=.]|\bIN\b", m.group(1)):  # a description, not a SQL condition
            found.add(m.group(1))
    return found


def markdown_questions(text: str) -> set[str]:
    found = {m for m in re.findall(r'QUESTION="([^"]+)"', text)}
    prose: list[str] = []
    for i, part in enumerate(re.split(r"^```.*$", text, flags=re.M)):
        if i % 2:
            found |= _code_questions(part)
        else:
            prose.append(re.sub(r"`[^`]*`", "", part))
    for quoted in re.findall(r'"([^"\n]+(?:\n[^"\n]+)?)"', "\n".join(prose)):  # may wrap once
        quoted = " ".join(quoted.split())
        if len(quoted.split()) >= 2:
            found.add(quoted)
    return found


def notebook_questions(path: Path) -> set[str]:
    found: set[str] = set()
    for cell in json.loads(path.read_text())["cells"]:
        source = "".join(cell["source"])
        found |= _code_questions(source) if cell["cell_type"] == "code" else markdown_questions(source)
    return found


def placeholder_questions(text: str) -> set[str]:
    """Examples in the widgets' placeholders: the text after "describe it:" (a SQL example after
    "e.g." is a condition, not a question)."""
    found: set[str] = set()
    for placeholder in re.findall(r'placeholder:\s*"([^"]*)"', text):
        if m := re.search(r"describe it:\s*(.+)$", placeholder):
            found.add(m.group(1).strip())
    return found


def source_questions() -> dict[str, set[str]]:
    sources: dict[str, set[str]] = {}
    for path in [
        ROOT / "README.md",
        *sorted((ROOT / "docs").glob("*.md")),
        *sorted((ROOT / "loop_jupyter/docs").glob("*.md")),
    ]:
        sources[str(path.relative_to(ROOT))] = markdown_questions(path.read_text())
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        sources[str(path.relative_to(ROOT))] = notebook_questions(path)
    for path in sorted((ROOT / "js").glob("*.js")):
        sources[str(path.relative_to(ROOT))] = placeholder_questions(path.read_text())
    return sources


def as_asked(question: str) -> str:
    question = FRAGMENTS.get(question, question)
    return re.sub(r"\{(\w+)\}", lambda m: NAMESPACE[m.group(1)], question)


# -- the demo and the answers' artifacts ------------------------------------------------------------
@dataclass
class Demo:
    logs: pl.DataFrame
    roots: pl.DataFrame  # one row per trace, from the root spans, in generation order
    truth: dict
    workdir: Path
    loop: Loop  # one session for the module; each example starts its own conversation (see ask)

    def ask(self, question: str, *, scope: str | None = None, selection: list[str] | None = None) -> Answer:
        """Ask as the first question of a conversation: the planner reads follow-ups against the
        earlier questions ("Only LLM spans" after another question narrows it), so each example
        rewinds the session to its start (the earlier turns become a branch) instead."""
        loop = self.loop
        loop.scope_trace(scope)
        loop.selection = list(selection or [])
        if loop.history:
            return loop.wait(loop.edit(0, question))
        return loop.ask(question)

    def trace_ids(self, spans: pl.DataFrame) -> set[str]:
        return set(spans["root_span_id"])


def meta(key: str) -> pl.Expr:
    return pl.col("metadata").str.json_path_match(f"$.{key}")


def first(answer: Answer, kind: type, title: str = "") -> object:
    found = [a for a in answer.artifacts if isinstance(a, kind) and title in (a.title or "")]
    assert found, f"no {kind.__name__} {title!r} in {[type(a).__name__ for a in answer.artifacts]}: {answer.text}"
    return found[0]


def number(text: str, pattern: str) -> list[float]:
    m = re.search(pattern, text)
    assert m, f"{pattern!r} not in {text[:600]!r}"
    return [float(g.replace(",", "")) for g in m.groups()]


def filter_ids(answer: Answer, shape: str) -> set[str]:
    names = [c["name"] for c in answer.tool_calls]
    # A trace filter, or slow_requests narrowed by the rest of the question ("slow traces with tool
    # errors"): either way the filter it hands over is what is checked.
    assert names in (["generate_filter"], ["slow_requests"]), (answer.tool_calls, answer.text)
    if names == ["generate_filter"]:
        assert answer.tool_calls[0]["input"]["shape"] == shape
    sql = first(answer, SqlFilter)
    assert sql.shape == shape
    assert sql.count == len(sql.ids)
    return set(sql.ids)


def answer_rows(demo: Demo, sql: SqlFilter) -> set[str]:
    """All rows of an answer's filter (its ``ids`` are a sample when there are many)."""
    rows = lj.filter(demo.logs, sql.sql, shape=sql.shape)
    return set(rows["root_span_id" if sql.shape == "traces" else "id"])


def slow_roots(demo: Demo) -> pl.DataFrame:
    return demo.roots.filter(pl.col("duration") > 60)


def error_roots(demo: Demo) -> set[str]:
    return set(demo.logs.filter(pl.col("error").is_not_null())["root_span_id"])
