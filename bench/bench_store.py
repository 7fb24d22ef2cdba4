"""The persisted DuckDB store (issue 17) against the in-memory frame, ratios in one run.

For each size (demo spans): import time and peak RSS (one JSONL file = one batch; the same spans
as a folder of 10 files = 10 batches), store size on disk, re-open time (fresh process: connect +
stats) against re-loading the JSONL, and the seed filters' p50 on the store against the in-memory
engine. Each import and re-open runs in a fresh process; peak RSS is the kernel's VmHWM.

Usage: python bench/bench_store.py [--spans 100000 1000000] [--runs N]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    DATA,
    NOW,
    SEED_FILTERS,
    child_report,
    demo_jsonl,
    machine,
    n_traces_for,
    run_child,
    save,
    stats,
    timed,
)

PARTS = 10


def split_folder(spans: int) -> Path:
    """The demo JSONL of ``spans`` as PARTS files of whole traces (generated once)."""
    import polars as pl

    from loop_jupyter import demo

    folder = DATA / f"demo_{spans}_parts{PARTS}"
    if folder.is_dir():
        return folder
    frame = demo.demo_logs(n_traces_for(spans), seed=0, now=NOW)
    tmp = folder.with_suffix(".tmp-write")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    bucket = frame.get_column("root_span_id").hash(seed=0) % PARTS
    for index in range(PARTS):
        (tmp / f"part-{index:02d}.jsonl").write_text(demo.jsonl_text(frame.filter(bucket == index)))
    del frame, pl
    tmp.replace(folder)
    return folder


def child_import(source: str, store: Path) -> None:
    from loop_jupyter.sources.importer import import_logs

    start = time.perf_counter()
    result = import_logs(source, f"duckdb:///{store}", progress=False)
    child_report(seconds=time.perf_counter() - start, spans=result.spans_added, batches=result.batches)


def child_reopen(store: Path) -> None:
    from loop_jupyter.sources import DuckDBStore

    start = time.perf_counter()
    source = DuckDBStore(store)
    spans = source.stats().spans
    first_page = source.page(limit=50)
    child_report(seconds=time.perf_counter() - start, spans=spans, page_rows=first_page.height)


def child_load(path: str) -> None:
    from loop_jupyter import load_logs

    start = time.perf_counter()
    frame = load_logs(path, progress=False)
    child_report(seconds=time.perf_counter() - start, spans=frame.height)


def _fresh(path: Path) -> Path:
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)
    return path


def measure(spans: int, runs: int) -> dict:
    from loop_jupyter import load_logs
    from loop_jupyter.engine import LogEngine
    from loop_jupyter.sources import DuckDBStore

    jsonl = demo_jsonl(spans)
    folder = split_folder(spans)
    out: dict = {"spans": spans, "jsonl_mb": jsonl.stat().st_size / 1e6}
    me = str(Path(__file__).resolve())
    one = _fresh(DATA / f"store_{spans}.duckdb")
    out["import_file"] = run_child([me, "--child", "import", str(jsonl), str(one)])
    parts = _fresh(DATA / f"store_{spans}_parts.duckdb")
    out["import_folder"] = run_child([me, "--child", "import", str(folder), str(parts)])
    out["load_in_memory"] = run_child([me, "--child", "load", str(jsonl)])
    out["store_mb"] = one.stat().st_size / 1e6
    reopen = [run_child([me, "--child", "reopen", str(one)]) for _ in range(3)]
    out["reopen"] = {
        "seconds": stats([r["seconds"] for r in reopen]),
        "maxrss_mb": stats([r["maxrss_mb"] for r in reopen]),
    }
    frame = load_logs(jsonl, progress=False)
    engine = LogEngine(frame)
    _ = engine.traces
    store = DuckDBStore(one)
    assert store.stats().spans == frame.height
    out["filters"] = {}
    for name, (where, shape) in SEED_FILTERS.items():
        memory, expected = timed(lambda w=where, s=shape: engine.filter(w, shape=s), runs)
        on_store, got = timed(lambda w=where, s=shape: store.filter(w, shape=s), runs)
        assert got.height == expected.height, (name, got.height, expected.height)
        out["filters"][name] = {"rows": got.height, "memory": memory, "store": on_store,
                                "ratio": on_store["median"] / memory["median"]}  # fmt: skip
    first_page, _ = timed(lambda: store.page(limit=50), runs)
    out["traces_first_page"] = first_page
    biggest = store.sql("SELECT root_span_id, span_count FROM traces ORDER BY span_count DESC LIMIT 1").row(0)
    open_trace, _ = timed(lambda: store.trace(biggest[0]), runs)
    out["open_trace"] = {"spans": biggest[1], **open_trace}
    store.close()
    return out


def report(out: dict) -> None:
    for size in out["sizes"]:
        f, d, m = size["import_file"], size["import_folder"], size["load_in_memory"]
        print(f"\n{size['spans']:,} spans ({size['jsonl_mb']:.0f} MB JSONL), store {size['store_mb']:.0f} MB")
        print(f"  import, one file      {f['seconds']:6.1f} s  peak {f['maxrss_mb']:6.0f} MB")
        print(f"  import, {PARTS} files      {d['seconds']:6.1f} s  peak {d['maxrss_mb']:6.0f} MB")
        print(f"  load_logs in memory   {m['seconds']:6.1f} s  peak {m['maxrss_mb']:6.0f} MB")
        print(f"  re-open store p50     {size['reopen']['seconds']['median']:6.3f} s")
        for name, row in size["filters"].items():
            print(f"  filter {name:34s} store {row['store']['median'] * 1e3:7.1f} ms  memory "
                  f"{row['memory']['median'] * 1e3:7.1f} ms  ({row['ratio']:.2f}x)")  # fmt: skip
        print(f"  traces first page p50 {size['traces_first_page']['median'] * 1e3:7.1f} ms; "
              f"open a {size['open_trace']['spans']}-span trace {size['open_trace']['median'] * 1e3:.1f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spans", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        {"import": lambda: child_import(rest[0], Path(rest[1])), "reopen": lambda: child_reopen(Path(rest[0])),
         "load": lambda: child_load(rest[0])}[kind]()  # fmt: skip
        return
    out = {"machine": machine(), "sizes": [measure(spans, args.runs) for spans in args.spans]}
    save("store", out)
    report(out)


if __name__ == "__main__":
    main()
