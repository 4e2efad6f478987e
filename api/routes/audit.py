"""The audit log of deletes: a superuser reads every entry, a user only their own."""

from __future__ import annotations

import contextlib
import itertools
import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from api.deps import PrincipalDep, ReadEngineDep, current_principal, scope_user_id
from api.errors import ERROR_RESPONSES
from data.audit import AuditRecord, iter_csv, list_entries
from data.models import utcnow
from data.stored_time import unreadable_fields

AUDIT_PREFIX = "/api/v1/audit"
router = APIRouter(prefix=AUDIT_PREFIX, tags=["audit"], dependencies=[Depends(current_principal)])


class AuditEntryRead(BaseModel):
    id: uuid.UUID
    # Null only when the stored time is unreadable (then named in ``unreadable``).
    at: datetime | None = Field(description="When the operation was asked for (UTC)")
    updated_at: datetime | None = Field(description="Last progress update (after each batch)")
    finished_at: datetime | None
    actor: str = Field(description='User name, or "cli:<os user>", "dashboard:<os user>"')
    actor_user_id: uuid.UUID | None
    surface: str = Field(description="api, cli, dashboard or library")
    action: str = Field(description="delete_run, bulk_delete, prune or sweep")
    criteria: Any = Field(description="The exact filter or policy applied, as JSON")
    dry_run: bool
    matched: int | None = Field(description="Runs the criteria matched")
    affected: int = Field(description="Runs deleted (or marked failed, for sweep) so far")
    batches: int = Field(description="Batches committed so far")
    status: str = Field(description="running, completed, failed or interrupted")
    error: str | None
    unreadable: dict[str, str] = Field(
        default_factory=dict,
        description="Times stored unreadable (written by another program): column -> the "
        "stored value as text; those fields are null",
    )


class AuditPageRead(BaseModel):
    entries: list[AuditEntryRead]
    total: int
    limit: int
    offset: int


def _read(record: AuditRecord) -> AuditEntryRead:
    values = dict(record.__dict__)
    values["unreadable"] = unreadable_fields(values)
    values.update(dict.fromkeys(values["unreadable"]))
    # A row written by hand may hold text that is not JSON: show it as stored.
    with contextlib.suppress(ValueError):
        values["criteria"] = json.loads(record.criteria)
    return AuditEntryRead(**values)


@router.get("/", responses=ERROR_RESPONSES, summary="List audit entries, newest first")
def list_audit(
    engine: ReadEngineDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> AuditPageRead:
    """Every delete, bulk delete, prune and sweep (dry runs included) on every surface.
    A superuser sees all entries; a user only the ones they made through the API."""
    page = list_entries(engine, user_id=scope_user_id(principal), limit=limit, offset=offset)
    return AuditPageRead(
        entries=[_read(e) for e in page.entries], total=page.total, limit=limit, offset=offset
    )


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses={
        200: {"description": "The entries as CSV", "content": {"text/csv": {}}},
        **ERROR_RESPONSES,
    },
    summary="Export audit entries as CSV",
)
def export_audit(engine: ReadEngineDep, principal: PrincipalDep) -> StreamingResponse:
    chunks = iter_csv(engine, user_id=scope_user_id(principal))
    # Read the first chunk before answering: an unreachable database is a 503, not a cut stream.
    body: Iterator[str] = itertools.chain(list(itertools.islice(chunks, 1)), chunks)
    filename = f"flowrun-audit-{utcnow():%Y%m%dT%H%M%SZ}.csv"
    return StreamingResponse(
        body,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
