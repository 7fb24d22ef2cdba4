"""Every SQL query and filter written as an example (README.md, docs/*.md, loop_jupyter/docs/*.md,
the notebooks' code, the explorer's WHERE placeholder) answered on the demo logs and checked against
an independent Polars computation over the raw fields (the span's metrics, span_attributes,
metadata and scores JSON), not against the engine. tests/test_duckdb_store.py checks that a store
answers these as memory does; this checks that memory answers them right.

``test_every_sql_example_is_checked`` fails when a source gains an example that :data:`SQL` or
:data:`FILTERS` does not check, or when a checked one is no longer written anywhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

import loop_jupyter as lj
from loop_jupyter.demo import generate as demo_module
from loop_jupyter.widgets.explorer import TraceExplorer

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime.now(UTC).replace(microsecond=0)

# -- the examples, read from their sources -------------------------------------------------------------
_CALL = re.compile(
    r'''\b(?:lj|store|source)\.(filter|sql)\(\s*(?:logs,\s*)?(?:"""(.*?)"""|"((?:[^"\\]|\\.)*)")(?:,\s*shape="(\w+)")?''',
    re.S,
)
_CLI = re.compile(r"""loop_jupyter (filter|sql) "([^"]+)"(.*)$""", re.M)


def _is_condition(text: str) -> bool:
    return bool(re.search(r"[<>=.]|\bIN\b|\bAND\b|\bhas_error\b", text))


def sql_examples() -> dict[tuple[str, str, str], set[str]]:
    """(kind, text, shape) → the files that write it. kind is "sql" or "filter"; shape "" means the
    default (spans). Descriptions given to ``filter`` are questions (tests/test_example_questions.py)."""
    found: dict[tuple[str, str, str], set[str]] = {}

    def add(kind: str, text: str, shape: str, where: str) -> None:
        found.setdefault((kind, " ".join(text.split()), shape), set()).add(where)

    texts = [(p, p.read_text()) for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]]
    texts += [(p, p.read_text()) for p in sorted((ROOT / "loop_jupyter/docs").glob("*.md"))]
    for p in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(p.read_text())["cells"]
        texts.append((p, "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")))
    for path, text in texts:
        name = str(path.relative_to(ROOT))
        for m in _CALL.finditer(text):
            add(m.group(1), m.group(2) or m.group(3), m.group(4) or "", name)
        for m in _CLI.finditer(text):
            if m.group(1) == "sql" or _is_condition(m.group(2)):
                add(m.group(1), m.group(2), "traces" if "--shape traces" in m.group(3) else "", name)
    # docs/schema.md's block of filters, with its "-- or: ..." alternatives.
    schema = (ROOT / "docs/schema.md").read_text()
    block = schema.split("## Filters", 1)[1].split("```sql", 1)[1].split("```", 1)[0]
    for line in block.strip().splitlines():
        condition, _, comment = line.partition("--")
        add("filter", condition, "", "docs/schema.md")
        if comment.strip().startswith("or:"):
            add("filter", comment.strip()[3:], "", "docs/schema.md")
    # Queries in the user docs' SQL blocks (docs/*.md's SQL blocks are the DBA's DDL, not queries).
    for path in sorted((ROOT / "loop_jupyter/docs").glob("*.md")):
        for block in re.findall(r"```sql\n(.*?)```", path.read_text(), re.S):
            add("sql", block, "", str(path.relative_to(ROOT)))
    # The explorer's WHERE box (over traces): the example after "e.g.".
    explorer = (ROOT / "js/explorer.js").read_text()
    for placeholder in re.findall(r'placeholder:\s*"SQL WHERE over traces, e\.g\. ([^"]+)"', explorer):
        add("filter", placeholder, "explorer", "js/explorer.js")
    return found


# -- the demo and independent computations ---------------------------------------------------------------
def _json(column: str, key: str) -> pl.Expr:
    return pl.col(column).str.json_path_match(f"$.{key}")


