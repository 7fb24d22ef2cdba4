"""The traces view (one row per trace) of ~1M demo spans, built by a fresh engine each run.

Usage: python bench/bench_traces.py [--scale small|medium|full] [--runs N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SCALES, demo_frame, save, scale_arg, timed

from loop_jupyter.engine import LogEngine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    scale_arg(parser)
    args = parser.parse_args()
    size = SCALES[args.scale]
    frame = demo_frame(size["spans"])
    result, traces = timed(lambda: LogEngine(frame).traces, args.runs or size["runs"])
    print(f"traces view: {traces.height:,} traces from {frame.height:,} spans, p50 {result['median']:.3f} s")
    save("traces", {"spans": frame.height, "traces": traces.height, "seconds": result})


if __name__ == "__main__":
    main()
