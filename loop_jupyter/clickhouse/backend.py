"""The sandbox on ClickHouse: ``logs`` and ``traces`` over a chDB database (in-process) or a
ClickHouse server (clickhouse-connect), one read-only SELECT at a time.

Every query passes sql_guard's parse-tree check (only ``logs``/``traces``; no table functions such
as file/url/s3/remote/cluster/executable; no ``system.*``, no qualified names), is translated by
:mod:`.dialect`, and runs behind the adapter's CTEs under the limits, which are set first
(``max_execution_time``, ``max_memory_usage``, ``max_result_rows`` with ``result_overflow_mode =
'throw'``, ``max_rows_to_read``), then ``readonly = 1``.

Connection strings: ``chdb:///relative/path?schema=otel``, ``chdb:////absolute/path?schema=...``
(SQLAlchemy's convention), ``clickhouse://user:password@host:8123/db?schema=...``. Extra query
parameters name tables: ``table=`` (otel, native) or ``traces_table=``/``observations_table=``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote, urlparse

import polars as pl
import pyarrow as pa
from sqlglot import exp

from ..sql_guard import QueryError
from .adapters import SCHEMAS, logs_sql, sql_string, traces_sql
from .dialect import translate

DEFAULT_ROW_LIMIT = 100_000
DEFAULT_TIMEOUT_S = 20.0
DEFAULT_MEMORY = 4 * 1024**3
DEFAULT_ROWS_TO_READ = 1_000_000_000
SOURCE_NAMES = {"logs", "traces"}

_CHDB_LOCK = threading.Lock()
_BOOLEAN = (exp.Predicate, exp.Connector, exp.Not, exp.Boolean)


def limit_settings(*, timeout_s: float, row_limit: int, memory: int, rows_to_read: int) -> dict[str, Any]:
    """The settings every query runs under, in the order they are set (readonly last)."""
    # join_use_nulls: a LEFT JOIN miss is NULL as in DuckDB, not the type's default ('' or 0).
    return {
        "max_execution_time": max(1, round(timeout_s)),
        "max_memory_usage": memory,
        "max_result_rows": row_limit + 1,
        "result_overflow_mode": "throw",
        "max_rows_to_read": rows_to_read,
        "join_use_nulls": 1,
        "session_timezone": "UTC",
        "output_format_arrow_string_as_string": 1,  # Arrow strings, not binary
        "output_format_arrow_low_cardinality_as_dictionary": 0,
        "readonly": 1,
    }


class _Chdb:
    """A chDB session on a database directory. chDB holds one session per process, so backends on
    the same directory share it (counted); every query carries the limits, then ``readonly = 1``,
    in its own SETTINGS clause, so the session stays writable for ``import --to`` and tests."""

    _open: ClassVar[dict[str, list]] = {}  # path -> [session, users]

    def __init__(self, path: str, settings: dict[str, Any]) -> None:
        from chdb import session as chdb_session

        self.path = path
        self.clause = "SETTINGS " + ", ".join(
            f"{name} = {sql_string(value) if isinstance(value, str) else value}" for name, value in settings.items()
        )
        with _CHDB_LOCK:
            entry = self._open.get(path)
            if entry is None:
                if self._open:
                    raise RuntimeError(
                        f"chDB runs one database per process: {next(iter(self._open))} is open; close it first"
                    )
                entry = self._open[path] = [chdb_session.Session(path), 0]
            entry[1] += 1
            self.session = entry[0]

    def arrow(self, sql: str) -> pa.Table:
        try:
            data = self.session.query(f"{sql}\n{self.clause}", "Arrow").bytes()
        except Exception:
            # chDB 4.4 keeps the partial output of a query that failed (e.g. stopped by
            # max_result_rows) and prepends it to the next answer: one throwaway query flushes it.
            with contextlib.suppress(Exception):  # the original error is the one to report
                self.session.query("SELECT 1", "Arrow")
            raise
        return pa.ipc.open_file(pa.py_buffer(data)).read_all()

    def close(self) -> None:
        with _CHDB_LOCK:
            entry = self._open.get(self.path)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] <= 0:
                del self._open[self.path]
                entry[0].close()


class _Server:
    """A clickhouse-connect client; the limits travel with every query, readonly last."""

    def __init__(self, url: str, database: str, settings: dict[str, Any]) -> None:
        import clickhouse_connect

        parsed = urlparse(url)
        self.settings = settings
        self.client = clickhouse_connect.get_client(
            host=parsed.hostname or "localhost",
            port=parsed.port or 8123,
            username=unquote(parsed.username or "default"),
            password=unquote(parsed.password or ""),
            database=database or "default",
            secure=parsed.scheme in ("clickhouses", "clickhouse+https"),
        )
        # A user the DBA made read-only already (readonly = 1 or 2 in its profile) may not send
        # ``readonly`` again; the limits still travel with every query (readonly = 2 allows them).
        if int(self.client.command("SELECT getSetting('readonly')") or 0):
            self.settings = {k: v for k, v in settings.items() if k != "readonly"}

    def arrow(self, sql: str) -> pa.Table:
        return self.client.query_arrow(sql, settings=self.settings)

    def close(self) -> None:
        self.client.close()


_NAMES: dict[str, list[str] | None] = {}


def _duckdb_names(query: str, count: int) -> list[str] | None:
    """The column names DuckDB gives ``query`` (run on an empty frame), when it gives one per
    projection; None otherwise (a ``*``, or SQL DuckDB does not take)."""
    if query not in _NAMES:
        from ..engine import engine_for
        from ..schema import empty_frame

        global _EMPTY
        if _EMPTY is None:
            _EMPTY = empty_frame()
        try:
            _NAMES[query] = engine_for(_EMPTY).sql(query, limit=0).columns
        except (QueryError, ValueError):
            _NAMES[query] = None
        if len(_NAMES) > 1000:
            _NAMES.pop(next(iter(_NAMES)))
    names = _NAMES[query]
    return names if names is not None and len(names) == count else None


_EMPTY: pl.DataFrame | None = None


class ClickHouseLogs:
    """``logs`` and ``traces`` over ClickHouse tables in one of :data:`adapters.SCHEMAS`."""

    def __init__(
        self,
        url: str,
        *,
        row_limit: int = DEFAULT_ROW_LIMIT,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        memory: int = DEFAULT_MEMORY,
        rows_to_read: int = DEFAULT_ROWS_TO_READ,
    ) -> None:
        parsed = urlparse(url)
        params = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        self.schema = params.get("schema", "otel")
        if self.schema not in SCHEMAS:
            raise ValueError(f"unknown schema {self.schema!r} in {url!r}: use one of {', '.join(SCHEMAS)}")
        tables = {}
        if "table" in params:
            tables["spans"] = params["table"]
        for key in ("traces", "observations", "scores"):
            if f"{key}_table" in params:
                tables[key] = params[f"{key}_table"]
        self.logs_sql = logs_sql(self.schema, tables)
        self.row_limit, self.timeout_s = row_limit, timeout_s
        settings = limit_settings(timeout_s=timeout_s, row_limit=row_limit, memory=memory, rows_to_read=rows_to_read)
        self._lock = threading.Lock()
        if parsed.scheme == "chdb":
            # SQLAlchemy's convention: chdb:///relative, chdb:////absolute.
            path = unquote(parsed.path[1:] if parsed.path.startswith("/") else parsed.path)
            if not path:
                raise ValueError(f"{url!r}: give the chDB database directory, e.g. chdb:////data/traces")
            self._conn: _Chdb | _Server = _Chdb(path, settings)
        elif parsed.scheme in ("clickhouse", "clickhouses", "clickhouse+http", "clickhouse+https"):
            self._conn = _Server(url, parsed.path.strip("/"), settings)
        else:
            raise ValueError(f"not a ClickHouse connection string: {url!r}")

    # -- SQL -------------------------------------------------------------------------------------
    def compile(self, query: str) -> str:
        """The ClickHouse SQL a DuckDB-dialect query runs as (checked first; raises QueryError)."""
        tree, _ = translate(query, SOURCE_NAMES, timeout_s=self.timeout_s)
        # Our relations get private names (Langfuse's own table is called ``traces``); the user's
        # ``logs``/``traces`` keep their names as aliases.
        ours = [f"_lj_logs AS ({self.logs_sql})", f"_lj_traces AS ({traces_sql('_lj_logs')})"]
        with_ = tree.args.get("with_")
        user_ctes = {cte.alias_or_name.lower() for cte in with_.expressions} if with_ is not None else set()
        for table in list(tree.find_all(exp.Table)):
            name = table.name.lower() if isinstance(table.this, exp.Identifier) else ""
            if name in SOURCE_NAMES and name not in user_ctes:
                alias = table.alias or name
                table.set("this", exp.to_identifier(f"_lj_{name}"))
                table.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
        if with_ is not None:
            if with_.args.get("recursive"):
                raise QueryError("WITH RECURSIVE is not supported on ClickHouse sources", query)
            ours += [cte.sql(dialect="clickhouse") for cte in with_.expressions]
            tree.set("with_", None)
        if isinstance(tree, exp.Select):
            names = _duckdb_names(query, len(tree.expressions))
            for index, projection in enumerate(tree.expressions):
                if names is not None and not isinstance(projection, exp.Alias | exp.Star):
                    # Columns named as DuckDB names them (``count_star()``, ``x`` for ``t.x``).
                    tree.expressions[index] = projection = exp.alias_(projection, names[index], quoted=True)
                elif isinstance(projection, exp.Column) and projection.table:
                    tree.expressions[index] = projection = exp.alias_(projection, projection.name, quoted=True)
                inner = projection.this if isinstance(projection, exp.Alias) else projection
                if isinstance(inner, _BOOLEAN):
                    # DuckDB answers BOOLEAN; ClickHouse's comparisons give UInt8.
                    cast = exp.Cast(this=inner.copy(), to=exp.DataType.build("Bool", dialect="clickhouse"))
                    name = projection.alias if isinstance(projection, exp.Alias) else inner.sql(dialect="duckdb")
                    tree.expressions[index] = exp.alias_(cast, name, quoted=True)
        return f"WITH {', '.join(ours)}\n{tree.sql(dialect='clickhouse')}"

    def _run(self, sql: str, original: str) -> pl.DataFrame:
        started = time.monotonic()
        with self._lock:
            try:
                table = self._conn.arrow(sql)
            except Exception as exc:  # chDB and clickhouse-connect raise their own types
                message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                if "TOO_MANY_ROWS_OR_BYTES" in message or "Limit for result exceeded" in message:
                    raise QueryError(
                        f"the query returns more than {self.row_limit:,} rows: add a LIMIT or aggregate", original
                    ) from None
                if "TIMEOUT_EXCEEDED" in message or time.monotonic() - started > self.timeout_s:
                    raise QueryError(f"query stopped after the {self.timeout_s:g} s time limit", original) from None
                raise QueryError(f"query failed: {message[:500]}", original) from None
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        # ClickHouse counts are UInt64 where DuckDB's are BIGINT.
        wide = [name for name, dtype in frame.schema.items() if dtype in (pl.UInt64, pl.UInt32, pl.UInt16)]
        if wide:
            frame = frame.with_columns(pl.col(wide).cast(pl.Int64, strict=False))
        if frame.height > self.row_limit:
            raise QueryError(f"the query returns more than {self.row_limit:,} rows: add a LIMIT or aggregate", original)
        return frame

    def sql(self, query: str) -> pl.DataFrame:
        """Run one read-only SELECT (DuckDB dialect) over ``logs`` and ``traces``."""
        return self._run(self.compile(query), query)

    def filter(self, where: str, *, shape: str = "spans") -> pl.DataFrame:
        """Spans (or traces) matching a Braintrust-style WHERE condition."""
        table = "traces" if shape == "traces" else "logs"
        query = f"SELECT * FROM {table} WHERE {where}"
        tree, _ = translate(query, SOURCE_NAMES, timeout_s=self.timeout_s)
        if not hasattr(tree, "args") or any(tree.args.get(k) for k in ("joins", "limit", "group", "with_")):
            raise QueryError("a filter is a single WHERE condition", where)
        try:
            return self._run(self.compile(query), where)
        except QueryError as exc:
            if exc.reason.startswith("exactly one statement"):
                raise QueryError("a filter is one condition, not several statements", where) from None
            raise

    def count(self, where: str, *, shape: str = "spans") -> int:
        table = "traces" if shape == "traces" else "logs"
        frame = self.sql(f"SELECT count(*) AS n FROM {table} WHERE {where}")
        return int(frame.item())

    @property
    def traces(self) -> pl.DataFrame:
        return self.sql("SELECT * FROM traces")

    def trace(self, root_span_id: str) -> pl.DataFrame:
        """Every span of one trace, in start order."""
        literal = sql_string(str(root_span_id))
        return self._run(
            f"WITH _lj_logs AS ({self.logs_sql}) SELECT * FROM _lj_logs WHERE root_span_id = {literal} "
            "ORDER BY start, span_id",
            f"trace {root_span_id}",
        )

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ClickHouseLogs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(url: str, **options: Any) -> ClickHouseLogs:
    """Open a ClickHouse log source from a ``chdb://`` or ``clickhouse://`` connection string."""
    return ClickHouseLogs(url, **options)
