"""The store's vocabulary: what the planner and the system prompt read about all the logs, counted
once at import and kept beside the spans (``loop_jupyter_vocab``), so the first question on a
10M-span store does not scan every span's metadata again.

One row per ``(kind, key, value)`` with span counts:

- ``model``, ``type``, ``name``, ``tag``: ``value`` is the column's value (NULL too), ``n`` spans
  (for tags: spans listing it), ``n_root`` of them root spans, ``n_tool`` of them tool spans;
- ``score_key`` / ``meta_key``: a key of ``scores`` / ``metadata`` objects, ``n`` spans holding it;
- ``meta_value``: ``key`` a metadata key, ``value`` one of its string values (JSON type VARCHAR);
- ``user_value``: ``key`` a user key (``facts.USER_KEYS``), ``value`` any non-null value as text.

A kind (or a key's values) holding more distinct values than its cap is stored as an
``overflow`` row instead (``key`` = ``kind/key``): readers then ask the spans as before. Imports
only add spans, so the counts of the new rows add to the stored ones and an overflow stays one.
A store written before this table existed reads as ``None`` (callers compute in SQL); opening it
for writing (``import``) backfills it. Malformed JSON (which DuckDB's JSON functions refuse) is
not counted, so it never fails an import.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import duckdb

VOCAB_TABLE = "loop_jupyter_vocab"
#: Distinct values kept per kind or key; past it the kind (or key) is an ``overflow`` row.
CAPS = {"meta_value": 31, "user_value": 5000}
DEFAULT_CAP = 20_000
#: The metadata keys whose values are a person (facts.USER_KEYS; kept here: data layer).
USER_KEYS = ("user", "user_id", "userId", "user_name", "username", "email", "user_email")

_COLUMNS = "kind VARCHAR NOT NULL, key VARCHAR NOT NULL, value VARCHAR, n BIGINT, n_root BIGINT, n_tool BIGINT"


def _pairs_sql(first_row: int) -> str:
    """The metadata ``(key, JSON type, value)`` of every span from ``first_row`` on (values of
    strings and of user keys only: the only ones the vocabulary keeps)."""
    users = ", ".join("'" + k + "'" for k in USER_KEYS)
    return f"""
    SELECT is_root, type, kv.key AS k, json_type(kv.value) AS t,
           CASE WHEN json_type(kv.value) = 'VARCHAR' OR kv.key IN ({users})
                THEN json_extract_string(kv.value, '$') END AS v
    FROM (SELECT is_root, type, unnest(map_entries(try(json_transform(metadata, '"MAP(VARCHAR, JSON)"')))) AS kv
          FROM spans WHERE _row >= {int(first_row)} AND try(json_type(metadata)) = 'OBJECT')"""


def _new_rows_sql(first_row: int) -> str:
    """Every vocabulary row counted over the spans from ``first_row`` on (uncapped); the metadata
    pairs are in the temp table ``_vocab_pairs``."""
    s = f"(SELECT model, type, name, tags, scores, is_root FROM spans WHERE _row >= {int(first_row)})"
    users = ", ".join("'" + k + "'" for k in USER_KEYS)
    counts = "count(*)::BIGINT AS n, count(*) FILTER (WHERE is_root)::BIGINT AS n_root, " + (
        "count(*) FILTER (WHERE type = 'tool')::BIGINT AS n_tool"
    )
    return f"""
    SELECT 'model' AS kind, '' AS key, model AS value, {counts} FROM {s} GROUP BY model
    UNION ALL SELECT 'type', '', type, {counts} FROM {s} GROUP BY type
    UNION ALL SELECT 'name', '', name, {counts} FROM {s} GROUP BY name
    UNION ALL SELECT 'tag', '', t, {counts} FROM (SELECT is_root, type, unnest(tags) AS t FROM {s}) GROUP BY t
    UNION ALL SELECT 'score_key', '', k, {counts}
      FROM (SELECT is_root, type, unnest(try(json_keys(scores))) AS k FROM {s} WHERE try(json_type(scores)) = 'OBJECT')
      GROUP BY k
    UNION ALL SELECT 'meta_key', '', k, {counts} FROM _vocab_pairs GROUP BY k
    UNION ALL SELECT 'meta_value', k, v, {counts} FROM _vocab_pairs WHERE t = 'VARCHAR' GROUP BY k, v
    UNION ALL SELECT 'user_value', k, v, {counts} FROM _vocab_pairs WHERE k IN ({users}) AND v IS NOT NULL
      GROUP BY k, v
    """


def has_vocab(con: duckdb.DuckDBPyConnection) -> bool:
    found = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [VOCAB_TABLE])
    return bool(found.fetchall()[0][0])


def update_vocab(con: duckdb.DuckDBPyConnection, first_row: int) -> None:
    """Add the spans from ``first_row`` on to the stored vocabulary (inside the caller's transaction).

    A store without the table (written by an older version) gets it computed over every span."""
    if not has_vocab(con):
        con.execute(f"CREATE TABLE {VOCAB_TABLE} ({_COLUMNS})")
        first_row = 0
    caps = " ".join(f"WHEN '{kind}' THEN {cap}" for kind, cap in CAPS.items())
    con.execute(f"CREATE OR REPLACE TEMP TABLE _vocab_pairs AS {_pairs_sql(first_row)}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _vocab_new AS {_new_rows_sql(first_row)}")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _vocab_merged AS
        SELECT kind, key, value, sum(n)::BIGINT AS n, sum(n_root)::BIGINT AS n_root, sum(n_tool)::BIGINT AS n_tool
        FROM (SELECT * FROM {VOCAB_TABLE} WHERE kind <> 'overflow' UNION ALL SELECT * FROM _vocab_new)
        GROUP BY kind, key, value"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _vocab_over AS
        SELECT kind, key FROM _vocab_merged GROUP BY kind, key
          HAVING count(*) > CASE kind {caps} ELSE {DEFAULT_CAP} END
        UNION
        SELECT split_part(key, '/', 1) AS kind, substr(key, length(split_part(key, '/', 1)) + 2) AS key
          FROM {VOCAB_TABLE} WHERE kind = 'overflow'"""
    )
    con.execute(f"DELETE FROM {VOCAB_TABLE}")
    con.execute(f"INSERT INTO {VOCAB_TABLE} SELECT m.* FROM _vocab_merged m ANTI JOIN _vocab_over o USING (kind, key)")
    con.execute(
        f"INSERT INTO {VOCAB_TABLE} SELECT 'overflow', kind || '/' || key, NULL, NULL, NULL, NULL FROM _vocab_over"
    )
    for temp in ("_vocab_pairs", "_vocab_new", "_vocab_merged", "_vocab_over"):
        con.execute(f"DROP TABLE {temp}")


