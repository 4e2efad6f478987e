"""One run's steps: its timeline, and where its time went."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import PrincipalDep, ReadEngineDep, scoped
from api.errors import ERROR_RESPONSES
from api.routes.runs import NOT_FOUND
from data import queries as q
from data.errors import NotFound
from data.filters import FlowRunFilter
from data.steps.queries import run_steps, where_time_went

router = APIRouter()


class StepRead(BaseModel):
    id: uuid.UUID
    parent_id: uuid.UUID | None
    position: int
    name: str
    step_type: str | None
    status: str
    started_at: datetime | None
    ended_at: datetime | None
    latency_ms: int | None
    inputs: Any = None
    outputs: Any = None
    error: str | None
    model: str | None
    input_tokens: int | None
    output_tokens: int | None


class TimeSpentRead(BaseModel):
    slowest_step_id: uuid.UUID | None
    in_steps_ms: float = Field(description="The union of the top-level steps' intervals")
    outside_ms: float = Field(description="The run's duration no top-level step covers")
    outside_share: float | None = Field(description="outside_ms / duration_ms, 0..1")


class StepsRead(BaseModel):
    run_id: uuid.UUID
    steps: list[StepRead]
    where_time_went: TimeSpentRead


@router.get(
    "/{run_id}/steps",
    response_model=StepsRead,
    responses={**NOT_FOUND, **ERROR_RESPONSES},
    summary="A run's steps (components), in order, and where its time went",
)
def get_steps(run_id: uuid.UUID, engine: ReadEngineDep, principal: PrincipalDep) -> StepsRead:
    scope = scoped(FlowRunFilter(), principal)
    run = q.get_run(engine, run_id, scope)
    if run is None:
        raise NotFound(f"Flow run {run_id} not found")
    steps = run_steps(engine, run_id, scope)
    spent = where_time_went(run.duration_ms, steps)
    return StepsRead(
        run_id=run_id,
        steps=[StepRead.model_validate(step, from_attributes=True) for step in steps],
        where_time_went=TimeSpentRead(
            slowest_step_id=spent.slowest.id if spent.slowest else None,
            in_steps_ms=spent.in_steps_ms,
            outside_ms=spent.outside_ms,
            outside_share=spent.outside_share,
        ),
    )
