"""Liveness and readiness probes (no API key needed)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import Engine, text

from api.deps import EngineDep
from api.errors import ERROR_RESPONSES
from api.schemas import Health
from data.db import DatabaseUnavailable
from data.migrate import schema_present

router = APIRouter(tags=["health"])


def check_database(engine: Engine) -> None:
    """Raise unless the database answers and holds our tables (a probe, not a query)."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    if not schema_present(engine):
        raise DatabaseUnavailable("Database schema missing: run `flowruns init-db`")


@router.get("/healthz", summary="The process is up (does not touch the database)")
def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="The database is reachable and migrated",
    responses={503: ERROR_RESPONSES[503]},
)
def readyz(engine: EngineDep) -> Health:
    check_database(engine)
    return Health(status="ready")
