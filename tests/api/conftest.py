"""API fixtures: a seeded ``world`` on each backend (through the shared ``engine``/``db_url``
fixtures) and a TestClient over the same database."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from apiworld import World, seed_world, truncate_all
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from data.db import build_engine


@pytest.fixture
def world(engine: Engine) -> World:
    return seed_world(engine)


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(db_url)) as test_client:
        yield test_client


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def shared_url(
    request: pytest.FixtureRequest, sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """One empty, migrated database per test module and backend: the hostile-input
    matrices run hundreds of cases against one seeded world instead of re-seeding."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("shared") / "flowruns.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url = str(request.getfixturevalue("pg_database_url"))
    truncate_all(url)
    return url


@pytest.fixture(scope="module")
def shared_engine(shared_url: str) -> Iterator[Engine]:
    built = build_engine(shared_url)
    yield built
    built.dispose()


@pytest.fixture(scope="module")
def shared_world(shared_engine: Engine) -> World:
    return seed_world(shared_engine)


@pytest.fixture(scope="module")
def shared_client(shared_url: str, shared_world: World) -> Iterator[TestClient]:
    with TestClient(create_app(shared_url), raise_server_exceptions=False) as test_client:
        yield test_client
