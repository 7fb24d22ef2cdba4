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
import os
import threading
import time
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote, urlparse

import polars as pl
import pyarrow as pa
from sqlglot import exp

from ..engine import TRACE_COLUMNS
from ..schema import SCHEMA
from ..sql_guard import QueryError
from . import pushdown
from .adapters import DEFAULT_TABLES, SCHEMAS, quote_name, sql_string, traces_sql
from .dialect import translate
from .reads import ProtocolReads
from .schemas import logs_sql

DEFAULT_ROW_LIMIT = 100_000
DEFAULT_TIMEOUT_S = 20.0
DEFAULT_MEMORY = 4 * 1024**3
DEFAULT_ROWS_TO_READ = 1_000_000_000
SOURCE_NAMES = {"logs", "traces"}

_CHDB_LOCK = threading.Lock()
_BOOLEAN = (exp.Predicate, exp.Connector, exp.Not, exp.Boolean)


def limit_settings(*, timeout_s: float, row_limit: int, memory: int, rows_to_read: int) -> dict[str, Any]:
    """The settings every query runs under, in the order they are set (readonly last).
    ``join_use_nulls``: a LEFT JOIN miss is NULL as in DuckDB, not the type's default ('' or 0)."""
    return {
        "max_execution_time": max(1, round(timeout_s)),
        "max_memory_usage": memory,
        # Past half the limit a GROUP BY / ORDER BY spills to temporary files instead of failing.
        **dict.fromkeys(("max_bytes_before_external_group_by", "max_bytes_before_external_sort"), memory // 2),
        "max_result_rows": row_limit + 1,
        "result_overflow_mode": "throw",
        "max_rows_to_read": rows_to_read,
        "join_use_nulls": 1,
        # ClickHouse 25's query condition cache gave wrong answers here: after a filter matched no
        # rows, has(tags, ..) over the traces view matched none either (chDB 4.4; a test holds it).
        "use_query_condition_cache": 0,
        "session_timezone": "UTC",
        "output_format_arrow_string_as_string": 1,  # Arrow strings, not binary
        "output_format_arrow_low_cardinality_as_dictionary": 0,
        "readonly": 1,
    }


def settings_clause(settings: dict[str, Any]) -> str:
    return "SETTINGS " + ", ".join(
        f"{name} = {sql_string(value) if isinstance(value, str) else value}" for name, value in settings.items()
    )


class _Chdb:
    """A chDB session on a database directory. chDB holds one session per process, so backends on
    the same directory share it (counted); every query carries the limits, then ``readonly = 1``,
    in its own SETTINGS clause, so the session stays writable for ``import --to`` and tests."""

    _open: ClassVar[dict[str, list]] = {}  # path -> [session, users]

    def __init__(self, path: str, settings: dict[str, Any]) -> None:
        from chdb import session as chdb_session

        self.path = path = os.path.abspath(path)
        self.settings = settings
        self.clause = settings_clause(settings)
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

    def arrow(self, sql: str, overrides: dict[str, Any] | None = None) -> pa.Table:
        clause = settings_clause({**self.settings, **overrides}) if overrides else self.clause
        try:
            data = self.session.query(f"{sql}\n{clause}", "Arrow").bytes()
        except Exception:
            # chDB 4.4 keeps the partial output of a query that failed (e.g. stopped by
            # max_result_rows) and prepends it to the next answer: one throwaway query flushes it.
            with contextlib.suppress(Exception):  # the original error is the one to report
                self.session.query("SELECT 1", "Arrow")
            raise
        return pa.ipc.open_file(pa.py_buffer(data)).read_all()

    def execute(self, sql: str, fmt: str = "CSV") -> str:
        """A statement without the limits (``import --to`` writes through the shared session)."""
        return str(self.session.query(sql, fmt))

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
        # Settings an older server does not know (use_query_condition_cache: 25.3) are left out.
        known = getattr(self.client, "server_settings", None)
        if known:
            self.settings = {k: v for k, v in self.settings.items() if k in known}

    def arrow(self, sql: str, overrides: dict[str, Any] | None = None) -> pa.Table:
        return self.client.query_arrow(sql, settings={**self.settings, **(overrides or {})})

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
            # Wrapped so that no row comes back (an aggregate gives one even over no spans).
            _NAMES[query] = engine_for(_EMPTY).sql(f"SELECT * FROM ({query}) LIMIT 0", limit=0).columns
        except (QueryError, ValueError):
            _NAMES[query] = None
        if len(_NAMES) > 1000:
            _NAMES.pop(next(iter(_NAMES)))
    names = _NAMES[query]
    return names if names is not None and len(names) == count else None


_EMPTY: pl.DataFrame | None = None


class ClickHouseLogs(ProtocolReads):
    """``logs`` and ``traces`` over ClickHouse tables in one of :data:`adapters.SCHEMAS`: a
    ``LogSource`` (docs/sources.md), opened by ``lj.connect("chdb:///...")`` / ``"clickhouse://..."``."""

    def __init__(
        self,
        url: str,
        *,
        row_limit: int = DEFAULT_ROW_LIMIT,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        memory: int = DEFAULT_MEMORY,
        rows_to_read: int = DEFAULT_ROWS_TO_READ,
        memory_limit: str | int | None = None,
    ) -> None:
        parsed = urlparse(url)
        params = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        self.schema_name = params.get("schema", "")
        if self.schema_name and self.schema_name not in SCHEMAS:
            raise ValueError(f"unknown schema {self.schema_name!r} in {url!r}: use one of {', '.join(SCHEMAS)}")
        self.url = masked(url)
        tables = {}
        if "table" in params:
            tables["spans"] = params["table"]
        for key in ("traces", "observations", "scores", "events"):
            if f"{key}_table" in params:
                tables[key] = params[f"{key}_table"]
        self.tables = tables
        self._rows_sql: str | None = None
        self._traces_sql: str | None = None
        self.row_limit, self.timeout_s = row_limit, timeout_s
        if memory_limit is not None:
            memory = parse_bytes(memory_limit)
        settings = limit_settings(timeout_s=timeout_s, row_limit=row_limit, memory=memory, rows_to_read=rows_to_read)
        self._lock = threading.Lock()
        if parsed.scheme == "chdb":
            path = chdb_path(url)
            if not os.path.isdir(path):
                raise ValueError(f"no chDB database at {path}: create one with `loop-jupyter import LOGS --to {url}`")
            self._conn: _Chdb | _Server = _Chdb(path, settings)
        elif parsed.scheme in SERVER_SCHEMES:
            self._conn = _Server(url, parsed.path.strip("/"), settings)
        else:
            raise ValueError(f"not a ClickHouse connection string: {url!r}")
        self._closed = False
        # Narrow the otel adapter per read (pushdown.py): True always, False never, None (default)
        # from pushdown.MIN_SPANS spans on (below, planning the narrowed SQL costs more than it saves).
        self.pushdown: bool | None = None
        if not self.schema_name:
            self.schema_name = self._detect_schema()
        self.logs_sql = logs_sql(self.schema_name, tables)

    def _detect_schema(self) -> str:
        """No ``schema=``: the first of ``loop_spans`` (native, what ``import --to`` writes),
        ``otel_traces``, ``observations`` (Langfuse v3), ``events_full`` (v4) in the database, else otel."""
        found = DETECT_ORDER[1]
        try:
            names = ", ".join(sql_string(name) for name, _schema in DETECT_ORDER)
            with self._lock:
                table = self._conn.arrow(
                    f"SELECT name FROM system.tables WHERE database = currentDatabase() AND name IN ({names})"
                )
            present = set(table.column(0).to_pylist()) if table.num_columns else set()
            found = next((item for item in DETECT_ORDER if item[0] in present), found)
        except Exception:  # a user who may not read system.tables: the default
            pass
        return found[1]

    # -- SQL -------------------------------------------------------------------------------------
    def _ours(self, logs: str | None = None) -> list[str]:
        """Our CTEs: the adapter's spans (``logs``: narrowed, pushdown.py), the traces view, and
        the spans with their order key."""
        return [
            f"_lj_logs AS ({logs or self.logs_sql})",
            f"_lj_traces AS ({self.traces_relation()})",
            f"_lj_rows AS ({self.rows_sql()})",
        ]

    def traces_relation(self) -> str:
        """The traces view: computed over the spans per query, or, for a native table written by
        ``import --to``, the table it stored beside it (while it holds as many spans)."""
        if self._traces_sql is None:
            self._traces_sql = traces_sql("_lj_logs")
            if self.schema_name == "native":
                name = self.tables.get("spans", "loop_spans")
                stored, spans = quote_name(f"{name}_traces"), quote_name(name)
                try:
                    with self._lock:
                        check = self._conn.arrow(
                            f"SELECT (SELECT toInt64(sum(span_count)) FROM {stored}) AS t, "
                            f"(SELECT toInt64(count()) FROM {spans}) AS s"
                        )
                    row = check.to_pylist()[0]
                except Exception:  # no stored traces table
                    row = None
                if row is not None and row["t"] == row["s"]:
                    names = ", ".join(f"`{column}`" for column in TRACE_COLUMNS)
                    self._traces_sql = f"SELECT {names} FROM {stored}"
        return self._traces_sql

    def rows_sql(self) -> str:
        """The spans plus ``_row``: a native table's load position, else 0 (then start order)."""
        if self._rows_sql is None:
            self._rows_sql = "SELECT *, toInt64(0) AS _row FROM _lj_logs"
            if self.schema_name == "native":
                table = quote_name(self.tables.get("spans", "loop_spans"))
                try:
                    with self._lock:
                        self._conn.arrow(f"SELECT _row FROM {table} LIMIT 0")
                except Exception:  # a native table made by hand, without the load position
                    pass
                else:
                    names = ", ".join(f"`{name}`" for name in SCHEMA)
                    self._rows_sql = f"SELECT {names}, toInt64(_row) AS _row FROM {table}"
        return self._rows_sql

    def _rename(self, tree: exp.Expression) -> set[str]:
        """Point the user's ``logs``/``traces`` at our CTEs (Langfuse's own table is called
        ``traces``), keeping their names as aliases; returns the user's CTE names."""
        with_ = tree.args.get("with_")
        user_ctes = {cte.alias_or_name.lower() for cte in with_.expressions} if with_ is not None else set()
        for table in list(tree.find_all(exp.Table)):
            name = table.name.lower() if isinstance(table.this, exp.Identifier) else ""
            if name in SOURCE_NAMES and name not in user_ctes:
                alias = table.alias or name
                table.set("this", exp.to_identifier(f"_lj_{name}"))
                table.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
        return user_ctes

    def compile(self, query: str) -> str:
        """The ClickHouse SQL a DuckDB-dialect query runs as (checked first; raises QueryError)."""
        tree, _ = translate(query, SOURCE_NAMES, timeout_s=self.timeout_s)
        ours = self._ours()[:2]
        self._rename(tree)
        with_ = tree.args.get("with_")
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

    def condition(self, where: str | None, shape: str = "spans") -> str:
        """A Braintrust-style WHERE condition, checked as the DuckDB engine checks it, as ClickHouse
        SQL over ``logs`` (spans) or ``traces`` (``1`` for none)."""
        if where is None or not where.strip():
            return "1"
        table = "traces" if shape == "traces" else "logs"
        try:
            tree, _ = translate(f"SELECT * FROM {table} WHERE {where}", SOURCE_NAMES, timeout_s=self.timeout_s)
        except QueryError as exc:
            if exc.reason.startswith("exactly one statement"):
                raise QueryError("a filter is one condition, not several statements", where) from None
            raise
        if not isinstance(tree, exp.Select) or any(
            tree.args.get(k) for k in ("joins", "limit", "group", "with_", "order", "having", "offset")
        ):
            raise QueryError("a filter is a single WHERE condition", where)
        from_ = tree.args.get("from_") or tree.args.get("from")
        if from_ is None or not isinstance(from_.this, exp.Table) or from_.this.name.lower() != table:
            raise QueryError("a filter is a single WHERE condition", where)
        self._rename(tree)
        return f"({tree.args['where'].this.sql(dialect='clickhouse')})"

    def where_sql(self, where: str, shape: str = "spans") -> str:
        """What a filter runs as (for the CLI's ``-- SELECT ...`` line)."""
        table = "traces" if shape == "traces" else "logs"
        return f"SELECT * FROM {table} WHERE {self.condition(where, shape)}"

    def _run(self, sql: str, original: str, max_rows: int | None = None) -> pl.DataFrame:
        """Run SQL built here; ``max_rows`` (None: unbounded) replaces the row limit."""
        started = time.monotonic()
        limit = self.row_limit if max_rows is None else max_rows
        overrides = None if max_rows is None else {"max_result_rows": max_rows + 1 if max_rows >= 0 else 0}
        with self._lock:
            if self._closed:
                raise QueryError("this ClickHouse source is closed", original)
            try:
                table = self._conn.arrow(sql, overrides)
            except Exception as exc:  # chDB and clickhouse-connect raise their own types
                message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                if "TOO_MANY_ROWS_OR_BYTES" in message or "Limit for result exceeded" in message:
                    raise QueryError(
                        f"the query returns more than {limit:,} rows: add a LIMIT or aggregate", original
                    ) from None
                if "TIMEOUT_EXCEEDED" in message or time.monotonic() - started > self.timeout_s:
                    raise QueryError(f"query stopped after the {self.timeout_s:g} s time limit", original) from None
                raise QueryError(f"query failed: {message[:500]}", original) from None
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        wide = [n for n, t in frame.schema.items() if t in (pl.UInt64, pl.UInt32, pl.UInt16)]  # DuckDB: BIGINT
        if wide:
            frame = frame.with_columns(pl.col(wide).cast(pl.Int64, strict=False))
        # Microsecond timestamps, as DuckDB's (ClickHouse truncates a DateTime64(6) to milliseconds).
        coarse = {
            name: pl.Datetime("us", dtype.time_zone)
            for name, dtype in frame.schema.items()
            if isinstance(dtype, pl.Datetime) and dtype.time_unit != "us"
        }
        if coarse:
            frame = frame.cast(coarse)  # type: ignore[arg-type]
        if limit >= 0 and frame.height > limit:
            raise QueryError(f"the query returns more than {limit:,} rows: add a LIMIT or aggregate", original)
        return frame

    def _internal(self, sql: str, original: str, max_rows: int | None = None, logs: str | None = None) -> pl.DataFrame:
        """Our own SQL (user parts checked) behind our CTEs, unbounded unless ``max_rows``."""
        return self._run(f"WITH {', '.join(self._ours(logs))}\n{sql}", original, -1 if max_rows is None else max_rows)

    def _narrow(self, shape: str, condition: str, rows: int | None = None, trace: str | None = None) -> str | None:
        """The ``otel`` adapter over only the traces a read needs (pushdown.py); None otherwise."""
        if self.schema_name != "otel" or self.pushdown is False:
            return None
        tables = {**DEFAULT_TABLES["otel"], **self.tables}
        if self.pushdown is None:
            try:
                with self._lock:
                    table = self._conn.arrow(f"SELECT toInt64(count()) AS n FROM {quote_name(tables['spans'])}")
                self.pushdown = table.column(0)[0].as_py() >= pushdown.MIN_SPANS
            except Exception:  # cannot count the table: map it whole, as before
                self.pushdown = False
            if not self.pushdown:
                return None
        if trace is not None:
            ids = pushdown.trace_ids(tables, trace)
        elif condition.strip() != "1":
            ids = pushdown.condition_ids(tables, condition) if shape == "spans" else None
        elif rows is not None:
            ids = pushdown.first_span_ids(tables, rows) if shape == "spans" else pushdown.newest_trace_ids(tables, rows)
        else:
            ids = None
        if ids is None:
            return None
        found = self._run(f"SELECT * FROM ({ids}) LIMIT {pushdown.MAX_TRACES + 1}", condition, -1)
        if found.height > pushdown.MAX_TRACES:  # a broad read: narrowing would not save the mapping
            return None
        return pushdown.narrowed(tables, found.to_series(0).to_list())

    def sql(self, query: str, *, limit: int | None = None) -> pl.DataFrame:
        """Run one read-only SELECT (DuckDB dialect) over ``logs`` and ``traces``; QueryError past
        ``limit`` rows (the source's row limit by default)."""
        return self._run(self.compile(query), query, limit)

    @property
    def traces(self) -> pl.DataFrame:
        """Every trace (prefer ``filter(shape="traces", limit=...)`` or ``page`` on big tables)."""
        return self.filter(shape="traces")

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    def __repr__(self) -> str:
        return f"ClickHouseLogs({self.url!r}, schema={self.schema_name!r})"


#: (table, schema) looked for, in order, when the URL names no schema.
DETECT_ORDER = (
    ("loop_spans", "native"),
    ("otel_traces", "otel"),
    ("observations", "langfuse_v3"),
    ("events_full", "langfuse_v4"),
)
SERVER_SCHEMES = ("clickhouse", "clickhouses", "clickhouse+http", "clickhouse+https")


def chdb_path(url: str) -> str:
    """The directory of ``chdb:///relative`` or ``chdb:////absolute`` (SQLAlchemy's convention)."""
    parsed = urlparse(url)
    if parsed.netloc:
        raise ValueError(f"{url!r}: write chdb:///relative/dir or chdb:////absolute/dir (three slashes, then the path)")
    path = unquote(parsed.path[1:] if parsed.path.startswith("/") else parsed.path)
    if not path:
        raise ValueError(f"{url!r}: give the chDB database directory, e.g. chdb:////data/traces")
    return path


def masked(url: str) -> str:
    """The connection string with its password hidden (it is shown in reports and reprs)."""
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@", 1)
    return parsed._replace(netloc=netloc).geturl()


def parse_bytes(value: str | int) -> int:
    """``4GB``, ``512MB``, ``4GiB`` or a number of bytes."""
    if isinstance(value, int):
        return value
    text = value.strip().upper().replace(" ", "")
    units = {"KIB": 1024, "MIB": 1024**2, "GIB": 1024**3, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "B": 1}
    for unit, factor in units.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(text)


def connect(url: str, **options: Any) -> ClickHouseLogs:
    """Open a ClickHouse log source from a ``chdb://`` or ``clickhouse://`` connection string."""
    return ClickHouseLogs(url, **options)