@pytest.fixture(scope="module")
def demo() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(the demo logs, the spans with raw fields read here, one row per trace computed here)."""
    logs, _ = demo_module._generate(2000, 0, NOW, False)
    spans = logs.with_columns(
        kind=_json("span_attributes", "type"),
        seconds=_json("metrics", "end").cast(pl.Float64) - _json("metrics", "start").cast(pl.Float64),
        n_tokens=_json("metrics", "tokens").cast(pl.Int64),
        usd=_json("metrics", "estimated_cost").cast(pl.Float64),
        factuality=_json("scores", "Factuality").cast(pl.Float64),
        person=_json("metadata", "user"),
        llm_model=_json("metadata", "model"),
    )
    per_trace = spans.group_by("root_span_id").agg(
        errors=pl.col("error").is_not_null().sum(),
        llm=(pl.col("kind") == "llm").sum(),
        usd=pl.col("usd").sum(),
    )
    roots = spans.filter(pl.col("is_root")).select("root_span_id", "created", "seconds", "person", "factuality", "tags")
    traces = roots.join(per_trace, on="root_span_id", how="left")
    assert traces.height == logs["root_span_id"].n_unique()  # one root per trace in the demo
    return logs, spans, traces


Demo = tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]


def span_ids(demo: Demo, expr: pl.Expr) -> set[str]:
    return set(demo[1].filter(expr)["id"])


def trace_ids(demo: Demo, expr: pl.Expr) -> set[str]:
    return set(demo[2].filter(expr)["root_span_id"])


def since(days: int, now: datetime) -> pl.Expr:
    return pl.col("created") > now - timedelta(days=days)


LLM = pl.col("kind") == "llm"
HAS_ERROR = pl.col("errors") > 0

#: filter (text, shape) → the rows it must give, computed from the raw fields. shape "explorer" is the
#: explorer's WHERE box (traces). Filters that read now() get the instant to compute for.
FILTERS: dict[tuple[str, str], Callable[[Demo, datetime], set[str]]] = {
    ("scores.Factuality < 0.5", ""): lambda d, now: span_ids(d, pl.col("factuality") < 0.5),
    ("scores.Factuality < 0.5", "traces"): lambda d, now: trace_ids(d, pl.col("factuality") < 0.5),
    ("span_attributes.type = 'llm'", ""): lambda d, now: span_ids(d, LLM),
    ("span_attributes.type = 'llm' AND duration > 5", ""): lambda d, now: span_ids(d, LLM & (pl.col("seconds") > 5)),
    ("span_attributes.type = 'llm' AND duration > 20", ""): lambda d, now: span_ids(d, LLM & (pl.col("seconds") > 20)),
    ("span_attributes.type = 'llm' AND duration > 60", ""): lambda d, now: span_ids(d, LLM & (pl.col("seconds") > 60)),
    ("metadata.user = 'John Smith'", ""): lambda d, now: span_ids(d, pl.col("person") == "John Smith"),
    ("metadata.user = 'alice'", "traces"): lambda d, now: trace_ids(d, pl.col("person") == "alice"),
    ("metrics.tokens > 10000", ""): lambda d, now: span_ids(d, pl.col("n_tokens") > 10000),
    ("metrics.end - metrics.start > 60", ""): lambda d, now: span_ids(d, pl.col("seconds") > 60),
    ("duration > 60", ""): lambda d, now: span_ids(d, pl.col("seconds") > 60),
    ("duration > 60", "traces"): lambda d, now: trace_ids(d, pl.col("seconds") > 60),
    ("created > now() - interval 5 day", ""): lambda d, now: span_ids(d, since(5, now)),
    ("'production' IN tags", ""): lambda d, now: span_ids(d, pl.col("tags").list.contains("production")),
    ("tags INCLUDES 'production'", ""): lambda d, now: span_ids(d, pl.col("tags").list.contains("production")),
    ("input ILIKE '%refund%'", ""): lambda d, now: span_ids(
        d, pl.col("input").str.to_lowercase().str.contains("refund")
    ),
    ("error_count > 0", "traces"): lambda d, now: trace_ids(d, HAS_ERROR),
    ("has_error AND llm_calls > 3", "traces"): lambda d, now: trace_ids(d, HAS_ERROR & (pl.col("llm") > 3)),
    ("has_error AND duration > 30", "traces"): lambda d, now: trace_ids(d, HAS_ERROR & (pl.col("seconds") > 30)),
    ("has_error AND duration > 5", "explorer"): lambda d, now: trace_ids(d, HAS_ERROR & (pl.col("seconds") > 5)),
}
#: Examples with no rows on the demo (their variant with rows is checked beside them).
EMPTY_ON_DEMO = {("metadata.user = 'alice'", "traces"), ("span_attributes.type = 'llm' AND duration > 60", "")}
#: Checked beside the examples, not written in a source: the empty examples' shapes with rows.
VARIANTS: dict[tuple[str, str], Callable[[Demo, datetime], set[str]]] = {
    ("metadata.user = 'John Smith'", "traces"): lambda d, now: trace_ids(d, pl.col("person") == "John Smith"),
}


def _rounded(frame: pl.DataFrame) -> list[tuple]:
    """The rows as a sorted list (by their values other than floats)."""
    return sorted(frame.rows(), key=lambda row: repr([v for v in row if not isinstance(v, float)]))


def _grouped(spans: pl.DataFrame, key: str | pl.Expr, **aggs: pl.Expr) -> list[tuple]:
    return _rounded(spans.group_by(key).agg(**aggs))


def _sum(column: str) -> pl.Expr:
    """SQL's sum: null when every value is null."""
    return pl.when(pl.col(column).is_not_null().any()).then(pl.col(column).sum())


