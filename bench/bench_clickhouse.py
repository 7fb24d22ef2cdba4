"""ClickHouse (chDB, in-process) against the DuckDB store on the same demo spans (issue 18).

For each size: the demo JSONL imported into a DuckDB store (``import --to duckdb:///``) and into
chDB's ``native`` table (``import --to chdb:///``, with ``_row``); the same spans copied inside
chDB into the OpenTelemetry exporter's ``otel_traces`` table (built from the exporter's own DDL,
tests/../shared/fixtures/clickhouse) with GenAI/OpenInference attributes, read through the
``otel`` adapter. Then, per backend in a fresh process: open + stats, each seed filter's p50
(``filter()``: the matching rows as a frame, and ``count()``), the traces view's first page
(``page(limit=50)``), and opening the biggest trace (``trace()``).

Usage: python bench/bench_clickhouse.py [--spans 1000000] [--runs 3] [--backends duckdb native otel]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATA, SEED_FILTERS, child_report, demo_jsonl, machine, run_child, save, stats

#: The collector's table template, from the fixtures beside the repository (../shared/fixtures).
OTEL_DDL = (
    Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "clickhouse" / "otel-collector" / "traces_table.sql"
)

#: The demo spans as the OTel collector's exporter would store them (OpenInference attributes).
OTEL_FROM_NATIVE = """
INSERT INTO otel_traces (Timestamp, TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind,
  ServiceName, ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes, Duration, StatusCode, StatusMessage)
SELECT start, root_span_id, span_id, coalesce(parent_id, ''), '', coalesce(name, ''), 'Internal', 'demo',
  map('service.name', 'demo'), '', '',
  mapFilter((k, v) -> v != '', map(
    'openinference.span.kind', multiIf(type = 'llm', 'LLM', type = 'tool', 'TOOL', type = 'task', 'AGENT', 'CHAIN'),
    'llm.model_name', coalesce(model, ''),
    'llm.token_count.prompt', coalesce(toString(prompt_tokens), ''),
    'llm.token_count.completion', coalesce(toString(completion_tokens), ''),
    'user.id', JSONExtractString(coalesce(metadata, '{}'), 'user'),
    'session.id', JSONExtractString(coalesce(metadata, '{}'), 'session_id'),
    'input.value', coalesce(input, ''), 'output.value', coalesce(output, ''))),
  toUInt64(greatest(0, coalesce(duration, 0)) * 1e9), if(error IS NULL, 'Unset', 'Error'), coalesce(error, '')