@dataclass(frozen=True)
class Counted:
    """One stored value and its span counts."""

    value: str | None
    n: int
    n_root: int
    n_tool: int


@dataclass
class Vocabulary:
    """The stored vocabulary, read back: ``values(kind, key)`` is None when that kind overflowed."""

    rows: dict[tuple[str, str], list[Counted]] = field(default_factory=dict)
    overflow: set[tuple[str, str]] = field(default_factory=set)

    def values(self, kind: str, key: str = "") -> list[Counted] | None:
        if (kind, key) in self.overflow:
            return None
        return self.rows.get((kind, key), [])

    def keys(self, kind: str) -> list[str]:
        """The keys holding ``kind`` rows (metadata keys with stored values), overflowed ones included."""
        return sorted({k for kd, k in (*self.rows, *self.overflow) if kd == kind})


def read_vocab(con: duckdb.DuckDBPyConnection) -> Vocabulary | None:
    """The stored vocabulary, or None for a store written before it existed."""
    if not has_vocab(con):
        return None
    vocab = Vocabulary()
    grouped: dict[tuple[str, str], list[Counted]] = defaultdict(list)
    for kind, key, value, n, n_root, n_tool in con.execute(f"SELECT * FROM {VOCAB_TABLE}").fetchall():
        if kind == "overflow":
            name, _, rest = str(key).partition("/")
            vocab.overflow.add((name, rest))
        else:
            grouped[(kind, key)].append(Counted(value, int(n), int(n_root), int(n_tool)))
    vocab.rows = dict(grouped)
    return vocab


def top_counts(values: list[Counted], limit: int, *, drop_null: bool = False) -> list[tuple[str | None, int]]:
    """``(value, n)`` most spans first, ties by value (NULL last), at most ``limit``: what
    ``GROUP BY v ORDER BY n DESC, v NULLS LAST LIMIT limit`` gives over the spans."""
    kept = [c for c in values if not (drop_null and c.value is None)]
    kept.sort(key=lambda c: (-c.n, c.value is None, c.value or ""))
    return [(c.value, c.n) for c in kept[:limit]]


__all__ = ["CAPS", "USER_KEYS", "VOCAB_TABLE", "Counted", "Vocabulary", "has_vocab", "read_vocab", "top_counts",
           "update_vocab"]  # fmt: skip
