"""API fixtures: a seeded ``world`` on each backend (through the shared ``engine``/``db_url``
fixtures) and a TestClient over the same database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from apiworld import World, seed_world
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app


@pytest.fixture
def world(engine: Engine) -> World:
    return seed_world(engine)


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(db_url)) as test_client:
        yield test_client
