"""ClickHouse (chDB, in-process) against the DuckDB store on the same demo spans (issue 18).

For each size: the demo JSONL imported into a DuckDB store (``import --to duckdb:///``) and into
chDB's ``native`` table (``import --to chdb:///``, with ``_row``); the same spans copied inside
chDB into the OpenTelemetry exporter's ``otel_traces`` table (built from the exporter's own DDL,
tests/../shared/fixtures/clickhouse) with GenAI/OpenInference attributes, read through the
``otel`` adapter. Then, per backend in a fresh process: open + stats, each seed filter's p50
(``filter()``: the matching rows as a frame, and ``count()``), the traces view's first page
(``page(limit=50)``), and opening the biggest trace (``trace()``).

With ``--jsonl FILES...`` the data already on disk is reused: the files are appended one by one
into chDB ``native`` (``--chdb-dir``; one fresh process per file: time and peak RSS per append),
``otel_traces`` is copied just before the ``otel`` backend runs, and ``--duckdb-store`` names the
DuckDB store of exactly those files (opened read-only, never written). ``--filter-cap N`` runs
``filter()`` (every column of every match) only where ``count()`` is at most N rows, the first
page (``page(where, limit=50)``) always; ``--questions`` asks the bench questions through the
offline agent (``Loop(source).ask``). ``--timeout`` bounds each backend's query pass, and
``--question-timeout`` its questions pass (both in seconds): what finished before is kept.

Usage: python bench/bench_clickhouse.py [--spans 1000000] [--runs 3] [--backends duckdb native otel]
       python bench/bench_clickhouse.py --jsonl A.jsonl B.jsonl ... --duckdb-store S.duckdb --chdb-dir DIR
           [--filter-cap 200000] [--questions] [--runs 1]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATA, SEED_FILTERS, child_report, demo_jsonl, machine, run_child, save, stats

#: The bench questions (bench_context.QUESTIONS), asked through the offline agent.
QUESTIONS = [
    "What are the most common errors?",
    "Show me LLM spans from user John Smith",
    "Which traces took longer than 60 seconds?",
    "How many tokens did each model use?",
]

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
        from loop_jupyter.clickhouse.importer import import_to_chdb

        result = import_to_chdb(source, f"chdb:///{target}", progress=False)
        extra = {"native_seconds": time.perf_counter() - start, "spans_total": result.spans_total}
        if kind == "chdb":  # chdb-append: the native table only (the otel copy comes later)
            extra.update(_otel_copy(target))
    child_report(seconds=time.perf_counter() - start, spans=result.spans_added, **extra)


def _otel_copy(target: str) -> dict:
    from loop_jupyter.clickhouse.backend import _Chdb

    conn = _Chdb(target, {"session_timezone": "UTC"})
    try:
        begun = time.perf_counter()
        conn.execute(OTEL_DDL.read_text() % ("otel_traces", "", "MergeTree()", ""))
        conn.execute(OTEL_FROM_NATIVE)
        return {
            "otel_copy_seconds": time.perf_counter() - begun,
            "otel_rows": int(conn.execute("SELECT count() FROM otel_traces").strip()),
        }
    finally:
        conn.close()


def child_otel_copy(target: str) -> None:
    start = time.perf_counter()
    extra = _otel_copy(target)
    child_report(seconds=time.perf_counter() - start, **extra)


def _timed(fn, runs: int) -> tuple[dict, object]:
    result = fn()  # warm-up
    times = []
    for _ in range(runs):
        begun = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - begun)
    return stats(times), result


def _partial(out: dict) -> None:
    """What finished so far, for a parent that has to stop this child (``BENCH_PARTIAL``)."""
    path = os.environ.get("BENCH_PARTIAL")
    if path:
        Path(path).write_text(json.dumps(out, default=str))


#: The order of a pass: the explorer's reads and the selective filters first, the broad filter last
#: (on ``otel`` the reads that map only some traces come before those that map the whole table).
ORDER = ["user John Smith", "last 5 days and factuality < 0.5", "traces > 60 s", "LLM spans"]


def child_queries(url: str, runs: int, filter_cap: int = -1, part: str = "basic", root: str = "") -> None:
    """One backend's pass. ``root``: the trace to open (the biggest, found on another backend; else
    found here by a GROUP BY over the traces view). ``open_s`` is connect alone, ``stats_s`` the
    stats (at the end: over an adapter it maps every span)."""
    import loop_jupyter as lj

    begun = time.perf_counter()
    source = lj.connect(url, timeout_s=900, row_limit=10_000_000)
    out: dict = {"open_s": time.perf_counter() - begun, "part": part}
    _partial(out)
    if part == "questions":
        out["questions"] = {}
        loop = lj.Loop(source, model="offline")
        for question in QUESTIONS:
            begun, cpu = time.perf_counter(), time.process_time()
            answer = loop.ask(question)
            out["questions"][question] = {
                "seconds": time.perf_counter() - begun, "cpu_s": time.process_time() - cpu,
                "error": answer.error, "text": (answer.text or "")[:300],
            }  # fmt: skip
            _partial(out)
        loop.close()
        source.close()
        child_report(**out)
        return
    if not root:
        root = source.sql("SELECT root_span_id FROM traces ORDER BY span_count DESC, root_span_id LIMIT 1").item()
    opened, trace = _timed(lambda: source.trace(root), runs)
    out["open_trace"] = {"root": root, "spans": trace.height, **opened}
    _partial(out)
    out["traces_first_page"], _ = _timed(lambda: source.page(limit=50), runs)
    out["filters"] = {}
    _partial(out)
    for name in ORDER:
        where, shape = SEED_FILTERS[name]
        counted, n = _timed(lambda w=where, s=shape: source.count(w, shape=s), runs)
        row: dict = {"n": n, "count": counted}
        out["filters"][name] = row
        _partial(out)
        row["first_page"], _ = _timed(lambda w=where, s=shape: source.page(w, shape=s, limit=50), runs)
        _partial(out)
        if filter_cap < 0 or n <= filter_cap:
            row["filter"], frame = _timed(lambda w=where, s=shape: source.filter(w, shape=s), runs)
            row["rows"] = frame.height
            del frame
        else:
            row["filter"] = f"skipped: {n:,} rows > --filter-cap {filter_cap:,}"
        _partial(out)
    begun = time.perf_counter()
    out["spans"] = source.stats().spans
    out["stats_s"] = time.perf_counter() - begun
    out["open_stats_s"] = out["open_s"] + out["stats_s"]
    source.close()
    child_report(**out)


def _queries(me: str, url: str, runs: int, filter_cap: int, part: str, timeout: float, root: str = "") -> dict:
    """One backend's pass in a fresh process; on a timeout or failure, what finished before."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
        partial = Path(tmp.name)
    os.environ["BENCH_PARTIAL"] = str(partial)
    try:
        args = [me, "--child", "queries", url, str(runs), str(filter_cap), part, root]
        return run_child(args, timeout=timeout)
    except (RuntimeError, TimeoutError) as exc:
        done = json.loads(partial.read_text() or "{}") if partial.exists() else {}
        return {**done, "error": str(exc)[-1500:]}
    finally:
        os.environ.pop("BENCH_PARTIAL", None)
        partial.unlink(missing_ok=True)


