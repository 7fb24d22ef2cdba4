"""common_errors in the engine's SQL (analysis/errors_sql.py) against the Polars implementation, the
oracle: the same groups, counts, order, examples and text on the demo, on a store, on the real
fixtures and on hostile error texts; and the RE2 / Rust-regex differences that decide which rows
the SQL may answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from loop_jupyter import demo
from loop_jupyter.analysis import errors_sql
from loop_jupyter.analysis.errors import (
    _KIND_CATEGORIES,
    MODEL_ERROR_PATTERNS,
    common_errors,
    error_scope,
    error_spans,
    polars_common_errors,
)
from loop_jupyter.artifacts import Table
from loop_jupyter.loaders import load_logs
from loop_jupyter.schema import SCHEMA, empty_frame
from loop_jupyter.tools import ToolContext

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def _sql(ctx: ToolContext, where: str | None = None, limit: int = 20) -> dict | None:
    return errors_sql.sql_common_errors(ctx, where, limit, MODEL_ERROR_PATTERNS, _KIND_CATEGORIES)


def _oracle(ctx: ToolContext, where: str | None = None, limit: int = 20) -> dict:
    spans, _ = error_scope(ctx, where)
    return polars_common_errors(error_spans(spans), limit)


def assert_same(found: dict | None, expected: dict) -> None:
    assert found is not None, "the SQL path refused errors it should answer"
    for key in ("n_groups", "n_spans", "error_traces"):
        assert found[key] == expected[key], key
    for key in ("groups", "by_type", "daily"):
        assert_frame_equal(found[key], expected[key])


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return demo.demo_logs(2000, seed=0, now=NOW)


@pytest.mark.parametrize(("where", "limit"), [(None, 20), (None, 3), ("duration > 10", 5)])
def test_demo_in_memory(frame: pl.DataFrame, where: str | None, limit: int) -> None:
    ctx = ToolContext(frame)
    assert_same(_sql(ctx, where, limit), _oracle(ToolContext(frame), where, limit))


@pytest.mark.parametrize("min_errors", [0, None])
def test_demo_store(frame: pl.DataFrame, tmp_path, monkeypatch, min_errors: int | None) -> None:
    from loop_jupyter.analysis import errors
    from loop_jupyter.sources import DuckDBStore
    from loop_jupyter.sources.importer import import_logs

    path = tmp_path / "logs.duckdb"
    import_logs(frame, f"duckdb:///{path}")
    in_memory = common_errors(ToolContext(frame))
    polars_runs = []
    if min_errors is not None:  # the tool takes the SQL path (its threshold is for 10M-span stores)
        monkeypatch.setattr(errors, "SQL_MIN_ERRORS", min_errors)
        monkeypatch.setattr(errors, "polars_common_errors", lambda *a: polars_runs.append(a))
    with DuckDBStore(path) as store:
        ctx = ToolContext(source=store)
        assert_same(_sql(ctx), _oracle(ctx))
        # The tool's whole answer (text and tables) is the in-memory one.
        on_store = common_errors(ctx)
        assert not polars_runs
    assert on_store.text == in_memory.text
    for a, b in zip(on_store.frames, in_memory.frames, strict=True):
        assert_frame_equal(a, b)


def _errors_frame(errors: list[str], models: list[str | None] | None = None) -> pl.DataFrame:
    """Spans with these error texts (JSON), two per trace, a day apart every few rows."""
    n = len(errors)
    start = [NOW - timedelta(days=i % 3, minutes=i) for i in range(n)]
    spans = pl.DataFrame(
        {
            "id": [f"s{i}" for i in range(n)],
            "span_id": [f"s{i}" for i in range(n)],
            "root_span_id": [f"t{i // 2}" for i in range(n)],
            "is_root": [i % 2 == 0 for i in range(n)],
            "name": [f"step{i % 4}" for i in range(n)],
            "type": ["llm" if i % 3 else "tool" for i in range(n)],
            "model": models or [("gpt-5.1" if i % 3 else None) for i in range(n)],
            "start": start,
            "created": start,
            "error": errors,
        }
    )
    return pl.concat([empty_frame(), spans], how="diagonal_relaxed").cast(SCHEMA)


# ASCII texts the SQL must mask exactly as Polars does: \v and tabs (RE2's \s has no \v), quotes,
# urls, ids, hex, models, provider payloads, objects with numbers, booleans, nulls and nested errors.
PLAIN_ERRORS = [
    "\"Error code: 429 - {'type': 'error', 'error': {'type': 'rate_limit_error', 'message': 'over 100 tokens'}}\"",
    "\"Error code: 429 - {'type': 'error', 'error': {'type': 'rate_limit_error', 'message': 'over 250 tokens'}}\"",
    '"Timeout:\\u000b GET https://api.example.com/v1/x?id=3 did not respond within 10000 ms"',
    '"Timeout:\\t\\u000bGET https://user:pw@API.Example.com:8443/v1/y did not respond within 5 ms  "',
    '"ValueError: bad \'name\' in `col` \\"quoted\\" 0xDEADbeef 3f2a9c1b7e req_8f7a2c91d and gpt-5.1"',
    '"ValueError: bad \'other\' in `c2` \\"q\\" 0x1F 9d8e7f6a5b4c req-Xy12ab34cd and claude-4.5-sonnet"',
    '" :leading and trailing: \\f"',
    '"\\u000b\\t"',
    '""',
    '{"type": "invalid_request_error", "message": "prompt is too long: 210000 tokens > 200000 maximum"}',
    '{"code": 504, "msg": "Gateway timeout after 30 s"}',
    '{"status": 503, "detail": "service unavailable", "ok": false}',
    '{"error": {"type": "overloaded_error", "message": "Overloaded"}}',
    '{"error": "plain string error", "name": "HTTPError"}',
    '{"name": true, "message": null, "detail": "flag as type"}',
    '{"something": "else"}',
    '"HTTP 429 Too Many Requests at position 429"',
    '"a550e8400-e29b-41d4-a716-446655440000b and 550e8400-e29b-41d4-a716-446655440000."',
    '"context_length_exceeded: 9 > 8"',
    # The prefix before a payload: trailing spaces, colons and dashes dropped, none, or a brace earlier.
    "\"Oops -: \\t{'message': 'first'}\"",
    "\"{'message': 'no prefix'}\"",
    "\"a{b} then - {'message': 'after a brace'}\"",
    '"pre - : - \\n {\\"message\\": \\"double quoted\\"}"',
    "{\"message\": \"Error: {'message': 'inside an object'}\"}",
    '"ConnectionResetError: [Errno 104] Connection reset by peer"',
]


def test_hostile_ascii_errors_run_in_sql() -> None:
    frame = _errors_frame(PLAIN_ERRORS)
    assert_same(_sql(ToolContext(frame)), _oracle(ToolContext(frame)))


# Texts the SQL would answer differently: each sends the whole question to the Polars path.
ODD_ERRORS = [
    '"Fehler in Straße 12: café3 ٣ items\\u00a0"',  # Unicode \b, \d, \s differ between Rust and RE2
    '"escaped \\u00e9t\\u00e9 42"',  # an escape decoding to non-ASCII
    '{"type": "a", "type": "b"}',  # duplicate keys: Polars reads the last, DuckDB the first
    '{"code": -0, "message": "negative zero"}',  # Polars writes -0.0, DuckDB 0
    '{"code": 1e2, "message": "float code"}',  # 100.0 written two ways
    '{"message": {"nested": "object"}}',  # an object's text written two ways
    "[1, 2]",
    "429",
    "not json at all",
]


@pytest.mark.parametrize("odd", ODD_ERRORS)
def test_odd_errors_fall_back_to_polars(odd: str) -> None:
    frame = _errors_frame([*PLAIN_ERRORS, odd])
    assert _sql(ToolContext(frame)) is None
    # ...and the tool's answer is the oracle's, whatever path ran.
    result = common_errors(ToolContext(frame))
    expected = _oracle(ToolContext(frame))
    assert_frame_equal(
        result.first(Table).frame.drop("share_of_traces"), expected["groups"].drop("share_of_traces", strict=False)
    )
    # Without the odd row the SQL answers again.
    assert _sql(ToolContext(_errors_frame(PLAIN_ERRORS))) is not None


@pytest.mark.parametrize("name", ["tielec-ai-workflow", "who-and-when", "openhands"])
def test_real_fixtures(fixtures_dir, name: str) -> None:
    logs = load_logs(fixtures_dir / name)
    errors = logs.filter(pl.col("error").is_not_null())
    assert errors.height
    expected = _oracle(ToolContext(logs))
    found = _sql(ToolContext(logs))
    odd = errors.filter(pl.col("error").str.contains(r"[^\x00-\x7F]|\\u")).height
    if odd:
        assert found is None  # unicode errors: the Polars path answers
    else:
        assert_same(found, expected)
    # The plain rows alone (the unicode error spans dropped) run in SQL, identical to Polars.
    plain = logs.filter(~pl.col("error").str.contains(r"[^\x00-\x7F]|\\u").fill_null(False))
    assert_same(_sql(ToolContext(plain)), _oracle(ToolContext(plain)))


# -- the regex dialects ---------------------------------------------------------------------------------
def _rust(pattern: str, text: str) -> bool:
    return pl.select(pl.lit(text).str.contains(pattern)).item()


def _re2(pattern: str, text: str) -> bool:
    with duckdb.connect() as con:
        return con.execute("SELECT regexp_matches($1, $2)", [text, pattern]).fetchall()[0][0]


@pytest.mark.parametrize(
    ("pattern", "text", "rust", "re2"),
    [
        (r"a\sb", "a\x0bb", True, False),  # RE2's \s is [\t\n\f\r ]: no vertical tab
        (r"a\sb", "a\u00a0b", True, False),  # Unicode spaces
        (r"\d", "\u0663", True, False),  # Arabic-Indic three
        (r"\bx", "\u00e9x", False, True),  # é is a word character for Rust only
        (r"^\w+$", "caf\u00e9", True, False),
    ],
)
def test_rust_and_re2_differ_outside_ascii(pattern: str, text: str, rust: bool, re2: bool) -> None:
    assert _rust(pattern, text) is rust
    assert _re2(pattern, text) is re2
    if text.isascii():  # the spelling errors_sql uses agrees with Rust on ASCII
        assert _re2(errors_sql.re2(pattern), text) is rust


@pytest.mark.parametrize("pattern", [r"a\sb", r"[\s:-]+x", r"[^\s'\"]+", r"\S+\s*"])
def test_re2_spelling_agrees_on_ascii(pattern: str) -> None:
    for text in ["a b", "a\x0bb", "a\tb", "\x0c:-x", "ab'c d", "x\x0b", "\x1cx"]:
        assert _re2(errors_sql.re2(pattern), text) is _rust(pattern, text), (pattern, text)


def test_clickhouse_like_sources_keep_polars(frame: pl.DataFrame) -> None:
    class NoEngine:  # a pushed-down source without a LogEngine (the ClickHouse backends)
        engine = None

    ctx = ToolContext(frame)
    ctx.source = NoEngine()
    assert errors_sql.engine_of(ctx) is None


def test_model_masks_do_not_depend_on_the_hash_seed() -> None:
    """Two model names of one length that overlap: the one first by name is masked first, in every
    process (the order was a set's, which the hash seed decides)."""
    import os
    import subprocess
    import sys

    code = (
        "from loop_jupyter.tools.text import normalize_message; import polars as pl;"
        "print(pl.select(normalize_message(pl.lit('x abc-xy'), ['bc-xy', 'abc-x'])).item())"
    )
    seen = set()
    for seed in range(6):
        env = dict(os.environ, PYTHONHASHSEED=str(seed))
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        seen.add(out.stdout.strip())
    assert seen == {"x <model>y"}


def test_group_ties_break_on_kind_then_type() -> None:
    # Same message and counts, three error types: the groups come in kind order, on both paths.
    errors = ['{"type": "ZetaError", "message": "boom"}', '{"type": "AlphaError", "message": "boom"}',
              '{"type": "MidError", "message": "boom"}']  # fmt: skip
    frame = _errors_frame(errors * 2)
    frame = frame.with_columns(root_span_id=pl.Series([f"t{i}" for i in range(6)]))
    expected = ["AlphaError", "MidError", "ZetaError"]
    assert _oracle(ToolContext(frame))["groups"].get_column("kind").to_list() == expected
    assert _sql(ToolContext(frame))["groups"].get_column("kind").to_list() == expected
