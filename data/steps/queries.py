"""Reading steps: one run's timeline, where its time went, and per-component aggregates
over the runs a filter selects (computed in SQL)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine, and_, case, func, select

from data.errors import NotFound
from data.filters import FlowRunFilter
from data.models import FlowRun
from data.queries.common import percentiles
from data.sql_functions import duration_percentiles
from data.steps.tables import Step
from data.stored_time import UnreadableTime
from data.types import as_utc

STEP_FIELDS = (
    "id",
    "parent_id",
    "position",
    "name",
    "step_type",
    "status",
    "started_at",
    "ended_at",
    "latency_ms",
    "inputs",
    "outputs",
    "error",
    "model",
    "input_tokens",
    "output_tokens",
)


@dataclass(frozen=True)
class StepRecord:
    id: uuid.UUID
    parent_id: uuid.UUID | None
    position: int
    name: str
    step_type: str | None
    status: str
    started_at: datetime | None
    ended_at: datetime | None
    latency_ms: int | None
    inputs: Any
    outputs: Any
    error: str | None
    model: str | None
    input_tokens: int | None
    output_tokens: int | None


def run_steps(
    engine: Engine, run_id: uuid.UUID, scope: FlowRunFilter | None = None
) -> list[StepRecord]:
    """The steps of one run in order; ``NotFound`` when the run is absent or outside
    ``scope`` (the same answer either way)."""
    where = (scope or FlowRunFilter()).where()
    with engine.connect() as conn:
        if conn.execute(select(FlowRun.id).where(FlowRun.id == run_id, where)).first() is None:
            raise NotFound(f"Flow run {run_id} not found")
        found = conn.execute(
            select(*(getattr(Step, name) for name in STEP_FIELDS))
            .where(Step.run_id == run_id)
            .order_by(Step.position)
        ).all()
    # A step time another program stored unreadable (data.stored_time) is a step without
    # that time: it is listed, not drawn.
    return [
        StepRecord(*[None if isinstance(v, UnreadableTime) else v for v in row])  # type: ignore[arg-type]
        for row in found
    ]


@dataclass(frozen=True)
class TimeSpent:
    slowest: StepRecord | None
    in_steps_ms: float  # the union of the components' intervals
    outside_ms: float  # the run's duration not covered by any component
    outside_share: float | None  # of the run's duration, 0..1


def where_time_went(duration_ms: int | None, steps: list[StepRecord]) -> TimeSpent:
    """The slowest component, and how much of the run's duration no component covers
    (Langflow's error handling, queueing, graph building)."""
    roots = [s for s in steps if s.parent_id is None]
    timed = [s for s in roots if s.latency_ms is not None]
    slowest = max(timed, key=lambda s: s.latency_ms or 0, default=None)
    intervals = sorted(
        (as_utc(s.started_at), as_utc(s.ended_at))
        for s in roots
        if s.started_at is not None and s.ended_at is not None and s.ended_at >= s.started_at
    )
    covered, end = 0.0, None
    for start, stop in intervals:
        if end is None or start > end:
            covered += (stop - start).total_seconds() * 1000
            end = stop
        elif stop > end:
            covered += (stop - end).total_seconds() * 1000
            end = stop
    if not duration_ms or duration_ms <= 0:
        return TimeSpent(slowest, covered, 0.0, None)
    outside = max(0.0, duration_ms - covered)
    return TimeSpent(slowest, covered, outside, outside / duration_ms)


COMPONENT_COLUMNS = [
    "component",
    "runs",
    "failures",
    "failure_rate",
    "p50_ms",
    "p95_ms",
    "first_failures",
]


def component_stats(engine: Engine, flt: FlowRunFilter) -> pd.DataFrame:
    """Per component (top-level steps) of the runs ``flt`` selects: runs, failures, p50
    and p95 latency, and how often it was the first to fail in a failed run."""
    first_failed = (
        select(Step.run_id, func.min(Step.position).label("position"))
        .join(FlowRun, FlowRun.id == Step.run_id)
        .where(flt.where(), Step.parent_id.is_(None), Step.status == "failure")
        .group_by(Step.run_id)
        .subquery()
    )
    first = and_(Step.run_id == first_failed.c.run_id, Step.position == first_failed.c.position)
    query = (
        select(
            Step.name.label("component"),
            func.count().label("runs"),
            func.sum(case((Step.status == "failure", 1), else_=0)).label("failures"),
            duration_percentiles(Step.latency_ms).label("percentiles"),
            func.count(first_failed.c.run_id).label("first_failures"),
        )
        .join(FlowRun, FlowRun.id == Step.run_id)
        .outerjoin(first_failed, first)
        .where(flt.where(), Step.parent_id.is_(None))
        .group_by(Step.name)
        .order_by(func.count().desc(), Step.name)
    )
    with engine.connect() as conn:
        found = conn.execute(query).mappings().all()
    records = []
    for row in found:
        p50, p95, _ = percentiles(row["percentiles"])
        runs, failures = int(row["runs"]), int(row["failures"] or 0)
        records.append(
            {
                "component": row["component"],
                "runs": runs,
                "failures": failures,
                "failure_rate": failures / runs if runs else None,
                "p50_ms": p50,
                "p95_ms": p95,
                "first_failures": int(row["first_failures"]),
            }
        )
    return pd.DataFrame(records, columns=COMPONENT_COLUMNS)


def tokens_by_model(engine: Engine, flt: FlowRunFilter, by_flow: bool = False) -> pd.DataFrame:
    """Input and output tokens per model (and per flow with ``by_flow``) over the runs
    ``flt`` selects, from the steps that name a model (Langflow's LLM calls; their
    components repeat the counts)."""
    keys = [FlowRun.flow_id.label("flow_id")] if by_flow else []
    query = (
        select(
            *keys,
            Step.model.label("model"),
            func.count(func.distinct(Step.run_id)).label("runs"),
            func.coalesce(func.sum(Step.input_tokens), 0).label("input_tokens"),
            func.coalesce(func.sum(Step.output_tokens), 0).label("output_tokens"),
        )
        .join(FlowRun, FlowRun.id == Step.run_id)
        .where(flt.where(), Step.model.is_not(None))
        .group_by(*keys, Step.model)
        .order_by(*keys, Step.model)
    )
    columns = ["flow_id"] * by_flow + ["model", "runs", "input_tokens", "output_tokens"]
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query).mappings().all(), columns=columns)
    for column in ("runs", "input_tokens", "output_tokens"):
        frame[column] = frame[column].astype("int64")
    return frame
