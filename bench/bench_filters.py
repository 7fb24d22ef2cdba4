"""Seed filters on ~1M demo spans through the sandboxed engine, against a plain Polars expression.

Usage: python bench/bench_filters.py [--scale small|medium|full] [--runs N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import polars as pl
from common import SCALES, demo_frame, save, scale_arg, timed

from loop_jupyter.engine import LogEngine

NOW = pl.lit(None)  # placeholder; the Polars side uses the wall clock like DuckDB's now()


def _polars_cases() -> dict[str, tuple[str, str, object]]:
    from datetime import UTC, datetime, timedelta

    def recent(frame: pl.DataFrame) -> pl.DataFrame:
        since = datetime.now(UTC) - timedelta(days=5)
        factuality = pl.col("scores").str.json_path_match("$.Factuality").cast(pl.Float64, strict=False)
        return frame.filter((pl.col("created") > since) & (factuality < 0.5))

    return {
        "LLM spans": ("span_attributes.type = 'llm'", "spans", lambda f: f.filter(pl.col("type") == "llm")),
        "user John Smith": (
            "metadata.user = 'John Smith'",
            "spans",
            lambda f: f.filter(pl.col("metadata").str.json_path_match("$.user") == "John Smith"),
        ),
        "last 5 days and factuality < 0.5": (
            "created > now() - interval 5 day AND scores.Factuality < 0.5",
            "spans",
            recent,
        ),
        "traces > 60 s": ("duration > 60", "traces", lambda t: t.filter(pl.col("duration") > 60)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    scale_arg(parser)
    args = parser.parse_args()
    size = SCALES[args.scale]
    runs = args.runs or max(size["runs"], 7)
    frame = demo_frame(size["spans"])  # created relative to now, so "last 5 days" selects something
    engine = LogEngine(frame)
    traces = engine.traces
    out: dict = {"spans": frame.height, "traces": traces.height, "filters": {}}
    for name, (where, shape, expr) in _polars_cases().items():
        ours, result = timed(lambda w=where, s=shape: engine.filter(w, shape=s), runs)
        source = traces if shape == "traces" else frame
        plain, expected = timed(lambda e=expr, s=source: e(s), runs)
        assert result.height == expected.height, (name, result.height, expected.height)
        out["filters"][name] = {"where": where, "shape": shape, "rows": result.height, "ours": ours, "polars": plain}
        print(f"{name:34s} {result.height:>8,} rows  ours p50 {ours['median'] * 1e3:7.1f} ms  "
              f"polars p50 {plain['median'] * 1e3:7.1f} ms")  # fmt: skip
    save("filters", out)


if __name__ == "__main__":
    main()
