"""Annotations: Python -> versioned Parquet (append-only) -> the SQL view -> failure_modes; hostile
labels stay data everywhere; the agent's annotate tool asks first and never overwrites."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

import loop_jupyter as lj
from loop_jupyter import annotations as store
from loop_jupyter import demo
from loop_jupyter.analysis.annotating import annotate_spans, resolve_targets
from loop_jupyter.analysis.failure_modes import codebook, failure_modes, modes_table
from loop_jupyter.artifacts import Pending, Table
from loop_jupyter.render import answer_bundle, artifact_html
from loop_jupyter.sqltext import sql_literal
from loop_jupyter.tools import ToolContext

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
HOSTILE = 'x\'); DROP TABLE logs; -- <script>alert(1)</script>\n## heading \x00\u2028 "q" `b`'


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    return lj.demo_logs(n_traces=600, seed=3, now=NOW)


def _roots(logs: pl.DataFrame) -> list[str]:
    return logs.filter(pl.col("is_root")).get_column("root_span_id").to_list()


def test_round_trip_python_versions_sql_and_failure_modes(logs: pl.DataFrame, tmp_path: Path) -> None:
    folder = tmp_path / "loop_annotations"
    child = logs.filter(~pl.col("is_root")).row(0, named=True)
    written = lj.annotate(logs, child["span_id"], "bad retrieval", note="first note", workdir=tmp_path)
    assert written.select("span_id", "root_span_id", "label", "note").row(0) == (
        child["span_id"],
        child["root_span_id"],
        "bad retrieval",
        "first note",
    )
    first = (folder / "v0001.parquet").read_bytes()
    # A trace id stands for its root span; the same label again replaces the note (a new version).
    root = _roots(logs)[0]
    lj.annotate(logs, [root, child["span_id"]], "bad retrieval", note="second note", workdir=tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["v0001.parquet", "v0002.parquet"]
    assert (folder / "v0001.parquet").read_bytes() == first  # never rewritten
    current = lj.list_annotations(tmp_path)
    assert current.height == 2 and set(current["note"]) == {"second note"}
    root_span = logs.filter(pl.col("is_root") & (pl.col("root_span_id") == root))["span_id"].item()
    assert set(current["span_id"]) == {child["span_id"], root_span}
    lj.remove_annotation(logs, child["span_id"], workdir=tmp_path)
    assert lj.list_annotations(tmp_path)["span_id"].to_list() == [root_span]
    assert lj.list_annotations(tmp_path, history=True).height == 4  # 1 + 2 + 1 removal, all kept

    ctx = ToolContext(logs=logs, workdir=tmp_path)
    joined = ctx.engine.sql(
        "SELECT span_id, root_span_id, annotation_label, annotation_note, annotation_version "
        "FROM logs JOIN annotations USING (span_id)"
    )
    assert joined.rows() == [(root_span, root, "bad retrieval", "second note", 2)]
    # Trace level: the traces view joins on its root span; a new version shows up in the same engine.
    lj.annotate(logs, _roots(logs)[1], "slow", workdir=tmp_path)
    traces = ctx.engine.sql("SELECT root_span_id, annotation_label FROM traces JOIN annotations USING (span_id) "
                            "ORDER BY annotation_label")  # fmt: skip
    assert traces.rows() == [(root, "bad retrieval"), (_roots(logs)[1], "slow")]
    assert ctx.engine.filter("span_id IN (SELECT span_id FROM annotations)").height == 2
    assert lj.sql(logs, "SELECT count(*) AS n FROM annotations")["n"].item() >= 0  # known outside a session too

    table = modes_table(logs, lj.list_annotations(tmp_path))
    counts = dict(table.select("mode", "traces").iter_rows())
    assert counts["slow"] == 1 and counts["bad retrieval"] == 1
    assert failure_modes(ctx).first(Table).frame.filter(pl.col("mode") == "slow").height == 1


def test_labels_name_and_merge_modes(logs: pl.DataFrame, tmp_path: Path) -> None:
    # Label most (not all) traces of one planted kind, and every trace of another: both modes merge
    # into the label's mode, whose count is the union computed here from the spans.
    name, marker = next(iter(demo.TOOL_ERROR_MARKERS.items()))
    kind = set(
        logs.filter((pl.col("name") == name) & pl.col("error").str.contains(marker, literal=True))["root_span_id"]
    )
    llm = set(logs.filter((pl.col("type") == "llm") & pl.col("error").str.contains(demo.LLM_ERROR_MARKERS["overloaded"],
                                                                                       literal=True))["root_span_id"])  # fmt: skip
    some = sorted(kind)[: len(kind) // 2 + 1]
    lj.annotate(logs, some + sorted(llm), "Infra Flakiness", workdir=tmp_path)
    lj.annotate(logs, sorted(kind)[-1], "infra flakiness", note="same label, other case", workdir=tmp_path)
    table = modes_table(logs, lj.list_annotations(tmp_path))
    counts = dict(table.select("mode", "traces").iter_rows())
    assert not any(m.startswith(f"{name}: ") for m in counts) and "model error: overloaded" not in counts
    assert counts["Infra Flakiness"] == len(kind | llm)
    definition = table.filter(pl.col("mode") == "Infra Flakiness")["definition"].item()
    assert "merges the modes" in definition and "model error: overloaded" in definition
    assert table.height == 9 - 2 + 1


def test_hostile_label_and_note_stay_data(logs: pl.DataFrame, tmp_path: Path) -> None:
    root = _roots(logs)[3]
    written = lj.annotate(logs, root, HOSTILE, note=HOSTILE, workdir=tmp_path)
    label = written["label"].item()
    assert "\n" not in label and "\x00" not in label and "\u2028" not in label and "<script>" in label
    assert "\x00" not in written["note"].item() and "\n" in written["note"].item()
    ctx = ToolContext(logs=logs, workdir=tmp_path)
    found = ctx.engine.sql(f"SELECT count(*) AS n FROM annotations WHERE annotation_label = {sql_literal(label)}")
    assert found["n"].item() == 1
    assert ctx.engine.sql("SELECT count(*) AS n FROM logs")["n"].item() == logs.height  # nothing dropped
    result = failure_modes(ctx)
    table = result.first(Table).frame
    row = Table(table.filter(pl.col("mode") == label))  # polars' HTML shows the first and last rows only
    with pl.Config(fmt_str_lengths=400):  # polars cuts long strings in HTML: show the whole label
        html = answer_bundle(result.text, [*result.artifacts, row])["text/html"] + artifact_html(row)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert codebook(table).count("\n## ") == table.height  # a label cannot start a heading of its own
    with pytest.raises(ValueError, match="non-empty"):
        lj.annotate(logs, root, " \x00\n ", workdir=tmp_path)
    with pytest.raises(ValueError, match="no span or trace"):
        lj.annotate(logs, "no-such-span' OR 1=1 --", "x", workdir=tmp_path)


def test_never_overwrites_a_version_another_writer_took(logs: pl.DataFrame, tmp_path: Path) -> None:
    folder = tmp_path / "loop_annotations"
    folder.mkdir()
    (folder / "v0001.parquet").write_bytes(b"someone else's")
    frame = store.change([{"span_id": "s", "label": "a"}])
    version, path = store.write_change(folder, frame)
    assert (version, path.name) == (2, "v0002.parquet")
    assert (folder / "v0001.parquet").read_bytes() == b"someone else's"
    link = tmp_path / "linked"
    os.symlink(folder, link)
    with pytest.raises(Exception, match="symbolic link"):
        store.write_change(link, frame)


def test_agent_annotate_asks_first(logs: pl.DataFrame, tmp_path: Path) -> None:
    root = _roots(logs)[7]
    folder = tmp_path / "loop_annotations"
    loop = lj.Loop(logs, model="offline", workdir=tmp_path)
    try:
        loop.scope_trace(root)
        answer = loop.ask("annotate this trace as wrong tool arguments")
        assert [c["name"] for c in answer.tool_calls] == ["annotate"]
        assert answer.tool_calls[0]["input"]["label"] == "wrong tool arguments"
        assert not folder.exists()  # nothing written before the confirmation
        (pending,) = loop.pending()
        assert "wrong tool arguments" in pending.preview and root in pending.preview
        loop.confirm(pending.action_id)
        current = lj.list_annotations(tmp_path)
        assert current.select("root_span_id", "label", "source").rows() == [(root, "wrong tool arguments", "agent")]
        loop.confirm(pending.action_id)  # confirming twice writes once
        assert store.versions(folder) == [1]
        loop.scope_trace(None)
        assert [c["name"] for c in loop.ask("show my annotations").tool_calls] == ["list_annotations"]
        # Loop.annotate is the person's own act: written at once.
        loop.annotate(root, "second label")
        assert store.versions(folder) == [1, 2] and loop.annotations().height == 2
    finally:
        loop.close()


def test_annotate_tool_targets(logs: pl.DataFrame, tmp_path: Path) -> None:
    ctx = ToolContext(logs=logs, workdir=tmp_path)
    assert annotate_spans(ctx, label="x").is_error  # no target named: refused, not guessed
    ctx.selection = _roots(logs)[:3]
    result = annotate_spans(ctx, label="picked", note="n")
    assert result.first(Pending).description == "Annotate 3 span(s) as 'picked'"
    errors = annotate_spans(ctx, label="errs", where="has_error")
    expected = logs.filter(pl.col("error").is_not_null())["root_span_id"].n_unique()
    assert f"Annotate {expected:,} span(s)" in errors.first(Pending).description
    assert not (tmp_path / "loop_annotations").exists()
    targets = resolve_targets(logs, [_roots(logs)[0]])
    assert targets["root_span_id"].to_list() == [_roots(logs)[0]]


def test_explorer_annotation_requests(logs: pl.DataFrame, tmp_path: Path) -> None:
    from loop_jupyter.widgets.explorer import TraceExplorer
    from tests.widget_helpers import make_loop

    loop = make_loop(logs, workdir=tmp_path)
    try:
        explorer = TraceExplorer(logs, loop=loop)

        def ask(**content: object) -> dict:
            reply, _ = explorer.handle({"id": 3, **content})
            assert reply is not None and reply["id"] == 3
            return reply

        root = _roots(logs)[2]
        assert ask(type="annotate", span_id="x")["ok"] is False  # no trace open
        ask(type="open", root_span_id=root)
        span = logs.filter(pl.col("root_span_id") == root).row(1, named=True)["span_id"]
        assert ask(type="annotate", span_id=span)["annotations"] == []
        added = ask(type="annotate", span_id=span, action="add", label=HOSTILE, note="why")
        (one,) = added["annotations"]
        assert one["label"] == store.clean_label(HOSTILE) and one["note"] == "why"
        assert lj.list_annotations(tmp_path)["source"].to_list() == ["explorer"]  # beside the session's logs
        other = logs.filter(pl.col("root_span_id") != root)["span_id"][0]
        assert ask(type="annotate", span_id=other, action="add", label="x")["ok"] is False  # not in the open trace
        assert ask(type="annotate", span_id=span, action="add", label="  ")["ok"] is False
        assert ask(type="annotate", span_id=span, action="add", label="x", extra=1)["ok"] is False  # schema
        removed = ask(type="annotate", span_id=span, action="remove", label=one["label"])
        assert removed["annotations"] == [] and store.versions(tmp_path / "loop_annotations") == [1, 2]
    finally:
        loop.close()


def test_near_duplicate_modes_merge_with_the_embeddings() -> None:
    from loop_jupyter.analysis._mode_merge import merge_near_duplicates

    when = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        *[(f"a{i}", "query_database: SQL syntax error", "error") for i in range(3)],
        ("b0", "query_database: syntax error in SQL", "error"),
        ("c0", "query_database: SQL permission error", "error"),
        ("d0", "model error: timeout", "error"),
        ("e0", "fetch_url: Timeout", "error"),
        *[(f"f{i}", "wrong final answer", "annotation") for i in range(2)],
        ("g0", "Incorrect final answer", "annotation"),
        ("h0", "right final answer", "annotation"),
        ("i0", "claims an action no tool performed: deploy", "claim"),
        ("i1", "claims an action no tool performed: send", "claim"),
    ]
    schema = {"root_span_id": pl.String, "mode": pl.String, "signal": pl.String, "definition": pl.String,
              "when": pl.Datetime("us", "UTC")}  # fmt: skip
    pairs = pl.DataFrame([(r, m, s, f"def of {m}", when) for r, m, s in rows], schema=schema, orient="row")
    merged = merge_near_duplicates(pairs)
    counts = dict(merged.group_by("mode").agg(pl.len()).iter_rows())
    assert counts == {
        "query_database: SQL syntax error": 4,  # the larger name wins
        "query_database: SQL permission error": 1,
        "model error: timeout": 1,
        "fetch_url: Timeout": 1,
        "wrong final answer": 3,
        "right final answer": 1,
        "claims an action no tool performed: deploy": 1,
        "claims an action no tool performed: send": 1,
    }
    definition = merged.filter(pl.col("root_span_id") == "b0")["definition"].item()
    assert "near-duplicate modes query_database: syntax error in SQL" in definition