#: SQL example → (its rows computed here, or a check of the answer when it is not a row set).
SQL: dict[str, Callable[[Demo, pl.DataFrame], None]] = {}


def sql_check(query: str) -> Callable[[Callable[[Demo, pl.DataFrame], None]], Callable[[Demo, pl.DataFrame], None]]:
    def register(check: Callable[[Demo, pl.DataFrame], None]) -> Callable[[Demo, pl.DataFrame], None]:
        SQL[query] = check
        return check

    return register


def same_rows(got: pl.DataFrame, want: list[tuple]) -> None:
    """The same rows; floats within a millisecond (or 1e-6 relative): durations are stored in ms,
    while the metrics' end - start computed here is the exact difference."""
    rows = _rounded(got)
    assert len(rows) == len(want), (len(rows), len(want))
    for a, b in zip(rows, want, strict=True):
        assert len(a) == len(b) and all(
            x == pytest.approx(y, rel=1e-6, abs=1e-3) if isinstance(x, float) else x == y
            for x, y in zip(a, b, strict=True)
        ), (a, b)


@sql_check("SELECT count(*) FROM traces")
def _count_traces(d: Demo, got: pl.DataFrame) -> None:
    assert got.item() == d[2].height


@sql_check("SELECT name, count(*) FROM logs GROUP BY 1")
def _names(d: Demo, got: pl.DataFrame) -> None:
    same_rows(got, _grouped(d[1], "name", n=pl.len()))


@sql_check("SELECT name, count(*) AS n FROM logs GROUP BY 1 ORDER BY n DESC")
def _names_ordered(d: Demo, got: pl.DataFrame) -> None:
    same_rows(got, _grouped(d[1], "name", n=pl.len()))
    assert got["n"].to_list() == sorted(got["n"].to_list(), reverse=True)


@sql_check("SELECT model, avg(duration) FROM logs WHERE type = 'llm' GROUP BY 1")
def _llm_latency(d: Demo, got: pl.DataFrame) -> None:
    same_rows(got, _grouped(d[1].filter(LLM), "llm_model", s=pl.col("seconds").mean()))


@sql_check("SELECT model, count(*), sum(tokens) FROM logs GROUP BY 1")
def _model_tokens(d: Demo, got: pl.DataFrame) -> None:
    same_rows(got, _grouped(d[1], "llm_model", n=pl.len(), t=_sum("n_tokens")))


@sql_check("SELECT type, count(*) AS n, sum(tokens) AS tokens FROM logs GROUP BY type")
def _types(d: Demo, got: pl.DataFrame) -> None:
    same_rows(got, _grouped(d[1], "kind", n=pl.len(), t=_sum("n_tokens")))


@sql_check("SELECT model, count(*) AS calls FROM logs WHERE type = 'llm' AND error IS NOT NULL GROUP BY model")
def _llm_errors(d: Demo, got: pl.DataFrame) -> None:
    want = _grouped(d[1].filter(LLM & pl.col("error").is_not_null()), "llm_model", n=pl.len())
    assert want
    same_rows(got, want)


@sql_check("SELECT user, count(*) AS traces, sum(total_cost) AS cost FROM traces GROUP BY user")
def _user_cost(d: Demo, got: pl.DataFrame) -> None:
    same_rows(got, _grouped(d[2], "person", n=pl.len(), usd=_sum("usd")))


@sql_check("SELECT user, count(*) AS traces, avg(duration) AS seconds FROM traces GROUP BY user")
def _user_latency(d: Demo, got: pl.DataFrame) -> None:
    same_rows(got, _grouped(d[2], "person", n=pl.len(), s=pl.col("seconds").mean()))


@sql_check("SELECT date_trunc('day', created) AS day, count(*) AS n FROM traces GROUP BY day")
def _traces_per_day(d: Demo, got: pl.DataFrame) -> None:
    same_rows(got, _grouped(d[2], pl.col("created").dt.truncate("1d").alias("day"), n=pl.len()))


@sql_check(
    "SELECT date_trunc('day', created) AS day, model, sum(tokens) AS tokens FROM logs "
    "WHERE model IS NOT NULL GROUP BY 1, 2 ORDER BY 1"
)
def _tokens_per_day(d: Demo, got: pl.DataFrame) -> None:
    spans = d[1].filter(pl.col("llm_model").is_not_null())
    want = spans.group_by(pl.col("created").dt.truncate("1d").alias("day"), "llm_model").agg(t=_sum("n_tokens"))
    same_rows(got, _rounded(want))
    assert got["day"].to_list() == sorted(got["day"].to_list())


@sql_check("SELECT root_span_id, duration FROM traces WHERE has_error LIMIT 20")
def _error_traces(d: Demo, got: pl.DataFrame) -> None:
    errors = dict(d[2].filter(HAS_ERROR).select("root_span_id", "seconds").iter_rows())
    assert got.height == 20 and len(errors) > 20
    for root, seconds in got.iter_rows():
        assert root in errors and seconds == pytest.approx(errors[root], abs=1e-3)


