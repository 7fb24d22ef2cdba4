from __future__ import annotations

import os
from pathlib import Path

import pytest

# Loops write their runs under <workdir>/.loop/runs (workdir defaults to the current folder: the
# checkout). Off for the suite; tests of the run log turn it on with Loop(..., log_runs=True).
os.environ.setdefault("LOOP_JUPYTER_LOG_RUNS", "0")

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The real trace fixtures written by other projects (../shared/fixtures beside the checkout)."""
    if not FIXTURES.is_dir():
        pytest.fail(f"fixtures not found at {FIXTURES}: shared/ must sit beside the checkout")
    return FIXTURES


@pytest.fixture
def no_real_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No API key, base URL, allow-list or config file of the machine reaches the test: every
    model request goes to a fake server on 127.0.0.1 or nowhere."""
    names = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_BASE_URL", "LOOP_JUPYTER_MODELS")
    for name in (*names, "LOOP_JUPYTER_COMPATIBLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOOP_JUPYTER_CONFIG", str(tmp_path / "none.toml"))


@pytest.fixture(scope="session")
def chdb_tables(tmp_path_factory: pytest.TempPathFactory, fixtures_dir: Path):
    """One chDB database for the whole session (tests/clickhouse_tables.py ``build_all``): the
    fixtures in every ClickHouse schema plus the demo logs imported into ``loop_spans``. Returns
    (path, frames, row counts). Tests that write add tables of their own, never rows to these."""
    pytest.importorskip("chdb")
    from tests import clickhouse_tables

    folder = tmp_path_factory.mktemp("chdb_session")
    path = str(folder / "db")
    frames, counts = clickhouse_tables.build_all(path, fixtures_dir, folder / "demo.jsonl")
    return path, frames, counts
