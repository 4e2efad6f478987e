"""Property-based conformance: schemathesis generates requests from the app's own OpenAPI
schema (a bounded number per operation, with a valid superuser key, on SQLite) and every
response must be a non-5xx that matches the documented status codes, content types,
headers and schemas."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from apiworld import seed_world
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from data import migrate
from data.db import build_engine

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


# The schema is read from an app whose database is chosen later (the engine is created on
# the first request): the seeded fixture below points it at a fresh SQLite file.
APP = create_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module")
def admin_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path: Path = tmp_path_factory.mktemp("schemathesis") / "flowruns.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    engine = build_engine(url)
    world = seed_world(engine, runs=60)
    engine.dispose()
    APP.state.database_url = url
    yield world.keys["admin"]
    APP.state.database_url = None


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms_to_its_schema(case: Any, admin_key: str) -> None:
    case.call_and_validate(headers={"x-api-key": admin_key}, checks=CHECKS)
