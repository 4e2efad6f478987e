"""Health probes and the error paths that do not need seeded data: 503 when the database
is unreachable or not migrated, and the JSON error format."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from data.db import get_engine

API = "/api/v1/flow-runs"
UNREACHABLE_PG = "postgresql+psycopg://postgres@127.0.0.1:1/flowruns"


def test_health_and_ready(db_url: str) -> None:
    client = TestClient(create_app(db_url))
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


@pytest.mark.parametrize("path", ["/readyz", API + "/", API + "/stats", API + "/export.csv"])
def test_unreachable_postgres_is_503(path: str) -> None:
    client = TestClient(create_app(UNREACHABLE_PG))
    assert client.get("/healthz").status_code == 200  # liveness does not touch the DB
    response = client.get(path, headers={"x-api-key": "frh_anything"})
    assert response.status_code == 503
    assert response.json() == {"detail": "Database unavailable: try again later"}


def test_sqlite_without_schema_is_503(tmp_path: Path) -> None:
    client = TestClient(create_app(f"sqlite:///{tmp_path / 'empty.db'}"))
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "init-db" in ready.json()["detail"]
    listing = client.get(API + "/", headers={"x-api-key": "frh_anything"})
    assert listing.status_code == 503 and "init-db" in listing.json()["detail"]


def test_default_database_comes_from_settings(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from data.settings import get_settings

    monkeypatch.setenv("FLOWRUNS_DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    client = TestClient(create_app())
    assert client.get("/readyz").status_code == 200
    assert str(get_engine(sqlite_url).url) == sqlite_url


def test_unknown_route_and_method(sqlite_url: str) -> None:
    client = TestClient(create_app(sqlite_url))
    assert client.get("/api/v2/nothing").status_code == 404
    assert client.put(API + "/", headers={"x-api-key": "frh_x"}).status_code == 405


def test_create_app_builds_nothing_at_import(sqlite_url: str) -> None:
    get_engine.cache_clear()
    create_app(sqlite_url)
    assert get_engine.cache_info().currsize == 0  # the engine comes with the first request
