"""Deleting runs: one by id, or many with protections (filter required, active runs kept)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from sqlalchemy import Engine

from api.deps import EngineDep, PrincipalDep, require_writable, scope_user_id, scoped
from api.errors import ERROR_RESPONSES
from api.params import RequestFilter
from api.routes.runs import NOT_FOUND
from api.schemas import DeleteResult, ErrorResponse
from data.accounts import Principal
from data.audit import AuditContext
from data.audit_quota import TooManyDryRuns, check_dry_run_quota
from data.delete_guard import require_all_for_everything
from data.deletion import delete_run, delete_runs
from data.errors import InvalidQuery, NotFound
from data.filters import FlowRunFilter
from data.settings import get_settings

router = APIRouter(dependencies=[Depends(require_writable)])

READ_ONLY: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorResponse, "description": "The deployment is read-only"}
}
REFUSED: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Refused: no filter, or active runs named"},
    429: {
        "model": ErrorResponse,
        "description": "A regular user's dry runs are capped (FLOWRUNS_DRY_RUNS_PER_HOUR); "
        "see Retry-After",
    },
}


def audit_context(principal: Principal) -> AuditContext:
    return AuditContext.api(principal.user_id, principal.username)


def _within_dry_run_quota(engine: Engine, principal: Principal) -> None:
    """429 with Retry-After once a regular user's audited dry runs reach the hourly cap."""
    try:
        check_dry_run_quota(engine, principal.user_id, get_settings().dry_runs_per_hour)
    except TooManyDryRuns as exc:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            str(exc),
            headers={"Retry-After": str(exc.retry_after_s)},
        ) from None


def deleted_message(count: int, dry_run: bool) -> str:
    return f"{'Would delete' if dry_run else 'Deleted'} {count} flow run(s)"


@router.delete(
    "/{run_id}",
    responses={**NOT_FOUND, **READ_ONLY, **ERROR_RESPONSES},
    summary="Delete one run",
)
def delete_one(run_id: uuid.UUID, engine: EngineDep, principal: PrincipalDep) -> DeleteResult:
    scope = scoped(FlowRunFilter(), principal)
    if not delete_run(engine, run_id, scope=scope, audit=audit_context(principal)):
        raise NotFound(f"Flow run {run_id} not found")
    return DeleteResult(deleted=1, message=deleted_message(1, False))


@router.delete(
    "/",
    responses={**REFUSED, **READ_ONLY, **ERROR_RESPONSES},
    summary="Delete matching runs, in batches",
)
def delete_many(
    engine: EngineDep,
    principal: PrincipalDep,
    flt: RequestFilter,
    older_than_days: Annotated[
        int | None, Query(ge=0, le=36500, description="Only runs started before now - N days")
    ] = None,
    delete_all: Annotated[
        bool,
        Query(alias="all", description="Required when the request would delete every run"),
    ] = False,
    include_active: Annotated[
        bool, Query(description="Also delete pending/running runs (kept by default)")
    ] = False,
    dry_run: Annotated[bool, Query(description="Only count what would be deleted")] = False,
) -> DeleteResult:
    """Refuses (400) without any filter, or with a filter that matches every deletable
    run of the caller, unless `all=true`; never deletes pending or running runs unless
    `include_active=true`. A regular user deletes only their runs."""
    request: dict[str, Any] = {
        "older_than_days": older_than_days,
        "delete_all": delete_all,
        "include_active": include_active,
        "scope_user_id": scope_user_id(principal),
    }
    if dry_run and not principal.is_superuser:
        _within_dry_run_quota(engine, principal)
    try:
        require_all_for_everything(engine, flt, **request)
        count = delete_runs(engine, flt, dry_run=dry_run, audit=audit_context(principal), **request)
    except InvalidQuery as exc:  # the protections: a refused request, not a malformed one
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    return DeleteResult(deleted=count, dry_run=dry_run, message=deleted_message(count, dry_run))
