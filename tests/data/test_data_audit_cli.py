"""The CLI's deletes are audited as "cli:<os user>"; `flowruns prune` applies the stored
policy (flags override it); `init-db` says when it switches an existing SQLite file to WAL."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest
from runfactory import World

from data.audit import list_entries, os_user
from data.cli.commands import WAL_NOTE
from data.cli.main import main
from data.migrate import sqlite_journal_mode
from data.models import utcnow
from data.retention import RetentionPolicy, save_policy


def cli(capsys: pytest.CaptureFixture[str], url: str, *argv: str) -> str:
    assert main(["--database-url", url, *argv]) == 0
    return capsys.readouterr().out


def test_every_cli_delete_writes_one_cli_entry(
    world: World, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    now = utcnow()
    world.add(
        world.run(status=s, started_at=now - timedelta(days=d))
        for s, d in (("success", 50), ("failure", 40), ("running", 30), ("success", 1))
    )
    cli(capsys, db_url, "delete", "--status", "failure", "--dry-run")
    cli(capsys, db_url, "prune", "--max-age-days", "45")
    cli(capsys, db_url, "sweep-stuck")
    entries = list_entries(world.engine).entries
    assert [(e.action, e.dry_run, e.affected) for e in entries] == [
        ("sweep", False, 1),
        ("prune", False, 1),
        ("bulk_delete", True, 0),
    ]
    assert {(e.surface, e.actor, e.status) for e in entries} == {
        ("cli", f"cli:{os_user()}", "completed")
    }


def test_prune_applies_the_stored_policy_and_flags_override_it(
    world: World, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    now = utcnow()
    world.add(
        world.run(status="success", started_at=now - timedelta(days=d, hours=12)) for d in range(10)
    )
    save_policy(world.engine, RetentionPolicy(max_age_days=7), "test")
    assert "would delete 3 run(s)" in cli(capsys, db_url, "prune", "--dry-run")
    override = cli(capsys, db_url, "prune", "--dry-run", "--max-age-days", "4")
    assert "would delete 6 run(s)" in override
    assert "deleted 3 run(s)" in cli(capsys, db_url, "prune")
    criteria = list_entries(world.engine).entries[0].criteria
    assert '"max_age_days": 7' in criteria


def test_init_db_says_when_it_switches_an_existing_sqlite_file_to_wal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "langflow.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE langflow_own (id INTEGER)")
    url = f"sqlite:///{path}"
    assert sqlite_journal_mode(url) == "delete"
    first = cli(capsys, url, "init-db")
    assert WAL_NOTE.format(mode="delete") in first
    assert sqlite_journal_mode(url) == "wal"
    assert "WAL" not in cli(capsys, url, "init-db")  # nothing changes the second time
    assert sqlite_journal_mode(f"sqlite:///{tmp_path / 'new.db'}") is None
    assert "WAL" not in cli(capsys, f"sqlite:///{tmp_path / 'new.db'}", "init-db")
    assert sqlite_journal_mode("postgresql+psycopg://u@h/db") is None
