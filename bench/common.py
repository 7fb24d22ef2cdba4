"""Shared bench machinery: demo data, timing (median and spread), peak memory from the OS, machine info.

Memory is never estimated: each measured case runs in a fresh subprocess and its peak resident set
comes from the kernel's accounting of that child (``os.wait4`` rusage, the figure ``/usr/bin/time -v``
prints). Time is measured inside the child around the measured call only (imports excluded); the
child's CPU seconds (user + system) are recorded beside the wall time because this 2-core machine
is shared and wall time is noisy under load.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DATA = BENCH / "data"
RESULTS = Path(os.environ.get("BENCH_RESULTS", str(DATA / "results")))
#: Fixed clock for generated files so they are reused between runs.
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)

#: Sizes per scale. ``full`` is the issue's figures; ``small`` proves the scripts work in seconds.
SCALES: dict[str, dict[str, int]] = {
    "full": {"spans": 1_000_000, "pandas_spans": 100_000, "trace_spans": 100_000, "similar_traces": 100_000, "runs": 5},
    "medium": {"spans": 100_000, "pandas_spans": 20_000, "trace_spans": 20_000, "similar_traces": 10_000, "runs": 3},
    "small": {"spans": 2_000, "pandas_spans": 1_000, "trace_spans": 500, "similar_traces": 300, "runs": 2},
}


#: The seed filters (the issue's "each seed filter p50"), as WHERE conditions and their shape; the
#: timings of bench_store.py and bench_clickhouse.py (bench_filters.py adds a Polars baseline to each).
SEED_FILTERS = {
    "LLM spans": ("span_attributes.type = 'llm'", "spans"),
    "user John Smith": ("metadata.user = 'John Smith'", "spans"),
    "last 5 days and factuality < 0.5": ("created > now() - interval 5 day AND scores.Factuality < 0.5", "spans"),
    "traces > 60 s": ("duration > 60", "traces"),
}


def n_traces_for(spans: int) -> int:
    from loop_jupyter import demo

    return max(1, round(spans / demo.AVG_SPANS_PER_TRACE))


def demo_jsonl(spans: int, seed: int = 0) -> Path:
    """A demo Braintrust JSONL file of about ``spans`` spans under bench/data (generated once)."""
    from loop_jupyter import demo

    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"demo_{spans}_s{seed}.jsonl"
    if not path.exists():
        tmp = path.with_suffix(".tmp-write")
        demo.write_demo_jsonl(tmp, n_traces_for(spans), seed=seed, now=NOW)
        tmp.replace(path)
    return path


def demo_frame(spans: int, seed: int = 0, *, now: datetime | None = None) -> Any:
    from loop_jupyter import demo

    return demo.demo_logs(n_traces_for(spans), seed=seed, now=now)


def stats(values: list[float]) -> dict[str, float]:
    """Median and spread of repeated measurements."""
    values = [float(v) for v in values]
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "stdev": statistics.stdev(values) if len(values) > 1 else 0.0,
        "n": len(values),
    }


def timed(fn: Callable[[], Any], runs: int, *, warmup: int = 1) -> tuple[dict[str, float], Any]:
    """Run ``fn`` ``warmup`` + ``runs`` times in this process; wall-time stats of the measured runs."""
    result = None
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return stats(times), result


def run_child(args: list[str], *, timeout: float = 900, root: str | Path | None = None) -> dict[str, Any]:
    """Run ``python args...`` in a fresh process; returns its JSON output plus the OS's peak RSS.

    The child prints one JSON object on its last stdout line. ``maxrss_mb`` is the child's own
    peak resident set (VmHWM from /proc, else rusage of that pid via wait4), ``cpu_s`` its user + system seconds.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        # ``root``: import the package of another checkout (a bench of the code before a change).
        env = dict(os.environ, PYTHONPATH=str(root or ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        proc = subprocess.Popen([sys.executable, *args], stdout=out, stderr=err, cwd=ROOT, env=env)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                raise TimeoutError(f"{args} ran over {timeout:.0f} s")
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text = out.read().decode(errors="replace")
        if proc.returncode != 0:
            raise RuntimeError(f"{args} failed ({proc.returncode}):\n{err.read().decode(errors='replace')[-3000:]}")
    lines = [line for line in text.splitlines() if line.strip().startswith("{")]
    payload = json.loads(lines[-1]) if lines else {}
    # The kernel's peak RSS of the child's own image (VmHWM) when it reported one; wait4 otherwise.
    payload["maxrss_mb"] = payload.get("vmhwm_mb", usage.ru_maxrss / 1024)
    payload["cpu_s"] = usage.ru_utime + usage.ru_stime
    return payload


def child_report(**values: Any) -> None:
    """The last stdout line of a measured child, with the kernel's peak RSS of this process image.

    VmHWM is reset at exec; wait4's ru_maxrss is not (Linux carries the forking parent's peak into
    the child), so a parent that generated 2 GB of demo data would inflate every child's figure.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            values["vmhwm_mb"] = int(line.split()[1]) / 1024
    print(json.dumps(values, default=str), flush=True)


def machine() -> dict[str, Any]:
    import duckdb
    import numpy
    import polars
    import pyarrow

    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1),
        "cpu": _cpu_model(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "polars": polars.__version__,
        "duckdb": duckdb.__version__,
        "pyarrow": pyarrow.__version__,
        "numpy": numpy.__version__,
        "load_average": os.getloadavg(),
    }
    try:
        import pandas

        info["pandas"] = pandas.__version__
    except ImportError:
        pass
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        info["commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def save(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    return path


def scale_arg(parser: Any) -> None:
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument("--runs", type=int, default=None, help="measured runs per case (default: per scale)")
