"""The committed Langflow fixture files: nothing of the machine that made them, and the
pre-1.8 fixture is what a "too old" database looks like."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from langflow_fixture import FIXTURES, LEGACY, rows, uuid_text
from sqlalchemy import create_engine


def _stored_text(fixture: Path) -> str:
    """Every text value of a SQLite fixture (read through SQL: a long value is split across
    pages in the file), or the whole text of a dump."""
    if fixture.suffix == ".sql":
        return fixture.read_text()
    conn = sqlite3.connect(f"file:{fixture}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        values = [
            str(value)
            for table in tables
            for column in [c[1] for c in conn.execute(f"PRAGMA table_info('{table}')")]
            for (value,) in conn.execute(
                f'SELECT "{column}" FROM "{table}" WHERE typeof("{column}") = \'text\''
            )
        ]
    finally:
        conn.close()
    return "\n".join(values)


@pytest.mark.parametrize(
    "fixture",
    ["1.13.0/langflow.sqlite", "1.13.0/langflow.postgresql.sql", "1.7.3/langflow.sqlite"],
)
def test_no_paths_of_the_generating_machine(fixture: str) -> None:
    """Tracebacks in chat messages name Langflow's files: the script replaces their folders."""
    packages = re.findall(r"[^\s\"'\\]*site-packages", _stored_text(FIXTURES / fixture))
    assert packages  # the tracebacks are there...
    assert {re.sub(r"python3\.\d+", "python3.X", p) for p in packages} == {
        "<langflow-venv>/lib/python3.X/site-packages"  # ...with the venv's folder replaced
    }


def test_legacy_fixture_has_no_run_identifier(tmp_path: Path) -> None:
    """Langflow 1.7.3: no trace/span/job tables and an empty transaction table; messages only."""
    manifest = json.loads((LEGACY / "manifest.json").read_text())["backends"]["sqlite"]
    copy = tmp_path / "legacy.sqlite"
    shutil.copy(LEGACY / "langflow.sqlite", copy)
    engine = create_engine(f"sqlite:///{copy}")
    tables = {r.name for r in rows(engine, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"flow", "user", "message", "transaction", "vertex_build"} <= tables
    assert not tables & {"trace", "span", "job"}
    assert rows(engine, 'SELECT count(*) AS n FROM "transaction"')[0].n == 0
    messages = {uuid_text(r.id) for r in rows(engine, "SELECT id FROM message")}
    wanted = {m for run in manifest["runs"] for m in run["message_ids"]}
    assert messages == wanted and len(wanted) == manifest["row_counts"]["message"]
    engine.dispose()
