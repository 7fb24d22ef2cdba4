"""Peak memory of a session holding ~1M spans: the frame, its traces view and the similar-traces index.

Runs in a fresh process (OS peak RSS via wait4) and compares with the Arrow size of the frame.

Usage: python bench/bench_memory.py [--scale small|medium|full]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SCALES, child_report, demo_jsonl, run_child, save, scale_arg


def case(path: str) -> None:
    from loop_jupyter import load_logs
    from loop_jupyter.embeddings import trace_index
    from loop_jupyter.engine import engine_for

    start = time.perf_counter()
    frame = load_logs(path, progress=False)
    traces = engine_for(frame).traces
    index = trace_index(frame, progress=False, persist=False)
    # Peak before the Arrow conversions below (to_arrow copies every string out of Polars' views).
    hwm = next(
        int(x.split()[1]) / 1024 for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmHWM:")
    )
    child_report(
        session_peak_mb=hwm,
        seconds=time.perf_counter() - start,
        spans=frame.height,
        traces=traces.height,
        index_traces=len(index),
        frame_arrow_mb=frame.to_arrow().nbytes / 1e6,
        traces_arrow_mb=traces.to_arrow().nbytes / 1e6,
        index_mb=index.vectors.nbytes / 1e6,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    scale_arg(parser)
    parser.add_argument("--path")
    args = parser.parse_args()
    if args.path:
        case(args.path)
        return
    path = demo_jsonl(SCALES[args.scale]["spans"])
    bare = run_child(
        [
            "-c",
            "import loop_jupyter, polars, duckdb, numpy, sys; sys.path.insert(0, 'bench'); from common import child_report; child_report()",
        ]
    )
    # Median of several fresh sessions (the machine is shared; peaks vary by tens of MB).
    runs = [run_child([__file__, "--path", str(path)]) for _ in range(args.runs or min(3, SCALES[args.scale]["runs"]))]
    peaks = [run["session_peak_mb"] for run in runs]
    result = sorted(runs, key=lambda run: run["session_peak_mb"])[len(runs) // 2]
    result["maxrss_mb"] = result["session_peak_mb"]
    result["session_peak_runs_mb"] = peaks
    result["cpu_s_runs"] = [run["cpu_s"] for run in runs]
    result["interpreter_mb"] = bare["maxrss_mb"]
    print(f"session of {result['spans']:,} spans: peak {result['maxrss_mb']:.0f} MB (interpreter and imports "
          f"{bare['maxrss_mb']:.0f} MB); frame Arrow {result['frame_arrow_mb']:.0f} MB; "
          f"ratio {result['maxrss_mb'] / result['frame_arrow_mb']:.2f} (median of {len(peaks)}: {sorted(round(p) for p in peaks)})")  # fmt: skip
    save("memory", result)


if __name__ == "__main__":
    main()
