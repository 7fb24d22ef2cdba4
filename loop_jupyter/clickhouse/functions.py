"""Which functions a query may call on a ClickHouse source.

Queries are written in DuckDB's dialect and checked by sql_guard as the DuckDB engine checks them;
a function sqlglot does not know stays an ``Anonymous`` call and its name reaches ClickHouse as
written. On DuckDB an unknown name is an error; on ClickHouse it is a ClickHouse function, and some
of those read the machine: ``"file"('/etc/passwd')`` returned the file through chDB, and
``getServerSetting('path')``, ``hostName()``, ``getOSKernelVersion()``, ``hasColumnInTable(...)``
described the server and its other tables. So, before the rewrite to ClickHouse:

- a call by a name sqlglot does not know must name a DuckDB function (``duckdb_functions()`` of
  the DuckDB in this process: the dialect the query is written in);
- and no call, in the ClickHouse SQL the query becomes, may name a function that reads files or
  the network, describes the server, its settings, users or other tables, sleeps, or writes to the
  server log (:data:`FORBIDDEN`), whatever its case or quoting.
"""

from __future__ import annotations

import itertools
import re
import threading

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.tokens import TokenType

from ..sql_guard import QueryError

#: ClickHouse functions no query may call (lower case; DuckDB functions of the same name included).
FORBIDDEN = frozenset(
    {
        # files, network, models and external code
        "file", "reversednsquery", "catboostevaluate", "evalmlmethod", "modelevaluate", "generateserialid",
        # the server, its settings and its users
        "getsetting", "getsettingordefault", "getserversetting", "getmergetreesetting", "getmacro",
        "getserverport", "tcpport", "hostname", "fqdn", "version", "revision", "uptime", "buildid",
        "serveruuid", "displayname", "getoskernelversion", "zookeepersessionuptime", "currentuser",
        "current_user", "user", "currentdatabase", "current_database", "database", "schema",
        "current_schema", "currentschemas", "current_schemas", "currentprofiles", "enabledprofiles",
        "defaultprofiles", "currentroles", "current_role", "enabledroles", "defaultroles", "globalvariable",
        "getclienthttpheader", "showcertificate", "queryid", "query_id", "initialqueryid", "initial_query_id",
        "initialquerystarttime", "currentqueryid", "current_query", "connectionid", "connection_id",
        "shardnum", "shardcount", "hascolumnintable", "istlsconnection", "getmaxtablenamelengthfordatabase",
        # side effects and stalls
        "logtrace", "sleep", "sleepeachrow", "trap",
    }
)  # fmt: skip
#: Families: dictionaries and join tables (they name tables), filesystems, transactions, symbols,
#: and ClickHouse's internal ``__`` functions.
_FORBIDDEN_PREFIX = re.compile(r"^(dict|joinget|filesystem|transaction|addressto|demangle|getscalar|__)")

_DUCKDB: frozenset[str] | None = None
_LOCK = threading.Lock()


def duckdb_functions() -> frozenset[str]:
    """Every function name (lower case) the DuckDB of this process knows."""
    global _DUCKDB
    with _LOCK:
        if _DUCKDB is None:
            import duckdb

            con = duckdb.connect(":memory:")
            try:
                rows = con.execute("SELECT DISTINCT lower(function_name) FROM duckdb_functions()").fetchall()
            finally:
                con.close()
            _DUCKDB = frozenset(str(r[0]) for r in rows)
    return _DUCKDB


def forbidden(name: str) -> bool:
    lowered = name.lower()
    return lowered in FORBIDDEN or bool(_FORBIDDEN_PREFIX.match(lowered))


def check_names(tree: exp.Expression, query: str) -> None:
    """Refuse a call by a name sqlglot does not know unless DuckDB knows it, and any forbidden name."""
    known = duckdb_functions()
    for node in tree.find_all(exp.Anonymous, exp.AnonymousAggFunc):
        name = node.name
        if forbidden(name):
            raise QueryError(f"function {name}() is not allowed", query)
        if name.lower() not in known:
            raise QueryError(
                f"unknown function {name}(): write DuckDB SQL (ClickHouse functions are not allowed)", query
            )


def check_calls(clickhouse_sql: str, query: str) -> None:
    """Refuse ClickHouse SQL that calls a forbidden function: every name (plain or quoted) that a
    ``(`` follows, on the tokens of the SQL the query runs as."""
    tokens = Dialect.get_or_raise("clickhouse").tokenize(clickhouse_sql)
    names = {TokenType.VAR, TokenType.IDENTIFIER}
    for token, following in itertools.pairwise(tokens):
        is_name = token.token_type in names or token.text.isidentifier()
        if following.token_type == TokenType.L_PAREN and is_name and forbidden(token.text):
            raise QueryError(f"function {token.text}() is not allowed", query)


__all__ = ["FORBIDDEN", "check_calls", "check_names", "duckdb_functions", "forbidden"]
