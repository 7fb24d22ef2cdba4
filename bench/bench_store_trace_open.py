"""Open one 100k-span trace from a DuckDB store (issue 17: goal ≤ 0.5 s).

The 100k-span trace of ``bench_trace_open.py`` (five levels deep) is appended to a copy of a demo
store (``--base``, e.g. the 1M or 10M store of ``bench_store_scale.py``), then a fresh process
opens the store and measures, p50 of ``--runs`` after one warm-up (the first, cold one is given
too): ``DuckDBStore.trace`` (that trace's spans as a frame) and the explorer's ``open`` request
handler on the store (the tree's columns of that trace, the tree and its first page; wall p50 and
CPU seconds per open), and reading one span's whole row (what opening a span then reads).

Usage: python bench/bench_store_trace_open.py --base bench/data/scale_1000000.duckdb
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATA, child_report, machine, run_child, save, timed


def child_open(store: str, runs: int) -> None:
    from loop_jupyter.sources import DuckDBStore
    from loop_jupyter.widgets.explorer import TraceExplorer
    from loop_jupyter.widgets.messages import OpenRequest

    source = DuckDBStore(store)
    start = time.perf_counter()
    spans = source.trace("big-root")
    cold = time.perf_counter() - start
    read, _ = timed(lambda: source.trace("big-root"), runs)
    explorer = TraceExplorer(source)
    request = OpenRequest(type="open", root_span_id="big-root")
    opened, reply = timed(lambda: explorer._on_open(request), runs)
    cpu = time.process_time()  # all threads of the process: DuckDB's and Polars' too
    for _ in range(runs):
        explorer._on_open(request)
    open_cpu = (time.process_time() - cpu) / runs
    span = reply["top"]["nodes"][0]["span_id"]
    span_read, _ = timed(lambda: (setattr(explorer, "_span_cache", None), explorer._span_source(span)), runs)
    child_report(spans=spans.height, store_spans=source.stats().spans, cold_read_s=cold, read=read,
                 explorer_open=opened, explorer_open_cpu_s=open_cpu, span_fields_read=span_read,
                 reply_spans=reply["span_count"], load_average=os.getloadavg())  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", help="a store to copy and append the big trace to (required)")
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_open(args.child[0], int(args.child[1]))
        return
    if not args.base:
        parser.error("--base is required")
    from bench_trace_open import big_trace

    from loop_jupyter.sources.importer import import_logs

    store = DATA / f"trace_open_{Path(args.base).stem}.duckdb"
    store.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.base, store)
    trace = big_trace(args.spans)
    start = time.perf_counter()
    imported = import_logs(trace, f"duckdb:///{store}", progress=False)
    append_s = time.perf_counter() - start
    del trace
    result = run_child([str(Path(__file__).resolve()), "--child", str(store), str(args.runs)], timeout=3600)
    result.update(machine=machine(), base=args.base, append_s=append_s, spans_added=imported.spans_added)
    save(f"store_trace_open_{Path(args.base).stem}", result)
    print(json.dumps(result, indent=2, default=str))
    store.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
