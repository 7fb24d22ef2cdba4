"""The DuckDB store at scale (issue 17): 1M and 10M demo spans, imported, re-opened and asked.

Phase ``import``: the demo generator writes CHUNK-span JSONL files (seed = chunk number, so ids
differ), each imported by ``import_logs`` in a fresh process (one ``loop-jupyter import`` per
file, appending, then the similar-traces index as the CLI builds it). Per append: seconds and peak
RSS (VmHWM) of the import, then the index's seconds and the peak with it. After the
first append a copy of the store is kept as the 1M store. Then store size and re-open time.

Phase ``query`` (in a fresh process per store, peak RSS = the session's): on the store, each
seed filter's count and first page p50 (what ``generate_filter`` and the explorer fetch from a
store), the traces first page, opening the biggest trace, and each bench question through
``Loop(store, model="offline")``.

Phase ``focus`` (issue 17, third round): the figures that missed their goals: re-open (fresh
process, p50 of 3), then in one fresh process the session facts, the first question, the user's
LLM spans, the user filter's count, the sample draw and the sampled questions, and the session's
peak RSS before and after them. ``--upgrade``
backfills the store first (``upgrade_store``: what an import now keeps), ``--code-root`` runs
another checkout's package (the code before the change) on a copy as it was.

Usage: python bench/bench_store_scale.py import --spans 10000000
       python bench/bench_store_scale.py query --store bench/data/scale_10000000.duckdb
       python bench/bench_store_scale.py focus --store COPY.duckdb --label before --code-root BASE_CHECKOUT
       python bench/bench_store_scale.py focus --store COPY2.duckdb --label after --upgrade
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATA, NOW, child_report, machine, n_traces_for, run_child, save, stats, timed

CHUNK = 1_000_000
#: Questions for a text-heavy tool: on a store past 20,000 traces they read the day-stratified sample.
SAMPLED_QUESTIONS = ["Which users are frustrated?", "What languages do users write in?"]
#: The seed filters of bench_filters.py.
SEED_FILTERS = {
    "LLM spans": ("span_attributes.type = 'llm'", "spans"),
    "user John Smith": ("metadata.user = 'John Smith'", "spans"),
    "last 5 days and factuality < 0.5": ("created > now() - interval 5 day AND scores.Factuality < 0.5", "spans"),
    "traces > 60 s": ("duration > 60", "traces"),
}


def chunk_file(index: int) -> Path:
    from loop_jupyter import demo

    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"demo_{CHUNK}_s{index}.jsonl"
    if not path.exists():
        tmp = path.with_suffix(".tmp-write")
        demo.write_demo_jsonl(tmp, n_traces_for(CHUNK), seed=index, now=NOW)
        tmp.replace(path)
    return path


def child_generate(index: int) -> None:
    start = time.perf_counter()
    path = chunk_file(index)
    child_report(seconds=time.perf_counter() - start, path=str(path), mb=path.stat().st_size / 1e6)


def _hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child_import(path: str, store: str) -> None:
    """One append as ``loop-jupyter import`` does it: the spans, then the similar-traces index
    (its own time; ``import_peak_mb`` is the peak before the index, ``maxrss_mb`` after it)."""
    from loop_jupyter.analysis.store_index import update_store_index
    from loop_jupyter.sources.importer import import_logs

    start = time.perf_counter()
    result = import_logs(path, f"duckdb:///{store}", progress=False)
    seconds = time.perf_counter() - start
    import_peak = _hwm_mb()
    start = time.perf_counter()
    index = update_store_index(f"duckdb:///{store}")
    child_report(seconds=seconds, spans=result.spans_added, total=result.spans_total, batches=result.batches,
                 traces=result.traces_total, import_peak_mb=import_peak, index_seconds=time.perf_counter() - start,
                 index_traces_embedded=index["traces_embedded"])  # fmt: skip


def child_reopen(store: str) -> None:
    from loop_jupyter.sources import DuckDBStore

    start = time.perf_counter()
    source = DuckDBStore(store)
    spans = source.stats().spans
    page = source.page(limit=50)
    child_report(seconds=time.perf_counter() - start, spans=spans, page_rows=page.height)


def log(out: dict, path: Path) -> None:
    path.write_text(json.dumps(out, indent=2, default=str))


def run_import(spans: int) -> None:
    me = str(Path(__file__).resolve())
    store = DATA / f"scale_{spans}.duckdb"
    for leftover in (store, store.with_name(store.name + ".wal")):
        leftover.unlink(missing_ok=True)
    out: dict = {"machine": machine(), "spans_goal": spans, "chunk": CHUNK, "appends": []}
    progress = DATA / f"scale_{spans}_import.json"
    for index in range(max(1, spans // CHUNK)):
        generated = run_child([me, "--child", "generate", str(index)], timeout=3600)
        row = run_child([me, "--child", "import", generated["path"], str(store)], timeout=7200)
        row["jsonl_mb"] = generated["mb"]
        row["store_mb"] = store.stat().st_size / 1e6
        out["appends"].append(row)
        print(json.dumps(row), flush=True)
        if index == 0 and spans > CHUNK:
            shutil.copyfile(store, DATA / f"scale_{CHUNK}.duckdb")
        log(out, progress)
    out["store_mb"] = store.stat().st_size / 1e6
    out["import_seconds"] = sum(r["seconds"] for r in out["appends"])
    out["import_peak_mb"] = max(r["import_peak_mb"] for r in out["appends"])
    out["import_and_index_peak_mb"] = max(r["maxrss_mb"] for r in out["appends"])
    out["index_seconds"] = sum(r["index_seconds"] for r in out["appends"])
    reopen = [run_child([me, "--child", "reopen", str(store)]) for _ in range(3)]
    out["reopen"] = {"seconds": stats([r["seconds"] for r in reopen]), "maxrss_mb": max(r["maxrss_mb"] for r in reopen)}
    log(out, progress)
    save(f"store_scale_import_{spans}", out)
    print(json.dumps(out, indent=2, default=str))


def child_query(store: str, runs: int) -> None:
    from bench_context import QUESTIONS

    from loop_jupyter import Loop
    from loop_jupyter.sources import DuckDBStore

    source = DuckDBStore(store)
    out: dict = {"stats": source.stats().to_dict(), "filters": {}, "questions": {}}
    for name, (where, shape) in SEED_FILTERS.items():
        counted, n = timed(lambda w=where, s=shape: source.count(w, shape=s), runs)
        paged, _ = timed(lambda w=where, s=shape: source.page(w, shape=s, limit=50), runs)
        out["filters"][name] = {"rows": n, "count": counted, "first_page": paged}
    out["traces_first_page"], _ = timed(lambda: source.page(limit=50), runs)
    biggest = source.sql("SELECT root_span_id, span_count FROM traces ORDER BY span_count DESC LIMIT 1").row(0)
    opened, _ = timed(lambda: source.trace(biggest[0]), runs)
    out["open_trace"] = {"spans": biggest[1], **opened}
    loop = Loop(source, model="offline")
    start, cpu = time.perf_counter(), time.process_time()
    loop.system_prompt()  # the session's facts (SQL over the store), paid once by the first question
    out["session_facts"] = {"seconds": time.perf_counter() - start, "cpu_s": time.process_time() - cpu}
    for question in [*QUESTIONS, *SAMPLED_QUESTIONS]:
        start, cpu = time.perf_counter(), time.process_time()
        answer = loop.ask(question)
        seconds = time.perf_counter() - start
        out["questions"][question] = {"seconds": seconds, "cpu_s": time.process_time() - cpu, "error": answer.error,
                                      "text": answer.text[:300]}  # fmt: skip
    loop.close()
    child_report(**out)


#: The questions of the focus phase: the first (it pays the planner's vocabulary), the user's spans.
FOCUS_QUESTIONS = ["What are the most common errors?", "Show me LLM spans from user John Smith"]


def _clock(fn):
    start, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return {"seconds": time.perf_counter() - start, "cpu_s": time.process_time() - cpu}, value


def child_upgrade(store: str) -> None:
    from loop_jupyter.sources.upgrade import upgrade_store

    timing, _ = _clock(lambda: upgrade_store(store))
    child_report(**timing)


def child_focus(store: str, runs: int, sampled: bool) -> None:
    from loop_jupyter import Loop
    from loop_jupyter.sources import DuckDBStore

    source = DuckDBStore(store)
    vocabulary = getattr(source, "vocabulary", None)  # None: code from before the stored vocabulary
    out: dict = {"vocabulary": vocabulary is not None and vocabulary() is not None, "questions": {}}
    loop = Loop(source, model="offline")
    out["session_facts"], _ = _clock(loop.system_prompt)
    for question in FOCUS_QUESTIONS:
        out["questions"][question], answer = _clock(lambda q=question: loop.ask(q))
        out["questions"][question]["error"] = answer.error
    where = SEED_FILTERS["user John Smith"][0]
    out["user_count"], out["user_rows"] = timed(lambda: source.count(where), runs)
    with source.longer_limit():
        out["sample_draw"], _ = _clock(lambda: source.sample(20_000, stratify_by_day=True))
    out["peak_rss_mb_before_sampled"] = _hwm_mb()
    for question in SAMPLED_QUESTIONS if sampled else []:
        out["questions"][question], answer = _clock(lambda q=question: loop.ask(q))
        out["questions"][question]["error"] = answer.error
    out["peak_rss_mb"] = _hwm_mb()  # the session's peak (VmHWM), the sample's text tools included
    loop.close()
    child_report(**out)


def run_focus(store: str, runs: int, *, label: str, upgrade: bool, code_root: str | None, sampled: bool) -> None:
    """The focus figures on ``store`` (backfilled first with ``upgrade``), with the package of
    ``code_root`` (another checkout: the code before a change) or this one; saved under ``label``."""
    me = str(Path(__file__).resolve())
    out: dict = {"machine": machine(), "store": store, "label": label, "code_root": code_root or "this checkout"}
    if upgrade:
        out["upgrade"] = run_child([me, "--child", "upgrade", store], timeout=7200)
        print(json.dumps({"upgrade": out["upgrade"]}), flush=True)
    reopen = [run_child([me, "--child", "reopen", store], root=code_root) for _ in range(3)]
    out["reopen"] = stats([r["seconds"] for r in reopen])
    focus = [me, "--child", "focus", store, str(runs), "sampled" if sampled else "-"]
    out.update(run_child(focus, timeout=7200, root=code_root))
    save(f"store_scale_focus_{Path(store).stem}_{label}", out)
    print(json.dumps(out, indent=2, default=str))


def run_query(store: str, runs: int) -> None:
    me = str(Path(__file__).resolve())
    result = run_child([me, "--child", "query", store, str(runs)], timeout=7200)
    result["machine"] = machine()
    save(f"store_scale_query_{Path(store).stem}", result)
    print(json.dumps(result, indent=2, default=str))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("phase", nargs="?", choices=["import", "query", "focus"])
    parser.add_argument("--spans", type=int, default=10_000_000)
    parser.add_argument("--store", default=str(DATA / "scale_10000000.duckdb"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--label", default="after", help="focus: name of this run in the saved results")
    parser.add_argument("--upgrade", action="store_true", help="focus: backfill the store first (upgrade_store)")
    parser.add_argument("--code-root", help="focus: run the package of another checkout (the code before)")
    parser.add_argument("--no-sampled", action="store_true", help="focus: skip the sampled question")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "generate":
            child_generate(int(rest[0]))
        elif kind == "import":
            child_import(rest[0], rest[1])
        elif kind == "reopen":
            child_reopen(rest[0])
        elif kind == "upgrade":
            child_upgrade(rest[0])
        elif kind == "focus":
            child_focus(rest[0], int(rest[1]), rest[2] == "sampled")
        else:
            child_query(rest[0], int(rest[1]))
        return
    if args.phase == "import":
        run_import(args.spans)
    elif args.phase == "focus":
        run_focus(args.store, args.runs, label=args.label, upgrade=args.upgrade, code_root=args.code_root,
                  sampled=not args.no_sampled)  # fmt: skip
    else:
        run_query(args.store, args.runs)


if __name__ == "__main__":
    main()
