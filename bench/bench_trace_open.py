"""Open one trace of ~100k spans, five levels deep, in the trace explorer: the tree's first page.

Measures the explorer's ``open`` request handler (what the widget runs in the kernel) and the bytes
of its JSON reply (what travels to the browser).

Usage: python bench/bench_trace_open.py [--scale small|medium|full] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import polars as pl
from common import NOW, SCALES, demo_frame, save, scale_arg, timed


def big_trace(spans: int) -> pl.DataFrame:
    """One trace of ``spans`` spans: root → 10 agents → calls → nested → functions (depth 0-4)."""
    from datetime import timedelta

    from loop_jupyter.loaders.braintrust import load_events
    from loop_jupyter.report import LoadReport

    events, parents = [], [None]
    root = "big-root"
    start = NOW - timedelta(hours=1)

    def add(span_id: str, parent: str | None, depth: int, i: int) -> None:
        kind = ["task", "function", "llm", "tool", "function"][depth]
        t0 = (start + timedelta(milliseconds=i)).timestamp()
        events.append(
            {
                "id": span_id,
                "span_id": span_id,
                "root_span_id": root,
                "span_parents": [parent] if parent else [],
                "created": (start + timedelta(milliseconds=i)).isoformat(),
                "input": {"messages": [{"role": "user", "content": f"step {i} " + "x" * 200}]},
                "output": {"text": f"result {i}"},
                "metrics": {"start": t0, "end": t0 + 0.5, "tokens": 10},
                "span_attributes": {"name": f"{kind}_{depth}", "type": kind},
            }
        )

    add(root, None, 0, 0)
    level = [root]
    fanout = [10, 40, 25, 10]  # 10 + 400 + 10,000 + 100,000 at full size, cut at ``spans``
    for depth, k in enumerate(fanout, start=1):
        nxt = []
        for parent in level:
            for j in range(k):
                if len(events) >= spans:
                    break
                span_id = f"{parent}.{j}"
                add(span_id, parent, depth, len(events))
                nxt.append(span_id)
        level = nxt
    del parents
    return load_events(events, LoadReport())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    scale_arg(parser)
    args = parser.parse_args()
    size = SCALES[args.scale]
    from loop_jupyter.widgets.explorer import TraceExplorer
    from loop_jupyter.widgets.messages import OpenRequest

    trace = big_trace(size["trace_spans"])
    frame = pl.concat([demo_frame(min(size["spans"], 100_000), now=NOW), trace], how="vertical_relaxed")
    explorer = TraceExplorer(frame)
    result, reply = timed(
        lambda: explorer._on_open(OpenRequest(type="open", root_span_id="big-root")), args.runs or size["runs"]
    )
    sent = len(json.dumps(reply, default=str).encode())
    print(f"open trace of {reply['span_count']:,} spans (depth {trace['depth'].max()}): "
          f"p50 {result['median'] * 1e3:.0f} ms, {sent / 1024:.1f} KB sent")  # fmt: skip
    save(
        "trace_open",
        {"spans": reply["span_count"], "max_depth": trace["depth"].max(), "seconds": result, "bytes_sent": sent},
    )


if __name__ == "__main__":
    main()
