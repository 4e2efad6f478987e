"""KPIs, time series and per-flow breakdown over a time window (default: the last 7 days)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Query

from api.deps import ReadEngineDep
from api.errors import ERROR_RESPONSES
from api.params import Days, ScopedFilter, with_window
from api.schemas import FlowStats, PeriodStats, StatsResponse, TimeseriesResponse
from data import queries as q

router = APIRouter()
Exact = Annotated[
    bool,
    Query(
        description="Compute percentiles from raw rows; by default large ranges read them "
        "from the rollup's histograms (within 2%, flagged `approximate`)"
    ),
]


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain dicts for the response models (NaN/NaT -> None, rates -> percent)."""
    if "success_rate" in frame:
        frame = frame.assign(success_rate=frame["success_rate"] * 100)
    plain = frame.astype(object).where(frame.notna(), None)
    return [{str(k): v for k, v in row.items()} for row in plain.to_dict("records")]


@router.get("/stats", responses=ERROR_RESPONSES, summary="KPIs for a period, with the previous")
def get_stats(
    engine: ReadEngineDep, flt: ScopedFilter, days: Days = None, exact: Exact = False
) -> StatsResponse:
    """Counts, success rate (percent of finished runs), average and p50/p95/p99 duration,
    and the same values for the equally long period just before (`previous`)."""
    window = with_window(flt, days)
    stats = q.run_stats(engine, window, exact=exact or None)
    current = PeriodStats.from_stats(stats, window.started_after, window.started_before)
    previous_window = window.previous_period()
    previous = None
    if stats.previous is not None and previous_window is not None:
        previous = PeriodStats.from_stats(
            stats.previous, previous_window.started_after, previous_window.started_before
        )
    return StatsResponse(**current.model_dump(), previous=previous)


@router.get("/stats/timeseries", responses=ERROR_RESPONSES, summary="Runs per time bucket")
def get_timeseries(
    engine: ReadEngineDep,
    flt: ScopedFilter,
    days: Days = None,
    bucket: Annotated[
        Literal["hour", "day", "week"] | None, Query(description="Default: chosen by range")
    ] = None,
    tz: Annotated[
        str,
        Query(
            max_length=64,
            description="IANA time zone whose hours/days/weeks (Monday) make the buckets",
        ),
    ] = "UTC",
    exact: Exact = False,
) -> TimeseriesResponse:
    """Per bucket of the zone `tz` (each point's `bucket` is the UTC instant it starts):
    runs per status, average/p50/p95 duration and success rate. Empty buckets inside the
    window are included with zero runs."""
    window = with_window(flt, days)
    frame = q.run_timeseries(engine, window, bucket=bucket, tz=tz, exact=exact or None)
    return TimeseriesResponse.model_validate(
        {
            "bucket": frame.attrs["bucket"],
            "started_after": window.started_after,
            "started_before": window.started_before,
            "points": frame_records(frame),
            "approximate": frame.attrs["approximate"],
        }
    )


@router.get(
    "/stats/flows",
    response_model=list[FlowStats],
    responses=ERROR_RESPONSES,
    summary="Per-flow breakdown",
)
def get_flow_breakdown(
    engine: ReadEngineDep, flt: ScopedFilter, days: Days = None, exact: Exact = False
) -> Any:
    """Per flow, busiest first: runs per status, success rate, average/p50/p95 duration,
    last run and last failure."""
    frame = q.flow_breakdown(engine, with_window(flt, days), exact=exact or None)
    return frame_records(frame.assign(approximate=frame.attrs["approximate"]))