FROM loop_spans"""


def child_import(kind: str, source: str, target: str) -> None:
    start = time.perf_counter()
    if kind == "duckdb":
        from loop_jupyter.sources.importer import import_logs

        result = import_logs(source, f"duckdb:///{target}", progress=False)
        extra = {}
    else:
        from loop_jupyter.clickhouse.backend import _Chdb
        from loop_jupyter.clickhouse.importer import import_to_chdb

        result = import_to_chdb(source, f"chdb:///{target}", progress=False)
        extra = {"native_seconds": time.perf_counter() - start}
        conn = _Chdb(target, {"session_timezone": "UTC"})
        try:
            begun = time.perf_counter()
            conn.execute(OTEL_DDL.read_text() % ("otel_traces", "", "MergeTree()", ""))
            conn.execute(OTEL_FROM_NATIVE)
            extra["otel_copy_seconds"] = time.perf_counter() - begun
            extra["otel_rows"] = int(conn.execute("SELECT count() FROM otel_traces").strip())
        finally:
            conn.close()
    child_report(seconds=time.perf_counter() - start, spans=result.spans_added, **extra)


def _timed(fn, runs: int) -> tuple[dict, object]:
    result = fn()  # warm-up
    times = []
    for _ in range(runs):
        begun = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - begun)
    return stats(times), result


def child_queries(url: str, runs: int) -> None:
    import loop_jupyter as lj

    begun = time.perf_counter()
    source = lj.connect(url, timeout_s=900, row_limit=10_000_000)
    spans = source.stats().spans
    out: dict = {"open_stats_s": time.perf_counter() - begun, "spans": spans, "filters": {}}
    for name, (where, shape) in SEED_FILTERS.items():
        filtered, frame = _timed(lambda w=where, s=shape: source.filter(w, shape=s), runs)
        counted, n = _timed(lambda w=where, s=shape: source.count(w, shape=s), runs)
        out["filters"][name] = {"rows": frame.height, "filter": filtered, "count": counted, "n": n}
    out["traces_first_page"], _ = _timed(lambda: source.page(limit=50), runs)
    biggest = source.sql("SELECT root_span_id, span_count FROM traces ORDER BY span_count DESC LIMIT 1").row(0)
    opened, trace = _timed(lambda: source.trace(biggest[0]), runs)
    out["open_trace"] = {"spans": trace.height, **opened}
    source.close()
    child_report(**out)


def measure(spans: int, runs: int, backends: list[str]) -> dict:
    jsonl = demo_jsonl(spans)
    me = str(Path(__file__).resolve())
    out: dict = {"spans": spans, "jsonl_mb": jsonl.stat().st_size / 1e6, "runs": runs}
    store = DATA / f"ch_bench_{spans}.duckdb"
    chdb_dir = DATA / f"ch_bench_{spans}.chdb"
    if not store.exists():
        out["import_duckdb"] = run_child([me, "--child", "import", "duckdb", str(jsonl), str(store)], timeout=7200)
    if not chdb_dir.exists():
        tmp = chdb_dir.with_suffix(".tmp-write")
        shutil.rmtree(tmp, ignore_errors=True)
        out["import_chdb"] = run_child([me, "--child", "import", "chdb", str(jsonl), str(tmp)], timeout=7200)
        tmp.replace(chdb_dir)
    out["duckdb_mb"] = store.stat().st_size / 1e6
    out["chdb_mb"] = sum(p.stat().st_size for p in chdb_dir.rglob("*") if p.is_file()) / 1e6
    urls = {
        "duckdb": f"duckdb:///{store}",
        "native": f"chdb:///{chdb_dir}?schema=native",
        "otel": f"chdb:///{chdb_dir}?schema=otel",
    }
    for backend in backends:
        try:
            out[backend] = run_child([me, "--child", "queries", urls[backend], str(runs)], timeout=7200)
        except (RuntimeError, TimeoutError) as exc:
            out[backend] = {"error": str(exc)[-1500:]}
    return out


def report(out: dict) -> None:
    for size in out["sizes"]:
        print(f"\n{size['spans']:,} spans; DuckDB store {size['duckdb_mb']:.0f} MB, chDB {size['chdb_mb']:.0f} MB")
        for key in ("import_duckdb", "import_chdb"):
            if key in size:
                row = size[key]
                print(f"  {key:14s} {row['seconds']:7.1f} s  peak {row['maxrss_mb']:6.0f} MB  {row}")
        for backend in ("duckdb", "native", "otel"):
            row = size.get(backend)
            if not row:
                continue
            if "error" in row:
                print(f"  {backend}: FAILED {row['error'][-300:]}")
                continue
            print(f"  {backend}: open+stats {row['open_stats_s']:.2f} s, peak {row['maxrss_mb']:.0f} MB")
            for name, f in row["filters"].items():
                print(f"    {name:34s} {f['rows']:>9,} rows  filter {f['filter']['median'] * 1e3:8.0f} ms  "
                      f"count {f['count']['median'] * 1e3:7.0f} ms")  # fmt: skip
            print(f"    traces first page {row['traces_first_page']['median'] * 1e3:8.0f} ms; open a "
                  f"{row['open_trace']['spans']}-span trace {row['open_trace']['median'] * 1e3:7.0f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spans", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", nargs="+", default=["duckdb", "native", "otel"])
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "import":
            child_import(*rest)
        else:
            child_queries(rest[0], int(rest[1]))
        return
    out = {"machine": machine(), "sizes": [measure(spans, args.runs, args.backends) for spans in args.spans]}
    save("clickhouse", out)
    report(out)


if __name__ == "__main__":
    main()
