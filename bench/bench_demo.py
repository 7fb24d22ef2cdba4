"""Time ``demo_logs`` at about one million spans (a script, not a test).

Usage: python bench/bench_demo.py [--spans 1000000] [--runs 5] [--jsonl]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from loop_jupyter import demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--jsonl", action="store_true", help="also time writing the JSONL file once")
    args = parser.parse_args()
    n_traces = round(args.spans / demo.AVG_SPANS_PER_TRACE)
    now = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    times = []
    for seed in range(args.runs):
        start = time.perf_counter()
        frame = demo.demo_logs(n_traces, seed=seed, now=now)
        times.append(time.perf_counter() - start)
        print(f"run {seed}: {frame.height:,} spans from {n_traces:,} traces in {times[-1]:.2f} s "
              f"({frame.estimated_size() / 1e6:,.0f} MB)")  # fmt: skip
        del frame
    spread = f"min {min(times):.2f} s, max {max(times):.2f} s"
    if len(times) > 1:
        spread += f", stdev {statistics.stdev(times):.2f} s"
    print(f"demo_logs median {statistics.median(times):.2f} s ({spread})")
    if args.jsonl:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "demo.jsonl"
            start = time.perf_counter()
            demo.write_demo_jsonl(path, n_traces, seed=0, now=now)
            print(f"write_demo_jsonl {time.perf_counter() - start:.2f} s, {path.stat().st_size / 1e6:,.0f} MB")


if __name__ == "__main__":
    main()
