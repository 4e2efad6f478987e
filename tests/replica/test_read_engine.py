"""The read engine without a replica: unset means the primary for everything; a configured
read URL gets a read-only engine (SQLite: query_only) and is named in errors, never echoed."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from reliability.reliakit import API, make_tenant
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from api.app import create_app
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


def test_api_routes_reads_to_the_read_url_and_writes_to_the_primary(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two SQLite files stand in for a primary and a replica that has not caught up."""
    tenant = make_tenant(get_engine(sqlite_url), "reader")
    stale_copy = tmp_path / "replica.db"
    shutil.copy(make_url(sqlite_url).database or "", stale_copy)
    replica_url = f"sqlite:///{stale_copy}"
    monkeypatch.setenv("FLOWRUNS_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("FLOWRUNS_READ_DATABASE_URL", replica_url)
    get_settings.cache_clear()
    with TestClient(create_app()) as client:
        created = client.post(
            API + "/", json={"flow_id": str(tenant.flow_id)}, headers=tenant.headers
        )
        assert created.status_code == 201  # on the primary: the copy is read-only
        run_id = created.json()["id"]
        assert client.get(f"{API}/{run_id}", headers=tenant.headers).status_code == 404
        listed = client.get(API + "/", headers=tenant.headers)
        assert listed.headers["X-Total-Count"] == "0"
    # An app made for one database reads from it, whatever the environment says.
    with TestClient(create_app(sqlite_url)) as client:
        assert client.get(f"{API}/{run_id}", headers=tenant.headers).status_code == 200
