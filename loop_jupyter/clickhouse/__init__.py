"""ClickHouse as a log source (issue 18): schema adapters, the DuckDB-to-ClickHouse SQL dialect,
and a sandboxed backend over chDB (in-process) or a ClickHouse server (clickhouse-connect).

``chdb`` and ``clickhouse-connect`` come with the ``[clickhouse]`` extra and are imported only
when a backend is opened. See docs/clickhouse.md.
"""

from __future__ import annotations

from .adapters import SCHEMAS, traces_sql
from .backend import ClickHouseLogs, connect
from .dialect import translate
from .schemas import logs_sql

__all__ = ["SCHEMAS", "ClickHouseLogs", "connect", "logs_sql", "traces_sql", "translate"]
