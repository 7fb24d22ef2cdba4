"""Holes found by an attacker's pass over current main (each test failed before its fix).

- A filter (model-chosen ``where``) was spliced into the sources' reads without parentheses:
  ``sample(3, where="a OR b")`` ran ``WHERE a OR b AND EXISTS (picked)`` and returned every row
  matching ``a``: the whole table instead of three rows.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import loop_jupyter as lj
from loop_jupyter.sources import DuckDBStore, MemorySource
from loop_jupyter.sources.importer import import_logs

N_TRACES = 40


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory):
    from loop_jupyter.demo import write_demo_jsonl

    folder: Path = tmp_path_factory.mktemp("attack")
    write_demo_jsonl(folder / "demo.jsonl", n_traces=N_TRACES, seed=3)
    memory = MemorySource(lj.load_logs(folder / "demo.jsonl"))
    result = import_logs(folder / "demo.jsonl", f"duckdb:///{folder}/demo.duckdb", progress=False)
    assert result.report.ok
    store = lj.connect(f"duckdb:///{folder}/demo.duckdb")
    assert isinstance(store, DuckDBStore)
    yield {"memory": memory, "store": store}
    store.close()


@pytest.mark.parametrize("kind", ["memory", "store"])
@pytest.mark.parametrize("where", ["root_span_id IS NOT NULL OR FALSE", "name IS NOT NULL OR name IS NULL"])
def test_a_sample_with_an_or_filter_stays_n_rows(sources, kind: str, where: str) -> None:
    source = sources[kind]
    assert source.count(where, shape="traces") == N_TRACES  # the filter matches every trace
    for shape in ("traces", "spans"):
        assert source.sample(3, where=where, shape=shape).height == 3, shape
    assert source.sample_ids(3, where=where).len() == 3
    spans, traces = source.sample_spans(3, where=where)
    assert traces == 3 and spans.get_column("root_span_id").n_unique() == 3
    # The same draw as the filter written without OR (the condition keeps its meaning).
    plain = source.sample_ids(3, where="root_span_id IS NOT NULL")
    assert source.sample_ids(3, where=where).to_list() == plain.to_list()
