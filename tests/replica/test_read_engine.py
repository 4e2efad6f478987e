"""The read engine without a replica: unset means the primary for everything; a configured
read URL gets a read-only engine (SQLite: query_only) and is named in errors, never echoed."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from data.cli.main import main as cli_main
from data.db import InvalidDatabaseUrl, get_engine, get_read_engine
from data.settings import get_settings


def test_unset_read_url_reads_from_the_primary(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWRUNS_DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    assert get_settings().resolved_read_database_url == sqlite_url
    assert get_read_engine() is get_engine(sqlite_url)
    with get_read_engine().begin() as conn:  # the primary itself: writes are allowed
        conn.execute(text("CREATE TABLE read_probe (x INTEGER)"))


def test_sqlite_read_engine_reads_and_refuses_writes(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWRUNS_READ_DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    engine = get_read_engine()
    assert engine is not get_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM flow_run")).scalar_one() == 0
    with pytest.raises(OperationalError, match="readonly"), engine.begin() as conn:
        conn.execute(
            text("INSERT INTO flow (id, name) VALUES (:id, 'x')"), {"id": uuid.uuid4().hex}
        )
    with get_engine(sqlite_url).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM flow")).scalar_one() == 0


def test_a_bad_read_url_is_named_and_not_echoed(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret_url = "mysql://reader:s3cret@replica/flowruns"
    with pytest.raises(InvalidDatabaseUrl) as raised:
        get_read_engine(secret_url)
    assert "s3cret" not in str(raised.value)
    monkeypatch.setenv("FLOWRUNS_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("FLOWRUNS_READ_DATABASE_URL", secret_url)
    get_settings.cache_clear()
    assert cli_main(["stats"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "FLOWRUNS_READ_DATABASE_URL" in err and "s3cret" not in err
    # A write command does not touch the read URL at all.
    assert cli_main(["user", "create", "writer"]) == 0