ANNOTATIONS_QUERY = "SELECT name, annotation_label, annotation_note FROM logs JOIN annotations USING (span_id)"


def annotation_label_example() -> str:
    """The explorer's annotation label placeholder: its example after "e.g."."""
    text = (ROOT / "js/explorer_annotate.js").read_text()
    (label,) = re.findall(r'placeholder:\s*"label, e\.g\. ([^"]+)"', text)
    return label


def test_annotations_query_finds_a_label_added_in_the_explorer(demo: Demo, tmp_path: Path) -> None:
    """failures.md's query over the annotations view, after the explorer's annotation control added
    its placeholder's example label to a span: one row, that span's name, the label and the note."""
    from loop_jupyter.tools import ToolContext
    from tests.widget_helpers import make_loop

    logs = demo[0]
    label = annotation_label_example()
    assert label == "wrong tool arguments"  # the label failures.md and the chat's example use too
    loop = make_loop(logs, workdir=tmp_path)
    try:
        explorer = TraceExplorer(logs, loop=loop)
        root = demo[2]["root_span_id"][3]
        span = demo[1].filter((pl.col("root_span_id") == root) & (pl.col("kind") == "tool")).row(0, named=True)
        for content in ({"type": "open", "root_span_id": root},
                        {"type": "annotate", "span_id": span["span_id"], "action": "add", "label": label,
                         "note": "passes a name as the id"}):  # fmt: skip
            reply, _ = explorer.handle({"id": 1, **content})
            assert reply is not None and reply.get("ok", True) is not False, reply
    finally:
        loop.close()
    got = ToolContext(logs=logs, workdir=tmp_path).engine.sql(ANNOTATIONS_QUERY)
    name = json.loads(span["span_attributes"])["name"]
    assert got.rows() == [(name, label, "passes a name as the id")]


def test_every_sql_example_is_checked() -> None:
    found = sql_examples()
    checked = {("filter", t, s) for t, s in FILTERS} | {("sql", q, "") for q in [*SQL, ANNOTATIONS_QUERY]}
    missing = set(found) - checked
    assert not missing, f"SQL examples without a check: {sorted(missing)}"
    stale = checked - set(found)
    assert not stale, f"checked but written nowhere: {sorted(stale)}"
    assert any("js/explorer.js" in w for w in found.values()) and any("notebooks" in str(w) for w in found.values())


@pytest.mark.parametrize("query", sorted(SQL))
def test_sql_example_is_answered_right(demo: Demo, query: str) -> None:
    SQL[query](demo, lj.sql(demo[0], query))


def _filter(demo: Demo, text: str, shape: str) -> set[str]:
    if shape == "explorer":
        explorer = TraceExplorer(demo[0])
        count = explorer.set_filter(text)
        ids = set(explorer.filtered["root_span_id"])
        assert count == len(ids)
        return ids
    rows = lj.filter(demo[0], text, shape=shape or "spans")
    return set(rows["root_span_id" if shape == "traces" else "id"])


@pytest.mark.parametrize(("text", "shape"), sorted(FILTERS) + sorted(VARIANTS))
def test_filter_example_is_answered_right(demo: Demo, text: str, shape: str) -> None:
    expected = {**FILTERS, **VARIANTS}[(text, shape)]
    before = datetime.now(UTC)
    got = _filter(demo, text, shape)
    after = datetime.now(UTC)
    want = [expected(demo, before), expected(demo, after)]
    if (text, shape) in EMPTY_ON_DEMO:
        assert got == want[0] == set(), (text, shape, len(got))
        return
    assert want[0] and got in want, (text, shape, len(got), [len(w) for w in want])


def test_explorer_describe_placeholder_through_the_explorer(demo: Demo) -> None:
    """The explorer's "…or describe it:" example, turned into a filter by the explorer itself (a side
    session, spans kept as their traces): the slow traces (over 60 s) with a failed tool call."""
    from loop_jupyter.agent.session import Loop
    from tests.example_sources import placeholder_questions

    (described,) = placeholder_questions((ROOT / "js/explorer.js").read_text())
    assert described == "slow traces with tool errors"
    loop = Loop(demo[0], model="offline")
    try:
        explorer = TraceExplorer(demo[0], loop=loop)
        explorer.set_filter(explorer.generate_filter(described))
        got = set(explorer.filtered["root_span_id"])
    finally:
        loop.close()
    tool_errors = set(demo[1].filter((pl.col("kind") == "tool") & pl.col("error").is_not_null())["root_span_id"])
    want = trace_ids(demo, pl.col("seconds") > 60) & tool_errors
    assert want and got == want
