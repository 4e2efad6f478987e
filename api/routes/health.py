"""Liveness and readiness probes (no API key needed)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import EngineDep
from api.errors import ERROR_RESPONSES
from api.schemas import Health
from data.migrate import require_schema

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up (does not touch the database)")
def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="The database is reachable and migrated",
    responses={503: ERROR_RESPONSES[503]},
)
def readyz(engine: EngineDep) -> Health:
    require_schema(engine)
    return Health(status="ready")