def _size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def measure_files(args: argparse.Namespace) -> dict:
    """The data already on disk: ``--jsonl`` files appended into ``--chdb-dir``, ``--duckdb-store``."""
    me = str(Path(__file__).resolve())
    files = [Path(f) for f in args.jsonl]
    chdb_dir = Path(args.chdb_dir)
    out: dict = {"files": [f.name for f in files], "jsonl_mb": sum(f.stat().st_size for f in files) / 1e6,
                 "runs": args.runs, "filter_cap": args.filter_cap, "appends": []}  # fmt: skip
    done = chdb_dir.with_name(chdb_dir.name + ".imported.txt")  # the files already appended (a rerun skips them)
    imported = done.read_text().split() if done.exists() else []
    for path in files:
        if path.name in imported:
            continue
        row = run_child([me, "--child", "import", "chdb-append", str(path), str(chdb_dir)], timeout=7200)
        row["file"] = path.name
        out["appends"].append(row)
        print(f"appended {path.name}: {row['seconds']:.0f} s, peak {row['maxrss_mb']:.0f} MB", flush=True)
        imported.append(path.name)
        done.write_text("\n".join(imported))
        save("clickhouse_files", out)
    urls = {
        "duckdb": f"duckdb:///{Path(args.duckdb_store).resolve()}" if args.duckdb_store else None,
        "native": f"chdb:///{chdb_dir.resolve()}?schema=native",
        "otel": f"chdb:///{chdb_dir.resolve()}?schema=otel",
    }
    for backend in args.backends:
        if urls[backend] is None:
            continue
        if backend == "otel" and not chdb_dir.with_name(chdb_dir.name + ".otel-copied.txt").exists():
            out["otel_copy"] = run_child([me, "--child", "otel-copy", str(chdb_dir)], timeout=7200)
            chdb_dir.with_name(chdb_dir.name + ".otel-copied.txt").write_text(str(out["otel_copy"].get("otel_rows")))
            print(f"otel copy: {out['otel_copy']}", flush=True)
        out["chdb_mb"] = _size_mb(chdb_dir)
        # The same trace on every backend: the biggest, found on the first (otel maps every span to find it).
        root = args.trace or next(
            (out[b]["open_trace"]["root"] for b in urls if "root" in out.get(b, {}).get("open_trace", {})), ""
        )
        out[backend] = _queries(me, urls[backend], args.runs, args.filter_cap, "basic", args.timeout, root)
        out[backend]["load_after"] = os.getloadavg()
        print(f"{backend}: {json.dumps(out[backend], default=str)[:3000]}", flush=True)
        save("clickhouse_files", out)
        if args.questions:
            asked = _queries(me, urls[backend], args.runs, args.filter_cap, "questions", args.question_timeout)
            asked["load_after"] = os.getloadavg()
            out[f"{backend}_questions"] = asked
            print(f"{backend} questions: {json.dumps(asked, default=str)[:3000]}", flush=True)
            save("clickhouse_files", out)
    if args.duckdb_store:
        out["duckdb_mb"] = Path(args.duckdb_store).stat().st_size / 1e6
    return out


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
                shown = f"{f['filter']['median'] * 1e3:8.0f} ms" if isinstance(f["filter"], dict) else f["filter"]
                print(f"    {name:34s} {f['n']:>9,} rows  filter {shown}  "
                      f"count {f['count']['median'] * 1e3:7.0f} ms")  # fmt: skip
            print(f"    traces first page {row['traces_first_page']['median'] * 1e3:8.0f} ms; open a "
                  f"{row['open_trace']['spans']}-span trace {row['open_trace']['median'] * 1e3:7.0f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spans", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", nargs="+", default=["duckdb", "native", "otel"])
    parser.add_argument("--jsonl", nargs="+", help="reuse these JSONL files (appended one by one into chDB)")
    parser.add_argument("--duckdb-store", help="the DuckDB store of exactly the --jsonl files (read-only)")
    parser.add_argument("--chdb-dir", help="the chDB database directory for --jsonl (created when missing)")
    parser.add_argument("--filter-cap", type=int, default=-1, help="filter() only up to N matching rows")
    parser.add_argument("--questions", action="store_true", help="ask the bench questions (offline agent)")
    parser.add_argument("--timeout", type=float, default=7200, help="seconds for one backend's query pass")
    parser.add_argument("--question-timeout", type=float, default=7200, help="seconds for its questions")
    parser.add_argument("--trace", default="", help="the trace to open (default: the biggest, found once)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "import":
            child_import(*rest)
        elif kind == "otel-copy":
            child_otel_copy(rest[0])
        else:
            child_queries(rest[0], int(rest[1]), *([int(rest[2]), *rest[3:]] if len(rest) > 2 else []))
        return
    if args.jsonl:
        if not args.chdb_dir:
            parser.error("--jsonl needs --chdb-dir")
        out = {"machine": machine(), "files": measure_files(args)}
        save("clickhouse_files", out)
        print(json.dumps(out, indent=2, default=str))
        return
    out = {"machine": machine(), "sizes": [measure(spans, args.runs, args.backends) for spans in args.spans]}
    save("clickhouse", out)
    report(out)


if __name__ == "__main__":
    main()
