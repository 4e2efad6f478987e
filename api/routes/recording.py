"""Recording runs for runners that report over HTTP: start (POST) and finish (PATCH)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response, status
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from api.deps import EngineDep, PrincipalDep, scoped
from api.errors import ERROR_RESPONSES
from api.routes.runs import NOT_FOUND
from api.schemas import ErrorResponse, FlowRunRead, RunCreate, RunFinish
from api.strict import StrictJSONRoute
from data import queries as q
from data.accounts import may_record_on
from data.errors import NotFound
from data.filters import FlowRunFilter
from data.recorder import finish_run, start_run

router = APIRouter(route_class=StrictJSONRoute)

UNKNOWN_FLOW: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such flow, or not the caller's"}
}
MALFORMED_BODY: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "The body is not valid JSON"},
    413: {"model": ErrorResponse, "description": "The body is larger than the limit"},
    415: {"model": ErrorResponse, "description": "The body is not declared as JSON"},
}
ALREADY_FINISHED: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorResponse, "description": "The run has already finished"}
}


def read_run(engine: Engine, run_id: uuid.UUID, scope: FlowRunFilter) -> q.RunRecord:
    found = q.get_run(engine, run_id, scope)
    if found is None:  # deleted between the write and this read
        raise NotFound(f"Flow run {run_id} not found")
    return found


@router.post(
    "/",
    status_code=status.HTTP_201_CREATED,
    response_model=FlowRunRead,
    responses={**MALFORMED_BODY, **UNKNOWN_FLOW, **ERROR_RESPONSES},
    summary="Record the start of a run (status running)",
)
def create_run(
    body: RunCreate, response: Response, engine: EngineDep, principal: PrincipalDep
) -> q.RunRecord:
    """Only on a flow the caller owns (a superuser: any flow); any other flow id answers
    the same 404 as a missing one."""
    if not may_record_on(engine, principal, body.flow_id):
        raise NotFound(f"Flow {body.flow_id} not found")
    try:
        run_id = start_run(
            engine,
            body.flow_id,
            user_id=principal.user_id,
            session_id=body.session_id,
            trigger_type=body.trigger_type.value,
            inputs=body.inputs,
            metadata=body.metadata,
        )
    except IntegrityError:  # the flow_id foreign key: no such flow
        raise NotFound(f"Flow {body.flow_id} not found") from None
    response.headers["Location"] = f"/api/v1/flow-runs/{run_id}"
    return read_run(engine, run_id, scoped(FlowRunFilter(), principal))


@router.patch(
    "/{run_id}",
    response_model=FlowRunRead,
    responses={**MALFORMED_BODY, **NOT_FOUND, **ALREADY_FINISHED, **ERROR_RESPONSES},
    summary="Record how a run ended (server sets ended_at and duration_ms)",
)
def finish(
    run_id: uuid.UUID, body: RunFinish, engine: EngineDep, principal: PrincipalDep
) -> q.RunRecord:
    scope = scoped(FlowRunFilter(), principal)
    finish_run(
        engine,
        run_id,
        body.status,
        outputs=body.outputs,
        error_type=body.error_type,
        error_message=body.error_message,
        components_executed=body.components_executed,
        scope=scope,
        total_tokens=body.total_tokens,
        steps=None if body.steps is None else [s.model_dump() for s in body.steps],
    )
    return read_run(engine, run_id, scope)
