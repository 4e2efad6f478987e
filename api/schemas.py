"""Request and response bodies. Runs reuse the data layer's ``RunRecord`` fields."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from api.params import MAX_INT32
from data.models import TriggerType
from data.queries import RunRecord, RunStats
from data.recorder import MAX_ERROR_MESSAGE_CHARS
from data.sql_functions import USABLE_TOKENS as MAX_COUNT
from data.steps.record import MAX_STEPS


def _without_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it on every backend alike.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_without_nul)]


class FlowRunRead(RunRecord):
    """One run, with its flow's and user's names."""


class ErrorResponse(BaseModel):
    """Every error body: one readable line."""

    detail: str


class DeleteResult(BaseModel):
    deleted: int = Field(description="Runs deleted (or that would be, with dry_run)")
    dry_run: bool = False
    message: str


class RunCreate(BaseModel):
    """A runner reports that a run has started."""

    model_config = ConfigDict(extra="forbid")

    flow_id: uuid.UUID
    trigger_type: TriggerType = TriggerType.API
    session_id: Text | None = Field(default=None, max_length=500)
    inputs: Any = None
    metadata: Any = None


class StepIn(BaseModel):
    """One step (component) of a run, as a runner reports it."""

    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=500)
    step_type: Text | None = Field(default=None, max_length=50)
    status: Literal["success", "failure", "cancelled", "running"] = "success"
    started_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    latency_ms: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    inputs: Any = None
    outputs: Any = None
    error: Text | None = Field(default=None, max_length=MAX_ERROR_MESSAGE_CHARS)
    model: Text | None = Field(default=None, max_length=200)
    input_tokens: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    output_tokens: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    parent: int | None = Field(
        default=None, ge=0, description="The index in `steps` of this step's parent"
    )


class RunFinish(BaseModel):
    """A runner reports how a run ended; the server sets ended_at and duration_ms."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["success", "failure", "cancelled"]
    outputs: Any = None
    error_type: Text | None = Field(default=None, max_length=200)
    error_message: Text | None = Field(default=None, max_length=MAX_ERROR_MESSAGE_CHARS)
    components_executed: int | None = Field(default=None, ge=0, le=MAX_INT32)
    total_tokens: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    steps: list[StepIn] | None = Field(default=None, max_length=MAX_STEPS)


class PeriodStats(BaseModel):
    """KPIs of one period. Rates are percentages (0..100), durations milliseconds."""

    total_runs: int
    success_count: int
    failure_count: int
    cancelled_count: int
    running_count: int
    pending_count: int
    other_count: int = Field(description="Runs whose status is none of the five known ones")
    success_rate: float | None = Field(
        description="success / finished (success + failure + cancelled) runs, in percent; "
        "null when nothing finished"
    )
    without_duration: int = Field(description="Runs with no duration, left out of durations")
    avg_duration_ms: float | None
    p50_duration_ms: float | None
    p95_duration_ms: float | None
    p99_duration_ms: float | None
    max_duration_ms: int | None
    trigger_counts: dict[str, int]
    status_counts: dict[str, int]
    period_days: float
    started_after: datetime | None
    started_before: datetime | None
    approximate: bool = Field(
        default=False,
        description="True when the percentiles (and max) came from the rollup's duration "
        "histograms: within 2% of the exact values; `exact=true` computes them from raw rows",
    )
    total_tokens: int | None = Field(
        default=None,
        description="Tokens of the runs that recorded a count; null where the database's "
        "flow_run has no total_tokens column (another application's table)",
    )
    runs_with_tokens: int = Field(default=0, description="Runs that recorded a token count")

    @classmethod
    def from_stats(
        cls, stats: RunStats, started_after: datetime | None, started_before: datetime | None
    ) -> PeriodStats:
        rate = stats.success_rate
        span = (started_before - started_after) if started_after and started_before else None
        return cls(
            total_runs=stats.total,
            success_count=stats.status_counts.get("success", 0),
            failure_count=stats.status_counts.get("failure", 0),
            cancelled_count=stats.status_counts.get("cancelled", 0),
            running_count=stats.status_counts.get("running", 0),
            pending_count=stats.status_counts.get("pending", 0),
            other_count=stats.other,
            success_rate=round(rate * 100, 2) if rate is not None else None,
            without_duration=stats.without_duration,
            avg_duration_ms=stats.avg_duration_ms,
            p50_duration_ms=stats.p50_duration_ms,
            p95_duration_ms=stats.p95_duration_ms,
            p99_duration_ms=stats.p99_duration_ms,
            max_duration_ms=stats.max_duration_ms,
            trigger_counts=stats.trigger_counts,
            status_counts=stats.status_counts,
            period_days=span.total_seconds() / 86400 if span else 0.0,
            started_after=started_after,
            started_before=started_before,
            approximate=stats.approximate,
            total_tokens=stats.total_tokens if stats.tokens_recorded else None,
            runs_with_tokens=stats.token_runs,
        )


class StatsResponse(PeriodStats):
    previous: PeriodStats | None = Field(description="The equally long period just before")


class OutcomeStats(BaseModel):
    """Counts per status and durations of a group of runs (a time bucket, a flow)."""

    runs: int
    pending: int
    running: int
    success: int
    failure: int
    cancelled: int
    other: int = Field(description="Runs in no known status: the status columns add up to runs")
    without_duration: int = Field(description="Runs with no duration, left out of durations")
    avg_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    success_rate: float | None = Field(description="Percent of finished runs; null if none")


class TimeseriesPoint(OutcomeStats):
    bucket: datetime


class TimeseriesResponse(BaseModel):
    bucket: Literal["hour", "day", "week"]
    started_after: datetime | None
    started_before: datetime | None
    points: list[TimeseriesPoint]
    approximate: bool = Field(
        default=False,
        description="True when the percentiles (and max) came from the rollup's duration "
        "histograms: within 2% of the exact values; `exact=true` computes them from raw rows",
    )


class FlowStats(OutcomeStats):
    flow_id: uuid.UUID
    flow_name: str | None
    last_run_at: datetime | None
    last_failure_at: datetime | None
    approximate: bool = Field(
        default=False,
        description="True when the percentiles (and max) came from the rollup's duration "
        "histograms: within 2% of the exact values; `exact=true` computes them from raw rows",
    )


class Health(BaseModel):
    status: str
