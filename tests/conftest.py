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
