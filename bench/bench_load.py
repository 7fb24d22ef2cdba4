"""Load ~1M demo Braintrust spans (JSONL) into the frame, against the baselines run beside it.

Baselines: DuckDB ``read_json`` with the column types given (one pass), DuckDB ``read_json_auto``
(sample_size=-1: a schema pass plus a read), pandas ``json.loads`` per line + ``json_normalize``
(run on a smaller file and scaled linearly to the big one; the scaling is stated).

One more case, ``floor``, is not a baseline but a bound: the explicit read plus only what the
frame's contract adds (the derived columns, Polars, parent_id and depth) with none of the checks.
No load that keeps that contract can beat it, so it says how much of our time the checks cost.
``floor_nonfinite`` adds the one check that has to read every byte of the open fields (no NaN,
Infinity or overflowing number outside a string, which DuckDB's reader takes and keeps as written),
in our fastest version of it: a lower bound for any load that keeps the contract with this reader.
Every run is a fresh process: peak memory is the OS's figure for that process.

Usage: python bench/bench_load.py [--scale small|medium|full] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, SCALES, child_report, demo_jsonl, run_child, save, scale_arg, stats

# The column types of the baseline: open fields as JSON so changing shapes load (one pass).
EXPLICIT = {
    "id": "VARCHAR",
    "span_id": "VARCHAR",
    "root_span_id": "VARCHAR",
    "span_parents": "VARCHAR[]",
    "is_root": "BOOLEAN",
    "created": "VARCHAR",
    "input": "JSON",
    "output": "JSON",
    "expected": "JSON",
    "error": "JSON",
    "tags": "VARCHAR[]",
    "scores": "JSON",
    "metadata": "JSON",
    "metrics": "JSON",
    "span_attributes": "JSON",
    "context": "JSON",
}


def case(name: str, path: str) -> None:
    """One measured load in this (fresh) process."""
    if name == "ours":
        from loop_jupyter import load_logs

        start = time.perf_counter()
        frame = load_logs(path, progress=False)
        elapsed = time.perf_counter() - start
        child_report(seconds=elapsed, rows=frame.height, frame_mb=frame.estimated_size() / 1e6)
    elif name in ("floor", "floor_nonfinite"):
        import duckdb
        import polars as pl

        from loop_jupyter.frame import derive_sql, finish
        from loop_jupyter.report import LoadReport

        start = time.perf_counter()
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET arrow_output_version = '1.4'")
        con.execute("SET produce_arrow_string_view = true")
        columns = "{" + ", ".join(f"{k}: '{v}'" for k, v in EXPLICIT.items()) + "}"
        read = (
            f"(SELECT * REPLACE (TRY_CAST(created AS TIMESTAMPTZ) AS created, coalesce(span_parents, []) AS "
            f"span_parents, coalesce(tags, []) AS tags) FROM read_json('{path}', format='newline_delimited', "
            f"columns={columns}))"
        )
        parts = [pl.from_arrow(batch) for batch in con.sql(derive_sql(read)).to_arrow_reader(1 << 17)]
        if name == "floor_nonfinite":
            from loop_jupyter.loaders.braintrust_sql import has_nonfinite

            # The one check that must read every byte of the open fields, our fastest version of it.
            assert not any(has_nonfinite(part) for part in parts)  # type: ignore[arg-type]
        con.close()
        frame = finish(pl.concat(parts, rechunk=False), LoadReport())  # type: ignore[arg-type]
        elapsed = time.perf_counter() - start
        child_report(seconds=elapsed, rows=frame.height)
    elif name in ("duckdb_explicit", "duckdb_auto"):
        import duckdb

        con = duckdb.connect()
        if name == "duckdb_explicit":
            columns = "{" + ", ".join(f"{k}: '{v}'" for k, v in EXPLICIT.items()) + "}"
            query = f"SELECT * FROM read_json('{path}', format='newline_delimited', columns={columns})"
        else:
            query = f"SELECT * FROM read_json_auto('{path}', sample_size=-1)"
        start = time.perf_counter()
        table = con.sql(query).to_arrow_table()
        elapsed = time.perf_counter() - start
        child_report(seconds=elapsed, rows=table.num_rows)
    elif name == "pandas":
        import json

        import pandas as pd

        start = time.perf_counter()
        with open(path, encoding="utf-8") as handle:
            records = [json.loads(line) for line in handle if line.strip()]
        frame = pd.json_normalize(records)
        elapsed = time.perf_counter() - start
        child_report(seconds=elapsed, rows=len(frame))
    else:
        raise SystemExit(f"unknown case {name}")


def measure(name: str, path: Path, runs: int, root: str | None = None) -> dict:
    case_name = "ours" if name == "ours_before" else name
    results = [run_child([__file__, "--case", case_name, "--path", str(path)], root=root) for _ in range(runs)]
    return {
        "case": name,
        "path": path.name,
        "rows": results[0]["rows"],
        "seconds": stats([r["seconds"] for r in results]),
        "cpu_s": stats([r["cpu_s"] for r in results]),
        "maxrss_mb": stats([r["maxrss_mb"] for r in results]),
        "arrow_mb": results[0].get("arrow_mb"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    scale_arg(parser)
    parser.add_argument("--case")
    parser.add_argument("--path")
    parser.add_argument("--skip-auto", action="store_true")
    parser.add_argument(
        "--before",
        metavar="CHECKOUT",
        help="a checkout of the code before a change (a folder holding loop_jupyter/): its load_logs "
        "runs as 'ours_before', interleaved with the other cases",
    )
    args = parser.parse_args()
    if args.case:
        case(args.case, args.path)
        return
    size = SCALES[args.scale]
    runs = args.runs or min(size["runs"], 3)
    big = demo_jsonl(size["spans"])
    small = demo_jsonl(size["pandas_spans"])
    # Warm the page cache so no case pays for the disk read the others skip.
    big.read_bytes()
    out: dict = {"file_mb": big.stat().st_size / 1e6, "cases": {}}
    # Interleave ours and the explicit baseline run for run so machine load hits both alike.
    ours, explicit, floor, floor_nonfinite, before = [], [], [], [], []
    for _ in range(runs):
        if args.before:
            before.append(measure("ours_before", big, 1, root=args.before))
        ours.append(measure("ours", big, 1))
        explicit.append(measure("duckdb_explicit", big, 1))
        floor.append(measure("floor", big, 1))
        floor_nonfinite.append(measure("floor_nonfinite", big, 1))
    groups = [("ours", ours), ("duckdb_explicit", explicit), ("floor", floor), ("floor_nonfinite", floor_nonfinite)]
    if before:
        groups.insert(0, ("ours_before", before))
    for name, parts in groups:
        merged = dict(parts[0], case=name)
        for key in ("seconds", "cpu_s", "maxrss_mb"):
            merged[key] = stats([p[key]["median"] for p in parts])
        out["cases"][name] = merged
    if not args.skip_auto:
        out["cases"]["duckdb_auto"] = measure("duckdb_auto", big, max(1, runs - 1))
    elif (RESULTS / "load.json").exists():  # keep the last measured read_json_auto figure
        previous = json.loads((RESULTS / "load.json").read_text())["cases"].get("duckdb_auto")
        if previous:
            out["cases"]["duckdb_auto"] = previous
    pandas = measure("pandas", small, max(1, runs - 1))
    factor = out["cases"]["ours"]["rows"] / max(pandas["rows"], 1)
    pandas["scaled_to_rows"] = out["cases"]["ours"]["rows"]
    pandas["scale_factor"] = factor
    pandas["scaled_seconds"] = pandas["seconds"]["median"] * factor
    out["cases"]["pandas"] = pandas
    for name, result in out["cases"].items():
        print(
            f"{name:16s} {result['rows']:>9,} rows  {result['seconds']['median']:7.2f} s "
            f"(min {result['seconds']['min']:.2f}, max {result['seconds']['max']:.2f})  "
            f"cpu {result['cpu_s']['median']:6.2f} s  peak {result['maxrss_mb']['median']:7.0f} MB"
        )
    save("load", out)


if __name__ == "__main__":
    main()
