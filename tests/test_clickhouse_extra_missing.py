"""Without the [clickhouse] extra (chdb, clickhouse-connect: a plain `pip install loop_jupyter`), every
ClickHouse entry point says which extra to install, and writes nothing. `import --to chdb:///dir`
crashed with a ModuleNotFoundError traceback (exit 1) after making the directory."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import loop_jupyter as lj
from loop_jupyter import cli
from loop_jupyter.sources.duckdb_store import StoreError

EXTRA = "pip install 'loop_jupyter[clickhouse]'"


@pytest.fixture
def no_clickhouse(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if neither client were installed: importing them raises ModuleNotFoundError."""
    for name in ("chdb", "chdb.session", "clickhouse_connect"):
        monkeypatch.setitem(sys.modules, name, None)


def test_import_to_chdb_names_the_extra_and_writes_nothing(
    no_clickhouse: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = tmp_path / "logs.jsonl"
    assert cli.main(["demo", str(logs), "--traces", "5"]) == 0
    capsys.readouterr()
    target = tmp_path / "db"
    assert cli.main(["import", str(logs), "--to", f"chdb:///{target}"]) == 2  # usage: install something
    err = capsys.readouterr().err
    assert EXTRA in err, err
    assert "Traceback" not in err, err
    assert not target.exists()


@pytest.mark.parametrize(
    ("url", "client"),
    [
        ("chdb:///{tmp}", "chdb"),
        ("clickhouse://reader:pw@127.0.0.1:1/default?schema=langfuse_v3", "clickhouse_connect"),
    ],
)
def test_connect_names_the_extra(no_clickhouse: None, tmp_path: Path, url: str, client: str) -> None:
    with pytest.raises(StoreError, match=rf"needs? {client}: .*loop_jupyter\[clickhouse\]"):
        lj.connect(url.format(tmp=tmp_path))


def test_sql_over_chdb_names_the_extra(no_clickhouse: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["sql", "SELECT count(*) FROM logs", "--logs", f"chdb:///{tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert EXTRA in err and "Traceback" not in err, err
