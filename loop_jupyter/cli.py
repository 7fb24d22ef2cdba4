"""``python -m loop_jupyter`` / ``loop-jupyter``: demo logs, SQL, filters and questions from a terminal.

``--json`` output is a scripting interface (documented in docs/cli.md): keep it stable.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .cli_commands import DEMO_TRACES, open_logs
from .cli_commands import add_logs_option as _add_logs_option
from .cli_output import (
    EXIT_BROKEN_PIPE,
    EXIT_INTERRUPTED,
    EXIT_NOT_ANSWERED,
    EXIT_OK,
    EXIT_QUERY,
    EXIT_USAGE,
    frame_json,
    print_filtered,
)
from .cli_output import print_frame as _print_frame
from .terminal import echo, echo_json


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import write_demo_jsonl

    path = Path(args.output)
    if path.exists() and not args.force:
        echo(f"{path} exists: pass --force to replace it", err=True)
        return EXIT_NOT_ANSWERED
    write_demo_jsonl(path, n_traces=args.traces, seed=args.seed)
    echo(f"wrote {args.traces:,} demo traces to {path}")
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    from .cli_store import store_sql, uses_store
    from .engine import LogEngine

    if uses_store(args):  # --logs duckdb:///...: read the store, load nothing
        return store_sql(args)

    result = LogEngine(open_logs(args)).sql(args.query, limit=args.limit)
    if args.json:
        echo_json(frame_json(result))
    else:
        _print_frame(result)
    return 0


def cmd_filter(args: argparse.Namespace) -> int:
    from .cli_store import store_filter, uses_store
    from .engine import LogEngine, QueryError

    if uses_store(args):
        return store_filter(args)
    logs = open_logs(args)
    engine = LogEngine(logs)
    try:
        select = engine.where(args.condition, shape=args.shape)
    except QueryError as exc:
        if args.sql_only:
            raise
        from .cli_commands import run_filter_description

        return run_filter_description(args, logs, first_error=exc)
    rows = engine.filter(args.condition, shape=args.shape)
    key = "root_span_id" if args.shape == "traces" else "id"
    if args.json:
        out = {"sql": args.condition, "shape": args.shape, "count": rows.height, "ids": rows.get_column(key).to_list()}
        echo_json(out)
    else:
        print_filtered(rows, args.shape, select, rows.height, args.limit)
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    from .loaders import load_logs_with_report

    frame, report = load_logs_with_report(args.path, args.format, strict=args.strict, progress=True)
    if args.output:
        from .loaders import save

        save(frame, args.output)
    if args.json:
        echo_json(report.to_dict())
    else:
        echo(report.summary())
        if args.output:
            echo(f"saved {frame.height:,} spans to {args.output}")
    return EXIT_OK if report.ok else EXIT_USAGE


def cmd_attribute(args: argparse.Namespace) -> int:
    from .analysis.attribution import attributions
    from .cli_store import attribution_logs, uses_store

    logs = attribution_logs(args) if uses_store(args) else open_logs(args)
    found = [a.to_json() for a in attributions(logs, args.trace)]
    if args.json:
        echo_json({"traces": found})
    else:  # reasons quote log text: through echo, like every terminal write
        for row in found:
            echo(f"{row['root_span_id']}: {row['reason']}")
        if not found:
            echo("no failing traces")
    return 1 if any(row["evidence_span_id"] is None and row["agent"] is None for row in found) and args.trace else 0


def build_parser() -> argparse.ArgumentParser:
    from ._version import __version__

    parser = argparse.ArgumentParser(prog="loop-jupyter", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"loop-jupyter {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="write the built-in demo logs to a JSONL file")
    demo.add_argument("output", nargs="?", default="demo_logs.jsonl")
    demo.add_argument("--traces", type=int, default=DEMO_TRACES)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--force", action="store_true", help="replace an existing file")
    demo.set_defaults(run=cmd_demo)

    query = sub.add_parser("sql", help="run a read-only SQL query over views logs and traces")
    query.add_argument("query")
    query.add_argument("--limit", type=int, default=None, help="row limit (default 100,000)")
    query.add_argument("--json", action="store_true", help='print {"columns", "rows", "total_rows"}')
    _add_logs_option(query)
    query.set_defaults(run=cmd_sql)

    filt = sub.add_parser("filter", help="rows matching a WHERE condition, or a description turned into one")
    filt.add_argument("condition", help="a SQL WHERE condition, or a plain-language description")
    filt.add_argument("--shape", choices=["spans", "traces"], default="spans")
    filt.add_argument("--sql-only", action="store_true", help="never treat the condition as a description")
    filt.add_argument("--model", default=None, help="model for descriptions (default: offline planner)")
    filt.add_argument("--limit", type=int, default=40, help="rows to print")
    filt.add_argument("--json", action="store_true", help='print {"sql", "shape", "count", "ids"}')
    _add_logs_option(filt)
    filt.set_defaults(run=cmd_filter)

    load = sub.add_parser("load", help="load a log file or folder and print its load report")
    load.add_argument("path")
    load.add_argument("--format", default="auto")
    load.add_argument("--strict", action="store_true", help="stop at the first bad record")
    load.add_argument("--output", "-o", help="save the canonical frame (.parquet or .arrow)")
    load.add_argument("--json", action="store_true", help="print the load report as JSON")
    load.set_defaults(run=cmd_load)

    attribute = sub.add_parser("attribute", help="which agent, at which step, caused each failing trace to fail")
    attribute.add_argument("--trace", metavar="ID", help="one trace's root_span_id (default: every failing trace)")
    attribute.add_argument("--json", action="store_true", help='print {"traces": [{"root_span_id", "agent", ...}]}')
    _add_logs_option(attribute)
    attribute.set_defaults(run=cmd_attribute)

    from .cli_store import add_import_parser

    add_import_parser(sub)

    try:
        from .cli_commands import add_ask

        add_ask(sub, _add_logs_option)
    except ImportError:
        pass
    from .lab import add_lab_parser

    add_lab_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (see the ``EXIT_*`` constants and docs/cli.md)."""
    args = build_parser().parse_args(argv)  # a bad command line exits here with EXIT_USAGE (argparse)
    try:
        return _run(args)
    except BrokenPipeError:
        # `| head` stopped reading: not a crash. Point stdout at devnull so that the interpreter's own
        # flush at exit does not raise again (the recipe of Python's signal docs).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE


def _run(args: argparse.Namespace) -> int:
    from .engine import QueryError
    from .report import LoadError

    try:
        return int(args.run(args) or 0)
    except QueryError as exc:
        if getattr(args, "json", False):
            echo_json({"error": exc.reason, "sql": exc.sql})
        echo(f"error: {exc}", err=True)
        return EXIT_QUERY
    except (LoadError, FileExistsError) as exc:
        echo(f"error: {exc}", err=True)
        return EXIT_USAGE
    except KeyboardInterrupt:
        echo("interrupted", err=True)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        raise  # main's: the reader went away
    except Exception:  # a crash: the traceback may quote log text, so it goes through echo too
        import traceback

        echo(traceback.format_exc(), err=True, end="")
        return EXIT_NOT_ANSWERED


if __name__ == "__main__":
    sys.exit(main())
