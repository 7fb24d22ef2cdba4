"""Spans with 1-10 MB fields: load them, open their trace in the explorer, ask about them.

The file is the demo logs (100k spans at full scale) plus one trace whose spans carry a 1, 2, 5
and 10 MB input (a long document, a tool's dump) and a 3 MB output. Figures:

- load: ours against DuckDB's explicit ``read_json`` on the same file, fresh processes as in
  bench_load.py (the 10 MB lines stay under DuckDB's default object limit, so this is one pass);
- open the big trace in the explorer and open its 10 MB span: time and bytes sent to the browser
  (the field goes in pieces, so the bytes stay those of one piece);
- tokens of the tool result when the offline planner is asked to summarize that trace.

Usage: python bench/bench_big_fields.py [--scale small|medium|full] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATA, NOW, SCALES, demo_jsonl, run_child, save, scale_arg, stats, timed

BIG_TRACE = "7f3a9c10-big-fields"
#: Field sizes in MB of the big trace's spans (input), plus a 3 MB output on the root.
SIZES_MB = (1, 2, 5, 10)


def _text(megabytes: float, seed: int) -> str:
    """Prose-like text (words and newlines, some quotes and non-ASCII) of about ``megabytes`` MB."""
    rng = random.Random(seed)
    words = ["the", "agent", "called", "search", "résumé", 'said "ok"', "tool", "error", "naïve", "result\n"]
    parts, size = [], 0
    while size < megabytes * 1_000_000:
        word = rng.choice(words)
        parts.append(word)
        size += len(word.encode()) + 1
    return " ".join(parts)


def big_fields_jsonl(spans: int) -> Path:
    """The demo logs of ``spans`` spans plus the big trace, as JSONL (generated once)."""
    path = DATA / f"bigfields_{spans}.jsonl"
    if path.exists():
        return path
    start = NOW.timestamp() - 3600
    events = [
        {
            "id": BIG_TRACE,
            "span_id": BIG_TRACE,
            "root_span_id": BIG_TRACE,
            "span_parents": [],
            "created": NOW.isoformat(),
            "input": {"messages": [{"role": "user", "content": "Summarize the attached contract."}]},
            "output": {"text": _text(3, 0)},
            "metrics": {"start": start, "end": start + 90},
            "span_attributes": {"name": "contract_review", "type": "task"},
        }
    ]
    for index, megabytes in enumerate(SIZES_MB, start=1):
        events.append(
            {
                "id": f"{BIG_TRACE}.{index}",
                "span_id": f"{BIG_TRACE}.{index}",
                "root_span_id": BIG_TRACE,
                "span_parents": [BIG_TRACE],
                "created": NOW.isoformat(),
                "input": {"document": _text(megabytes, index)},
                "output": {"text": f"read {megabytes} MB"},
                "metrics": {"start": start + index, "end": start + index + 10, "prompt_tokens": megabytes * 250_000},
                "metadata": {"model": "gpt-5.1"},
                "span_attributes": {"name": f"read_{megabytes}mb", "type": "llm"},
            }
        )
    tmp = path.with_suffix(".tmp-write")
    with tmp.open("w", encoding="utf-8") as out:
        out.write(demo_jsonl(spans).read_text(encoding="utf-8"))
        for event in events:
            out.write(json.dumps(event, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path


def explorer_and_context(path: Path, runs: int) -> dict:
    from loop_jupyter import load_logs
    from loop_jupyter.agent.budget import estimate_tokens
    from loop_jupyter.agent.session import Loop
    from loop_jupyter.widgets.explorer import TraceExplorer
    from loop_jupyter.widgets.messages import OpenRequest, SpanRequest

    logs = load_logs(path, progress=False)
    explorer = TraceExplorer(logs)
    opened, reply = timed(lambda: explorer._on_open(OpenRequest(type="open", root_span_id=BIG_TRACE)), runs)
    biggest = f"{BIG_TRACE}.{len(SIZES_MB)}"
    span_time, span_reply = timed(lambda: explorer._on_span(SpanRequest(type="span", span_id=biggest)), runs)
    loop = Loop(logs, model="offline")
    answer = loop.ask(f"Summarize trace {BIG_TRACE}")
    results = [
        estimate_tokens(m.data["model_text"])
        for m in loop.history
        if m.kind == "tool_result" and m.run_id == answer.run_id and "model_text" in m.data
    ]
    return {
        "largest_field_chars": span_reply["fields"]["input"]["length"],
        "open_trace": {"seconds": opened, "bytes_sent": len(json.dumps(reply, default=str).encode())},
        "open_span": {"seconds": span_time, "bytes_sent": len(json.dumps(span_reply, default=str).encode())},
        "summary": {"tool_results": results, "tokens_sent": answer.tokens_sent, "answered": answer.error is None},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    scale_arg(parser)
    args = parser.parse_args()
    size = SCALES[args.scale]
    runs = args.runs or min(size["runs"], 3)
    path = big_fields_jsonl(min(size["spans"], 100_000))
    path.read_bytes()  # warm the page cache for both cases
    loader = str(Path(__file__).resolve().parent / "bench_load.py")
    cases = {}
    for name in ("ours", "duckdb_explicit"):
        results = [run_child([loader, "--case", name, "--path", str(path)]) for _ in range(runs)]
        cases[name] = {
            "rows": results[0]["rows"],
            "seconds": stats([r["seconds"] for r in results]),
            "maxrss_mb": stats([r["maxrss_mb"] for r in results]),
        }
    out = {"file_mb": path.stat().st_size / 1e6, "load": cases, **explorer_and_context(path, runs)}
    ours, base = cases["ours"], cases["duckdb_explicit"]
    print(
        f"big fields ({out['file_mb']:.0f} MB file, largest field {out['largest_field_chars'] / 1e6:.1f}M chars): "
        f"load {ours['seconds']['median']:.2f} s vs DuckDB {base['seconds']['median']:.2f} s, "
        f"open trace {out['open_trace']['seconds']['median'] * 1e3:.0f} ms / {out['open_trace']['bytes_sent'] / 1024:.1f} KB, "
        f"open 10 MB span {out['open_span']['seconds']['median'] * 1e3:.0f} ms / {out['open_span']['bytes_sent'] / 1024:.1f} KB, "
        f"summary tool results {out['summary']['tool_results']} tokens"
    )
    save("big_fields", out)


if __name__ == "__main__":
    main()
