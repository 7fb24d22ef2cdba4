"""The CLI's store commands: ``import PATH --to duckdb:///...`` and ``sql``/``filter`` over a store.

Output matches the in-memory commands of cli.py (same ``--json`` shapes), so scripts do not care
where the logs live.
"""

from __future__ import annotations

import argparse
from typing import Any

from .terminal import echo, echo_json


def uses_store(args: argparse.Namespace) -> bool:
    """``--logs duckdb:///...`` (or ``chdb:///...``, ``clickhouse://...``): the command reads the
    source where it is rather than loading logs into memory."""
    from .sources import is_source_url

    return is_source_url(getattr(args, "logs", None))


def cmd_import(args: argparse.Namespace) -> int:
    from .cli_output import EXIT_OK, EXIT_USAGE
    from .sources.importer import import_logs

    run = import_logs
    duckdb_store = args.to.split(":", 1)[0].lower() not in ("chdb", "clickhouse", "clickhouses")
    if not duckdb_store:  # ClickHouse's native table
        from .clickhouse.importer import import_to_chdb as run

    result = run(args.path, args.to, format=args.format, strict=args.strict, progress=not args.json)
    index = None
    if duckdb_store and not args.no_index:  # the similar-traces index beside the data (touched traces)
        from .analysis.store_index import update_store_index

        index = update_store_index(args.to, progress=not args.json)
    if args.json:
        echo_json(result.to_dict() | ({"similar_index": index} if index is not None else {}))
    else:
        echo(result.summary())
        if index is not None:
            echo(
                f"similar-traces index: {index['traces_embedded']:,} traces embedded, "
                f"{index['traces_indexed']:,} in the index ({index['seconds']:.1f} s)"
            )
    return EXIT_OK if result.report.ok else EXIT_USAGE


def store_sql(args: argparse.Namespace) -> int:
    from .cli_output import frame_json
    from .cli_output import print_frame as _print_frame
    from .sources import connect

    with connect(args.logs) as store:  # type: ignore[attr-defined]
        result = store.sql(args.query, limit=args.limit)
    if args.json:
        echo_json(frame_json(result))
    else:
        _print_frame(result)
    return 0


def store_filter(args: argparse.Namespace) -> int:
    """A WHERE condition over a store, or a description turned into one by the planner or the model."""
    from .engine import QueryError
    from .sources import connect

    with connect(args.logs) as store:  # type: ignore[attr-defined]
        try:
            engine = getattr(store, "engine", None)  # a ClickHouse source shows its translated condition
            if engine is not None:
                select = engine.where(args.condition, shape=args.shape)
            else:
                select = store.where_sql(args.condition, shape=args.shape)
        except QueryError as exc:
            if args.sql_only:
                raise
            first_error = exc
        else:
            return _store_rows(args, store, select)
    # Not SQL: a description for the planner (or the model), over the store (the session opens it again).
    from .cli_commands import run_filter_description

    return run_filter_description(args, args.logs, first_error=first_error)


def _store_rows(args: argparse.Namespace, store: Any, select: str) -> int:
    from .cli_output import print_filtered

    key = "root_span_id" if args.shape == "traces" else "id"
    if args.json:
        ids = store.filter(args.condition, shape=args.shape).get_column(key).to_list()
        echo_json({"sql": args.condition, "shape": args.shape, "count": len(ids), "ids": ids})
        return 0
    count = store.count(args.condition, shape=args.shape)
    rows = store.filter(args.condition, shape=args.shape, limit=args.limit)
    print_filtered(rows, args.shape, select, count, args.limit)
    return 0


def attribution_logs(args: argparse.Namespace) -> Any:
    """The spans ``attribute`` needs from a store: the one trace of ``--trace``, else the traces
    with a failure signal (an error, or a root with an expected answer), read alone."""
    from .sources import connect

    with connect(args.logs) as store:  # type: ignore[attr-defined]
        if args.trace:
            return store.trace(args.trace)
        return store.filter(
            "root_span_id IN (SELECT root_span_id FROM traces WHERE has_error) OR root_span_id IN "
            "(SELECT root_span_id FROM logs WHERE is_root AND expected IS NOT NULL)"
        )


def add_import_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    imp = sub.add_parser(
        "import", help="import logs into a persisted DuckDB store or a chDB database (logs larger than memory)"
    )
    imp.add_argument("path", help="a log file or folder (any format load reads)")
    imp.add_argument(
        "--to",
        required=True,
        metavar="URL",
        help="duckdb:///relative/logs.duckdb, duckdb:////abs/path, or chdb:///dir (ClickHouse's native table)",
    )
    imp.add_argument("--format", default="auto")
    imp.add_argument("--strict", action="store_true", help="stop at the first bad record (nothing is imported)")
    imp.add_argument("--json", action="store_true", help="print what was imported as JSON")
    imp.add_argument(
        "--no-index",
        action="store_true",
        help="skip the similar-traces index (a DuckDB store; the next import without this flag brings it up to date)",
    )
    imp.set_defaults(run=cmd_import)
