"""``DuckDBStore``: logs persisted in a DuckDB database file, read through the SQL sandbox.

Layout of the file (schema version 1):

- ``spans``: the canonical columns (docs/schema.md) plus ``_row BIGINT``, the load position
  (import order), so spans come back in the order they were loaded, as from the frame.
- ``traces``: one row per trace, computed by engine.py's traces-view SQL at import time and kept
  up to date for the traces each import touches.
- views ``logs_rows`` (spans with ``_row``) and ``logs`` (spans), the names the sandbox and
  the shared SQL of ``sources._sql`` read.
- ``loop_jupyter_meta``: key/value pairs (``schema_version``, ``created_with``, and the figures
  ``stats()`` returns, kept by each import: sources/derived.py).
- ``loop_jupyter_trace_rows``: each trace's ranges of ``_row`` (sources/trace_rows.py), so reading
  one trace or one span skips the row groups of the others; kept by each import.
- ``loop_jupyter_vocab``: the vocabulary the planner and the system prompt read (distinct models,
  names, tags, metadata keys and values with span counts), kept by each import (sources/vocab.py).
  A store written before these two existed opens and answers all the same (computed in SQL).

Queries run on a read-only connection with external access off and the configuration locked,
checked by the same guard as the in-memory engine. DuckDB lets one process write a database file,
or any number of processes read it: while ``import`` appends, opening the store fails with
``StoreLockedError`` (and an import fails the same way while a reader holds the file).
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import threading
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa

from ..engine import _TRACES_SQL, DEFAULT_MEMORY_LIMIT, DEFAULT_ROW_LIMIT, DEFAULT_TIMEOUT_S, LogEngine
from ..report import LoadError
from ..schema import SCHEMA, empty_frame
from ._sql import EngineSource
from .base import Shape, SourceStats
from .derived import META_TABLE, read_stats
from .root_only import push_root_only
from .trace_rows import is_current, trace_condition
from .vocab import Vocabulary, read_vocab

SCHEMA_VERSION = "1"
URL_PREFIX = "duckdb:///"


class StoreError(LoadError):
    """A store that cannot be opened or written (missing, not a store, another version)."""


class StoreLockedError(StoreError):
    """Another process holds the DuckDB file (an import writing it, or readers while importing)."""


def parse_url(url: str) -> Path:
    """The file of a ``duckdb:///relative/logs.duckdb`` or ``duckdb:////absolute/logs.duckdb`` URL.

    SQLAlchemy's convention: three slashes then the path, so an absolute path shows a fourth.
    """
    if not url.startswith(URL_PREFIX):
        raise StoreError(f"not a DuckDB store URL: {url!r} (write duckdb:///relative/path or duckdb:////absolute/path)")
    rest = url[len(URL_PREFIX) :]
    if not rest or rest == ":memory:" or "?" in rest:
        raise StoreError(
            f"{url!r} names no database file: write duckdb:///relative/logs.duckdb or duckdb:////absolute/logs.duckdb"
        )
    return Path(rest).expanduser()


def url_of(path: Path) -> str:
    """The URL of a store file (absolute paths get the fourth slash)."""
    return URL_PREFIX + str(path)


def _locked(path: Path, exc: duckdb.Error, *, writing: bool) -> StoreLockedError:
    pid = re.search(r"PID (\d+)", str(exc))
    holder = f"process {pid.group(1)}" if pid else "another process"
    if writing:
        what = (
            f"cannot write the store {path}: {holder} has it open. DuckDB allows one writer or "
            "many readers: close the store there (source.close(), or restart the kernel) and import again"
        )
    else:
        what = (
            f"cannot open the store {path}: {holder} is writing it (an import?). DuckDB allows one "
            "writer or many readers: open it again when the import has finished"
        )
    return StoreLockedError(what)


def connect_file(path: Path, *, read_only: bool, memory_limit: str = DEFAULT_MEMORY_LIMIT) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to the store file, external access off; lock conflicts as StoreLockedError."""
    config: dict[str, Any] = {
        "enable_external_access": False,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "memory_limit": memory_limit,
        "temp_directory": str(Path(tempfile.gettempdir()) / "loop_jupyter_duckdb"),
    }
    try:
        con = duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise _locked(path, exc, writing=not read_only) from None
        raise StoreError(f"cannot open the store {path}: {str(exc).splitlines()[0]}") from None
    except duckdb.ConnectionException as exc:
        if "different configuration" in str(exc):
            mode = "read-only" if not read_only else "for writing"
            raise StoreLockedError(
                f"this process has the store {path} open {mode} already: close it (store.close()) first"
            ) from None
        raise StoreError(f"cannot open the store {path}: {str(exc).splitlines()[0]}") from None
    except duckdb.Error as exc:
        raise StoreError(f"cannot open the store {path}: {str(exc).splitlines()[0]}") from None
    # UTC, and no progress bar of DuckDB's own. Connections to one file in one process share its
    # settings: a second one finds them set (and locked) by the first.
    for setting in ("SET TimeZone = 'UTC'", "SET enable_progress_bar_print = false"):
        with contextlib.suppress(duckdb.InvalidInputException):
            con.execute(setting)
    return con


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the tables and views of an empty store (inside the caller's transaction)."""
    empty = empty_frame().to_arrow()
    con.register("_loop_jupyter_empty", empty)
    try:
        con.execute(f"CREATE TABLE {META_TABLE} (key VARCHAR PRIMARY KEY, value VARCHAR)")
        from .._version import __version__

        con.execute(
            f"INSERT INTO {META_TABLE} VALUES ('schema_version', ?), ('created_with', ?)",
            [SCHEMA_VERSION, f"loop_jupyter {__version__}"],
        )
        con.execute("CREATE TABLE spans AS SELECT *, 0::BIGINT AS _row FROM _loop_jupyter_empty LIMIT 0")
    finally:
        con.unregister("_loop_jupyter_empty")
    con.execute("CREATE VIEW logs_rows AS SELECT * FROM spans")
    con.execute("CREATE VIEW logs AS SELECT * EXCLUDE (_row) FROM spans")
    con.execute(f"CREATE TABLE traces AS SELECT * FROM ({_TRACES_SQL}) LIMIT 0")


def is_store(con: duckdb.DuckDBPyConnection) -> bool:
    names = {row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    return {"spans", "traces", "logs", "logs_rows", META_TABLE} <= names


def check_version(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    if not is_store(con):
        raise StoreError(f"{path} is a DuckDB file but not a loop_jupyter store (no spans/traces tables)")
    row = con.execute(f"SELECT value FROM {META_TABLE} WHERE key = 'schema_version'").fetchall()[0]
    if not row or row[0] != SCHEMA_VERSION:
        raise StoreError(
            f"{path} is a store of schema version {row[0] if row else '?'}; this loop_jupyter reads {SCHEMA_VERSION}"
        )


class StoreEngine(LogEngine):
    """The sandboxed engine over a store connection: ``check``/``where``/``sql`` as on the frame.

    The views live in the file, so nothing is registered; row-position helpers of the in-memory
    engine (``filter_ids``) do not apply: use ``DuckDBStore.filter``.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        row_limit: int = DEFAULT_ROW_LIMIT,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        # LogEngine.__init__ registers a frame; a store brings its own views instead.
        self.logs = None  # type: ignore[assignment]
        self.row_limit = row_limit
        self.timeout_s = timeout_s
        self._lock = threading.RLock()
        self._traces = None
        self._con = con
        self.source_names = {"logs", "traces"}
        with contextlib.suppress(duckdb.InvalidInputException):  # a second connection here: locked already
            self._con.execute("SET lock_configuration = true")

    def _prepare(self, sql: str) -> None:
        """The traces table is in the file already."""

    def check(self, query: str) -> str:
        """The sandbox's SQL, conditions on root-only metadata keys narrowed to root spans (sources/root_only.py)."""
        return push_root_only(super().check(query), self.root_only_keys())

    def root_only_keys(self) -> set[str]:
        """Metadata keys found on root spans only (the store sets this from its vocabulary)."""
        return set()

    @property
    def traces(self) -> pl.DataFrame:
        """Every trace (loads the whole traces table: prefer ``DuckDBStore.filter(shape='traces')``)."""
        with self._lock:
            table = self._con.sql('SELECT * FROM traces ORDER BY "created" DESC NULLS LAST, root_span_id').arrow()
        frame = pl.from_arrow(table if isinstance(table, pa.Table) else table.read_all())
        assert isinstance(frame, pl.DataFrame)
        return frame

    def filter_ids(self, condition: str, *, shape: Shape = "spans") -> pl.Series:
        raise TypeError("a store has no frame row positions: use DuckDBStore.filter / count")

    def filter(self, condition: str, *, shape: Shape = "spans") -> pl.DataFrame:
        raise TypeError("use DuckDBStore.filter: the store engine hands out query results only")

    def count(self, condition: str, *, shape: Shape = "spans") -> int:
        raise TypeError("use DuckDBStore.count")


class DuckDBStore(EngineSource):
    """Logs in a DuckDB file, opened read-only: ``lj.connect("duckdb:///logs.duckdb")``."""

    def __init__(
        self,
        path: str | Path,
        *,
        row_limit: int = DEFAULT_ROW_LIMIT,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        memory_limit: str = DEFAULT_MEMORY_LIMIT,
    ) -> None:
        self.path = Path(path)
        self.url = url_of(self.path)
        if not self.path.is_file():
            raise StoreError(f"no store at {self.path}: create one with `loop-jupyter import LOGS --to {self.url}`")
        con = connect_file(self.path, read_only=True, memory_limit=memory_limit)
        try:
            check_version(con, self.path)
        except BaseException:
            con.close()
            raise
        super().__init__(StoreEngine(con, row_limit=row_limit, timeout_s=timeout_s))
        self._closed = False
        # A store opened read-only does not change under this process (an import needs the lock).
        self._stats: SourceStats | None = None
        self._vocab: tuple[Vocabulary | None] | None = None
        self.engine.root_only_keys = self._root_only_keys  # type: ignore[method-assign]
        self._ranged: bool | None = None  # whether the trace row ranges cover the store

    def _trace_condition(self, root_span_id: str) -> str:
        """One trace's ``_row`` ranges (sources/trace_rows.py) and its id: its row groups alone are
        read. A store without the ranges (written before them) reads by ``root_span_id``."""
        with self.engine._lock:
            if self._ranged is None:
                self._ranged = is_current(self.engine._con)
            if self._ranged:
                return trace_condition(self.engine._con, str(root_span_id))
        return super()._trace_condition(root_span_id)

    def stats(self) -> SourceStats:
        if self._stats is None:  # stored at import (sources/derived.py); an older store counts
            with self.engine._lock:
                stored = read_stats(self.engine._con)
            self._stats = SourceStats(*stored) if stored is not None else self._count_stats()
        return self._stats

    def vocabulary(self) -> Vocabulary | None:
        """The vocabulary counted at import (sources/vocab.py), None for a store written before it."""
        if self._vocab is None:
            with self.engine._lock:
                self._vocab = (read_vocab(self.engine._con),)
        return self._vocab[0]

    def _root_only_keys(self) -> set[str]:
        vocab = self.vocabulary()
        keys = vocab.values("meta_key") if vocab is not None else None
        # Plain names only: ``$.name`` reads the same key whichever way the path is written.
        return {c.value for c in keys or () if c.value and c.n == c.n_root and re.fullmatch(r"[A-Za-z_]\w*", c.value)}

    def _count_stats(self) -> SourceStats:
        sql = (
            "SELECT (SELECT count(*) FROM spans)::BIGINT AS spans, (SELECT count(*) FROM traces)::BIGINT AS traces, "
            '(SELECT min("created") FROM spans) AS first, (SELECT max("created") FROM spans) AS last'
        )
        row = self._fetch(sql, "stats").row(0, named=True)
        return SourceStats(int(row["spans"]), int(row["traces"]), row["first"], row["last"])

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            with self.engine._lock:
                self.engine._con.close()

    def __repr__(self) -> str:
        return f"DuckDBStore({self.url!r})"


def canonical_arrow(frame: pl.DataFrame) -> pa.Table:
    """A canonical frame as Arrow for DuckDB (string views: no copy of Polars' strings)."""
    return frame.select(list(SCHEMA)).to_arrow(compat_level=pl.CompatLevel.newest())
