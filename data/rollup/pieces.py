"""Ranges that do not start or end on a whole hour (the API's ``days=N`` windows end
"now"): the rollup answers the whole days and hours inside, raw rows the edges (less
than an hour at each end), and the parts' outcomes are added up.

Counts stay exact; the edges' durations go into the same histogram buckets the triggers
use (the ``flowrun_rollup_bound`` lookup), so percentiles keep the rollup's bound.
Used by the KPIs and the per-flow table; time series keep ``route`` (a bucket would mix
sources).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from data.filters import FlowRunFilter
from data.models import FlowRun, RollupBound
from data.rollup import reader
from data.rollup.reader import (
    FAILURE,
    GroupOf,
    Outcomes,
    _latest,
    _moment,
    grouped_outcomes,
    installed,
    matching_runs,
    merge_outcome,
    trigger_counts,
)
from data.rollup.routing import (
    GRAIN_LENGTH,
    RAW_ONLY_FIELDS,
    period_ceil,
    period_floor,
    rollup_grain,
)
from data.rollup.schema import Grain
from data.rollup.sources import run_tokens
from data.sql_functions import usable_duration
from data.statuses import canonical

HOUR, DAY = GRAIN_LENGTH["hour"], GRAIN_LENGTH["day"]
RUNS = cast(Table, FlowRun.__table__)


@dataclass(frozen=True)
class Piece:
    """One part of a range: ``grain`` None means raw rows answer it."""

    grain: Grain | None
    flt: FlowRunFilter


def _bounds(start: datetime | None, end: datetime | None) -> list[tuple[Any, Any]]:
    """[start, end) (whole hours, either end open) as whole days plus hours either side."""
    day_start = None if start is None else period_ceil(start, DAY)
    day_end = None if end is None else period_floor(end, DAY)
    if day_start is not None and day_end is not None and day_start >= day_end:
        return [(start, end)]
    parts = [(day_start, day_end)]
    if start is not None and start != day_start:
        parts.insert(0, (start, day_start))
    if end is not None and end != day_end:
        parts.append((day_end, end))
    return parts


def pieces(flt: FlowRunFilter) -> list[Piece] | None:
    """The parts that answer ``flt`` (one rollup part when its bounds are whole periods);
    ``None`` when the rollup can answer no part of it (fields it cannot see, or less
    than one whole hour inside the range)."""
    if any(getattr(flt, name) not in (None, ()) for name in RAW_ONLY_FIELDS):
        return None
    # Whole UTC days: one read of the day tables. Whole hours (a zone's midnight) still
    # take the days inside from the day tables, ~10x fewer rows than the hour tables.
    if rollup_grain(flt) == "day":
        return [Piece("day", flt)]
    start, end = flt.started_after, flt.started_before
    inner_start = None if start is None else period_ceil(start, HOUR)
    inner_end = None if end is None else period_floor(end, HOUR)
    if inner_start is not None and inner_end is not None and inner_start >= inner_end:
        return None
    found = []
    if start is not None and start != inner_start:
        found.append(Piece(None, flt.replace(started_before=inner_start)))
    for low, high in _bounds(inner_start, inner_end):
        part = flt.replace(started_after=low, started_before=high)
        found.append(Piece(rollup_grain(part), part))
    if end is not None and end != inner_end:
        found.append(Piece(None, flt.replace(started_after=inner_end)))
    return found


def route_pieces(engine: Engine, flt: FlowRunFilter, exact: bool | None) -> list[Piece] | None:
    """``route`` for the KPIs and the per-flow table: the parts to read, or ``None`` for
    raw rows (``exact``: as in ``route``)."""
    if exact or not installed(engine):
        return None
    found = pieces(flt)
    if found is None or exact is False:
        return found
    rolled = sum(matching_runs(engine, p.grain, p.flt) for p in found if p.grain is not None)
    return found if rolled > reader.RAW_LIMIT else None


def _bucket_of(duration: Any) -> ColumnElement[Any]:
    """The histogram bucket of a raw duration: the lookup the triggers do."""
    return (
        select(RollupBound.bucket)
        .where(RollupBound.lower_ms <= duration)
        .order_by(RollupBound.lower_ms.desc())
        .limit(1)
        .scalar_subquery()
    )


def raw_outcomes(
    conn: Connection, flt: FlowRunFilter, group_of: GroupOf | None
) -> dict[Hashable, Outcomes]:
    """``grouped_outcomes`` of raw rows (an edge: under an hour of runs)."""
    key = (group_of(RUNS) if group_of else literal(0)).label("key")
    bucket = _bucket_of(usable_duration(FlowRun.duration_ms)).label("bucket")
    tokens = run_tokens(conn.engine)
    rows = conn.execute(
        select(
            key,
            FlowRun.status,
            bucket,
            func.count(),
            func.count(usable_duration(FlowRun.duration_ms)),
            func.coalesce(func.sum(usable_duration(FlowRun.duration_ms)), 0),
            func.max(FlowRun.started_at),
            func.count(tokens),
            func.coalesce(func.sum(tokens), 0),
        )
        .where(flt.where())
        .group_by(key, FlowRun.status, bucket)
    ).all()
    found: dict[Hashable, Outcomes] = defaultdict(Outcomes)
    for group, status, bucket_no, runs, count, total, last, token_runs, token_sum in rows:
        _add(found[group], canonical(status), int(runs), int(count), float(total), _moment(last))
        found[group].token_runs += int(token_runs)
        found[group].total_tokens += int(token_sum)
        if bucket_no is not None:
            histogram = found[group].histogram
            histogram[int(bucket_no)] = histogram.get(int(bucket_no), 0) + int(count)
    return dict(found)


def _add(
    into: Outcomes, status: str, runs: int, count: int, total: float, last: datetime | None
) -> None:
    into.runs += runs
    into.statuses[status] = into.statuses.get(status, 0) + runs
    into.duration_count += count
    into.duration_sum += total
    into.last_period = _latest(into.last_period, last)
    if status == FAILURE:
        into.last_failure_period = _latest(into.last_failure_period, last)


def outcomes_over(
    conn: Connection, parts: list[Piece], group_of: GroupOf | None = None
) -> dict[Hashable, Outcomes]:
    """Outcomes per group over every part, each read from its own source."""
    found: dict[Hashable, Outcomes] = defaultdict(Outcomes)
    for part in parts:
        if part.grain is None:
            read = raw_outcomes(conn, part.flt, group_of)
        else:
            read = grouped_outcomes(conn, part.grain, part.flt, group_of)
        for group, outcome in read.items():
            merge_outcome(found[group], outcome)
    return dict(found)


def triggers_over(conn: Connection, parts: list[Piece]) -> dict[str, int]:
    found: dict[str, int] = defaultdict(int)
    for part in parts:
        if part.grain is None:
            query = (
                select(FlowRun.trigger_type, func.count())
                .where(part.flt.where())
                .group_by(FlowRun.trigger_type)
            )
            counts = {trigger: int(runs) for trigger, runs in conn.execute(query)}
        else:
            counts = trigger_counts(conn, part.grain, part.flt)
        for trigger, runs in counts.items():
            found[trigger] += runs
    return dict(found)
