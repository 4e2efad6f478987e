"""Fixtures for the data-layer tests (the ``engine`` fixture comes from tests/conftest.py)."""

from __future__ import annotations

import pytest
from runfactory import World, make_world
from sqlalchemy import Engine


@pytest.fixture
def world(engine: Engine) -> World:
    """Two users and three flows (alpha, bravo, charlie) in an empty database."""
    return make_world(engine)
