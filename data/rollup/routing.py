"""Which filters the rollup can answer, and the filter compiled against its tables.

THE compatibility rule (one place): the rollup keys runs by UTC period (hour or day),
flow, stored status and trigger, so a filter on anything else (user, session, run id,
duration range, error text/type/signature) or with time bounds inside a period must be
answered from raw rows. Trigger filters are answered from raw rows too: the duration
histograms are not split by trigger. Time series additionally need buckets made of
whole periods: a zone whose UTC offset over the range is a whole number of hours (hour
grain), or UTC for day and week buckets (day grain).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import FromClause
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import replacement_traverse

from data.filters import FlowRunFilter
from data.models import FlowRun
from data.rollup.schema import GRAINS, Grain

GRAIN_LENGTH = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
# Fields a rollup cannot see; any of them set sends the query to raw rows.
RAW_ONLY_FIELDS = (
    "user_id",
    "run_id",
    "session_id",
    "min_duration_ms",
    "max_duration_ms",
    "error_contains",
    "error_types",
    "error_signature",
    "trigger_types",
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def period_floor(moment: datetime, length: timedelta) -> datetime:
    """The start of the period of ``length`` (counted from the epoch) holding ``moment``."""
    return moment - (moment - EPOCH) % length


def period_ceil(moment: datetime, length: timedelta) -> datetime:
    floor = period_floor(moment, length)
    return floor if floor == moment else floor + length


def _aligned(moment: datetime | None, grain: Grain) -> bool:
    return moment is None or (moment - EPOCH) % GRAIN_LENGTH[grain] == timedelta(0)


def _zone_fits(grain: Grain, bucket: str, zone: tzinfo, span: tuple[datetime, datetime]) -> bool:
    if grain == "day":
        return zone is UTC
    if zone is UTC:
        return True
    # Imported here: data.queries imports the rollup, so a module-level import made
    # importing data.rollup first circular.
    from data.queries.buckets import offset_segments

    segments = offset_segments(zone, span[0] - timedelta(days=1), span[1] + timedelta(days=1))
    return all(minutes % 60 == 0 for _, minutes in segments)


def rollup_grain(
    flt: FlowRunFilter,
    bucket: str | None = None,
    zone: tzinfo = UTC,
    span: tuple[datetime, datetime] | None = None,
) -> Grain | None:
    """The coarsest rollup grain that answers ``flt`` exactly (for a time series: with
    ``bucket`` units of ``zone`` over ``span``), or ``None`` when raw rows must."""
    if any(getattr(flt, name) not in (None, ()) for name in RAW_ONLY_FIELDS):
        return None
    for grain in reversed(GRAINS):  # day first: ~10x fewer rows
        if not (_aligned(flt.started_after, grain) and _aligned(flt.started_before, grain)):
            continue
        if bucket is None:
            return grain
        if bucket == "hour" and grain == "day":
            continue
        if _zone_fits(grain, bucket, zone, span or (EPOCH, EPOCH)):
            return grain
    return None


def on_table(expression: ColumnElement[Any], table: FromClause) -> ColumnElement[Any]:
    """``expression`` (written against flow_run by the filter or the bucket code) with
    flow_run's columns swapped for the rollup table's (started_at -> period)."""
    run = FlowRun.__table__.c
    swap = {
        run.started_at: table.c.period,
        run.flow_id: table.c.flow_id,
        run.status: table.c.status,
    }
    if "trigger_type" in table.c:
        swap[run.trigger_type] = table.c.trigger_type

    def replace(element: Any, **_: Any) -> Any:
        return swap.get(element)

    swapped: ColumnElement[Any] = replacement_traverse(expression, {}, replace)
    return swapped
