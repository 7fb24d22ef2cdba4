"""The logs a command works on (``--logs``/``--format``, one loader: :func:`open_logs`) and the
``ask`` and ``filter``-by-description subcommands (wired into ``python -m loop_jupyter`` by cli.py).

``ask QUESTION [--logs PATH] [--model NAME] [--yes] [--session NAME] [--json]`` prints the answer (streamed), or with
``--json`` one object: ``{"text", "tool_calls": [{"name", "input"}], "artifacts": [...], "model",
"tokens_sent", "error", "usage"}`` (``usage``: the provider's token counts, window and cost). Without ``--yes``, actions with side effects are only proposed.

``filter DESCRIPTION [--logs PATH] [--model NAME] [--json]`` prints the WHERE clause, or with
``--json`` ``{"sql", "shape": "spans"|"traces", "count", "ids"}`` (span ``id``s, or trace
``root_span_id``s for trace filters). Exit status: 0 answered, 1 not answered/failed, 2 usage
(a ``--model`` that is unknown, malformed or refused by the admin allow-list: ``error: ...`` on
stderr, or ``{"error": ...}`` with ``--json``), 3 a refused query (docs/cli.md). Text for the
terminal goes through :func:`loop_jupyter.terminal.echo`.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import polars as pl

from .artifacts import SqlFilter
from .terminal import echo, echo_json

#: Traces of the built-in demo logs a command uses when no ``--logs`` is given.
DEMO_TRACES = 2000


def add_logs_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--logs",
        metavar="PATH",
        help="log file or folder, a duckdb:///path store, or chdb:///dir / clickhouse://... (default: the built-in demo logs)",
    )
    parser.add_argument("--format", default="auto", help="force a log format (default: detect)")


def open_logs(args: argparse.Namespace) -> pl.DataFrame:
    """The logs a command works on: ``--logs PATH`` or the built-in demo logs; load problems go to stderr."""
    if not getattr(args, "logs", None):
        from .demo import demo_logs

        return demo_logs(n_traces=DEMO_TRACES, seed=0)
    from .loaders import load_logs_with_report

    frame, report = load_logs_with_report(args.logs, getattr(args, "format", "auto"))
    if report.skipped or report.warnings:
        echo(report.summary(), err=True)
    return frame


def open_source(args: argparse.Namespace) -> pl.DataFrame | str:
    """``open_logs``, except that a ``--logs duckdb:///...`` store (or ``chdb:///...``,
    ``clickhouse://...``) stays where it is: its URL, which the session opens read-only (and
    closes), loading nothing."""
    from .sources import is_source_url

    if is_source_url(getattr(args, "logs", None)):
        return str(args.logs)
    return open_logs(args)


def add_ask(subparsers: Any, add_logs_option: Any) -> None:
    """The ``ask`` subcommand as cli.py wires it (its own ``--logs``/``--format`` options)."""
    ask = subparsers.add_parser("ask", help="ask a question about the logs")
    ask.add_argument("question")
    ask.add_argument("--model", metavar="NAME", help="model display name, openai-compatible:<m>@<url>, or offline")
    ask.add_argument("--yes", action="store_true", help="run actions with side effects without asking")
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    ask.add_argument(
        "--session",
        metavar="NAME",
        help="continue (or start) saved session NAME in ./.loop/sessions: follow-up questions see the earlier ones",
    )
    add_logs_option(ask)
    ask.set_defaults(run=_run_ask_cli)


def _run_ask_cli(args: argparse.Namespace) -> int:
    return run_ask(args, logs=open_source(args))


def run_filter_description(
    args: argparse.Namespace, logs: pl.DataFrame | str, *, first_error: Exception | None = None
) -> int:
    """``filter`` when the condition is not SQL: a description for the planner or the model."""
    args.description = args.condition
    return run_filter(args, logs=logs, first_error=first_error)


def _loop(args: argparse.Namespace, logs: pl.DataFrame | str | None, *, auto_accept: bool = False) -> Any:
    from .agent.session import Loop

    if logs is None:
        logs = open_source(args)
    session = getattr(args, "session", None)
    return Loop(logs, model=getattr(args, "model", None), auto_accept=auto_accept, session=session)


def _model_refused(args: argparse.Namespace, exc: Exception) -> int:
    """A model spec (unknown, malformed, not on the allow-list) or a session name or file the CLI
    cannot use: usage error."""
    if getattr(args, "json", False):
        echo_json({"error": str(exc)})
    else:
        echo(f"error: {exc}", err=True)
    return 2


def run_ask(args: argparse.Namespace, *, logs: pl.DataFrame | str | None = None) -> int:
    from .agent.models import ModelError
    from .agent.persist import SessionNameError

    try:
        loop = _loop(args, logs, auto_accept=bool(getattr(args, "yes", False)))
    except (ModelError, SessionNameError) as exc:
        return _model_refused(args, exc)
    except OSError as exc:  # a session file that cannot be read (a symbolic link, no permission)
        return _model_refused(args, exc)
    for warning in loop.session_warnings:  # lines of the session file skipped on reading
        echo(f"warning: {warning}", err=True)
    try:
        return _ask(loop, args)
    finally:
        loop.close()  # stop the worker thread and release DuckDB before the interpreter exits


def _ask(loop: Any, args: argparse.Namespace) -> int:
    if args.json:
        answer = loop.ask(args.question)
        echo_json(answer.to_json())
        return 1 if answer.error else 0
    answer = None
    for event in loop.stream(args.question):
        if event.type == "text_delta":
            echo(event.data["text"], end="", flush=True)
        elif event.type == "tool_started":
            echo(f"\n[{event.data['name']} {json.dumps(event.data['input'], default=str)[:300]}]", err=True)
        elif event.type == "confirmation":
            echo(
                f"\n[needs confirmation: {event.data['description']}; run again with --yes to do it]\n"
                f"{event.data['preview'][:2000]}",
                err=True,
            )
        elif event.type == "error":
            echo(f"\nerror: {event.data['message']}", err=True)
            return 1
        elif event.type == "done":
            answer = event.data["answer"]
    echo()
    return 0 if answer is not None else 1


def run_filter(
    args: argparse.Namespace, *, logs: pl.DataFrame | str | None = None, first_error: Exception | None = None
) -> int:
    from .agent.models import ModelError

    try:
        loop = _loop(args, logs)
    except ModelError as exc:
        return _model_refused(args, exc)
    try:
        return _filter(loop, args, first_error)
    finally:
        loop.close()


def _filter(loop: Any, args: argparse.Namespace, first_error: Exception | None) -> int:
    question = args.description
    if loop.model != "offline":
        question = (
            "Call generate_filter exactly once for this description and nothing else. Description: " + args.description
        )
    answer = loop.ask(question)
    found = [a for a in answer.artifacts if isinstance(a, SqlFilter)]
    if not found:
        message = answer.error or answer.text or "no filter was produced"
        if first_error is not None:
            message += f"\n(as SQL it did not parse either: {getattr(first_error, 'reason', first_error)})"
        if args.json:
            echo_json({"error": message})
        else:
            echo(message, err=True)
        return 1
    result = found[-1]
    if args.json:
        echo_json({"sql": result.sql, "shape": result.shape, "count": result.count, "ids": result.ids})
    else:
        echo(f"-- {result.count:,} {result.shape}\n{result.sql}")
    return 0
