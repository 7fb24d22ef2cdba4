"""Similar traces: top-10 of ~100k traces after the index is built, against brute-force cosine.

Brute force is the plain numpy baseline over the same normalised vectors: one matrix-vector
product and a partial sort. Index build time is reported separately.

Usage: python bench/bench_similar.py [--scale small|medium|full] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from common import NOW, SCALES, save, scale_arg, timed

from loop_jupyter import demo
from loop_jupyter.analysis.similar import similar_traces
from loop_jupyter.tools import ToolContext


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    scale_arg(parser)
    args = parser.parse_args()
    size = SCALES[args.scale]
    frame = demo.demo_logs(size["similar_traces"], seed=0, now=NOW)
    ctx = ToolContext(logs=frame)
    # A cold build: indexes persist under the cache folder keyed by the frame's content, and a
    # warm one (loaded, not built) would pass for a build.
    cache = tempfile.mkdtemp(prefix="loop-bench-cache-")
    os.environ["LOOP_JUPYTER_CACHE"] = cache
    start = time.perf_counter()
    from loop_jupyter.analysis.similar import index_for

    index = index_for(ctx, progress=False)
    build = time.perf_counter() - start
    shutil.rmtree(cache, ignore_errors=True)
    query_id = index.root_span_ids[len(index) // 2]
    runs = args.runs or max(size["runs"], 5)
    ours, _result = timed(lambda: similar_traces(ctx, trace_ids=[query_id], limit=10), runs)
    vectors = index.vectors
    query = vectors[len(index) // 2]

    def brute() -> np.ndarray:
        scores = vectors @ query
        top = np.argpartition(-scores, 11)[:11]
        return top[np.argsort(-scores[top])]

    plain, _ = timed(brute, runs)
    print(f"similar traces over {len(index):,} traces: ours p50 {ours['median'] * 1e3:.0f} ms, "
          f"brute-force cosine p50 {plain['median'] * 1e3:.1f} ms, index build {build:.1f} s")  # fmt: skip
    save(
        "similar",
        {"traces": len(index), "spans": frame.height, "build_s": build, "ours": ours, "brute_force": plain},
    )


if __name__ == "__main__":
    main()
