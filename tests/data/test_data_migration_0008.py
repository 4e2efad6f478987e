"""Migration 0008 (flowrun_login_failure): up from 0007 and back, on each backend, with
nothing else touched; a database left at 0007 still reads runs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from runfactory import temporary_pg_database
from sqlalchemy import inspect, text

from data import migrate, signin
from data.accounts import create_user
from data.db import build_engine

TABLE = "flowrun_login_failure"
INDEXES = {"ix_flowrun_login_failure_key_hash_at", "ix_flowrun_login_failure_at"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    request.getfixturevalue("pg_database_url")  # skips (or fails in CI) without PostgreSQL
    with temporary_pg_database("flowruns_m8") as url:
        yield url


def test_0008_up_and_down(fresh_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("data.passwords.ROUNDS", 4)
    migrate.upgrade(fresh_url, "0007")
    engine = build_engine(fresh_url)
    try:
        before = set(inspect(engine).get_table_names())
        assert TABLE not in before
        migrate.upgrade(fresh_url)
        inspector = inspect(engine)
        assert set(inspector.get_table_names()) == before | {TABLE}
        assert {i["name"] for i in inspector.get_indexes(TABLE)} == INDEXES
        create_user(engine, "alice", password="alice passphrase")
        limits = signin.Limits(5, 20, timedelta(minutes=15))
        with pytest.raises(signin.SignInRefused):
            signin.sign_in(engine, "alice", "wrong password", "c1", limits)
        with engine.connect() as conn:
            assert conn.execute(text(f"SELECT count(*) FROM {TABLE}")).scalar() == 2
        migrate.downgrade(fresh_url, "0007")
        assert set(inspect(engine).get_table_names()) == before
        with engine.connect() as conn:  # the accounts stay: 0008 only adds the counts
            names = conn.execute(text('SELECT username FROM "user"')).scalars().all()
        assert names == ["alice"]
        migrate.upgrade(fresh_url)
        assert TABLE in inspect(engine).get_table_names()
    finally:
        engine.dispose()
