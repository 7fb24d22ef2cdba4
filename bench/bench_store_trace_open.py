"""Open one 100k-span trace from a DuckDB store (issue 17: goal ≤ 0.5 s).

The 100k-span trace of ``bench_trace_open.py`` (five levels deep) is appended to a copy of a demo
store (``--base``, e.g. the 1M or 10M store of ``bench_store_scale.py``), then a fresh process
opens the store and measures, p50 of ``--runs`` after one warm-up (the first, cold one is given
too): ``DuckDBStore.trace`` (that trace's spans as a frame) and the explorer's ``open`` request
handler on the store (the tree's columns of that trace, the tree and its first page; wall p50 and
CPU seconds per open), and reading one span's whole row (what opening a span then reads).

The append writes the store's trace row ranges (``sources/trace_rows.py``) for the whole copy when
the base has none. ``--baseline DIR`` (a checkout of the code before a change, e.g. ``git archive``)
runs the same child with that code on the same store first: before and after in one run.

Usage: python bench/bench_store_trace_open.py --base bench/data/scale_1000000.duckdb [--baseline DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATA, child_report, machine, run_child, save, timed


def _cpu_per_call(fn: Any, runs: int) -> float:
    """CPU seconds per call of ``fn`` (all threads of the process: DuckDB's and Polars' too)."""
    cpu = time.process_time()
    for _ in range(runs):
        fn()
    return (time.process_time() - cpu) / runs


def child_open(store: str, runs: int) -> None:
    from loop_jupyter.sources import DuckDBStore
    from loop_jupyter.widgets.explorer import TraceExplorer
    from loop_jupyter.widgets.messages import OpenRequest

    source = DuckDBStore(store)
    start = time.perf_counter()
    spans = source.trace("big-root")
    cold = time.perf_counter() - start
    read, _ = timed(lambda: source.trace("big-root"), runs)
    read_cpu = _cpu_per_call(lambda: source.trace("big-root"), runs)
    explorer = TraceExplorer(source)
    request = OpenRequest(type="open", root_span_id="big-root")
    opened, reply = timed(lambda: explorer._on_open(request), runs)
    open_cpu = _cpu_per_call(lambda: explorer._on_open(request), runs)
    span = reply["top"]["nodes"][0]["span_id"]

    def span_source() -> object:
        explorer._span_cache = None
        return explorer._span_source(span)

    span_read, _ = timed(span_source, runs)
    span_cpu = _cpu_per_call(span_source, runs)
    child_report(spans=spans.height, store_spans=source.stats().spans, cold_read_s=cold, read=read,
                 read_cpu_s=read_cpu, explorer_open=opened, explorer_open_cpu_s=open_cpu,
                 span_fields_read=span_read, span_fields_read_cpu_s=span_cpu, reply_spans=reply["span_count"],
                 load_average=os.getloadavg())  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", help="a store to copy and append the big trace to (required)")
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", help="a checkout of the code before a change: its child runs too, same store")
    parser.add_argument("--work", help="folder for the store copy (default bench/data)")
    parser.add_argument("--keep", action="store_true", help="keep the store copy (removed by default)")
    parser.add_argument("--reuse", action="store_true", help="open a kept copy again (no copy, no append)")
    parser.add_argument("--rounds", type=int, default=1, help="child runs per code version (alternating)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_open(args.child[0], int(args.child[1]))
        return
    if not args.base:
        parser.error("--base is required")
    from bench_trace_open import big_trace

    from loop_jupyter.sources.importer import import_logs

    store = (Path(args.work) if args.work else DATA) / f"trace_open_{Path(args.base).stem}.duckdb"
    store.parent.mkdir(parents=True, exist_ok=True)
    append_s, added = None, None
    if not (args.reuse and store.exists()):
        shutil.copyfile(args.base, store)
        trace = big_trace(args.spans)
        start = time.perf_counter()
        added = import_logs(trace, f"duckdb:///{store}", progress=False).spans_added
        append_s = time.perf_counter() - start
        del trace
    child = [str(Path(__file__).resolve()), "--child", str(store), str(args.runs)]
    result: dict[str, Any] = {}
    for _ in range(args.rounds):  # with --baseline: the code before, then this code, same store, alternating
        if args.baseline:
            result.setdefault("before", []).append(run_child(child, timeout=3600, root=args.baseline))
        result.setdefault("after" if args.baseline else "result", []).append(run_child(child, timeout=3600))
    result.update(machine=machine(), base=Path(args.base).name, append_s=append_s, spans_added=added)
    save(f"store_trace_open_{Path(args.base).stem}", result)
    print(json.dumps(result, indent=2, default=str))
    if not args.keep:
        store.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
