"""Aggregates read from the rollup: per group (everything, a time bucket, a flow), the
runs per status, the duration count and sum, and a duration histogram.

The callers in data.queries turn these into the same records the raw-row queries
produce, so everything after the fetch is shared.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    FromClause,
    String,
    and_,
    func,
    literal,
    select,
    type_coerce,
)
from sqlalchemy.sql.elements import ColumnElement

from data.filters import FlowRunFilter
from data.models import FlowRun, FlowRunStatus
from data.rollup.histogram import highest, histogram_percentiles
from data.rollup.routing import on_table, rollup_grain
from data.rollup.schema import Grain
from data.rollup.sources import layout, rollup_tables
from data.sql_functions import float_sum
from data.statuses import KNOWN_STATUSES, canonical, status_in
from data.types import as_utc

GroupOf = Callable[[FromClause], ColumnElement[Any]]
FAILURE = FlowRunStatus.FAILURE.value
# Below this many matching runs the raw rows answer exactly in a few milliseconds, so the
# approximate percentiles are only used where they buy speed (``exact=False`` forces them).
RAW_LIMIT = 20_000


@dataclass
class Outcomes:
    """What the rollup knows about one group of runs."""

    runs: int = 0
    statuses: dict[str, int] = field(default_factory=dict)  # canonical status -> runs
    duration_count: int = 0
    duration_sum: float = 0.0
    histogram: dict[int, int] = field(default_factory=dict)  # bucket -> runs
    token_runs: int = 0  # runs with a token count
    total_tokens: int = 0
    last_period: datetime | None = None
    last_failure_period: datetime | None = None

    def percentiles(self) -> tuple[float | None, ...]:
        return histogram_percentiles(self.histogram.items())

    def highest(self) -> float | None:
        return highest(self.histogram.items())

    @property
    def avg_ms(self) -> float | None:
        return self.duration_sum / self.duration_count if self.duration_count else None


def _moment(value: Any) -> datetime | None:
    """A period as an aware datetime; ``None`` for text another engine stored that is no
    timestamp at all (reading never fails on one bad stored value)."""
    if isinstance(value, datetime):
        return as_utc(value)
    try:
        return as_utc(datetime.fromisoformat(str(value)))
    except ValueError:
        return None


def _latest(current: datetime | None, candidate: datetime | None) -> datetime | None:
    if current is None or candidate is None:
        return current or candidate
    return max(current, candidate)


def merge_outcome(into: Outcomes, part: Outcomes, sign: int = 1) -> None:
    """Add (``sign`` 1) or take off (-1) ``part``'s runs, durations and histogram; the
    latest periods only follow additions (a maximum cannot be subtracted)."""
    into.runs += sign * part.runs
    for status, runs in part.statuses.items():
        into.statuses[status] = into.statuses.get(status, 0) + sign * runs
    into.duration_count += sign * part.duration_count
    into.duration_sum += sign * part.duration_sum
    for bucket, runs in part.histogram.items():
        into.histogram[bucket] = into.histogram.get(bucket, 0) + sign * runs
    into.token_runs += sign * part.token_runs
    into.total_tokens += sign * part.total_tokens
    if sign > 0:
        into.last_period = _latest(into.last_period, part.last_period)
        into.last_failure_period = _latest(into.last_failure_period, part.last_failure_period)


def grouped_outcomes(
    conn: Connection,
    grain: Grain,
    flt: FlowRunFilter,
    group_of: GroupOf | None = None,
    periods: Sequence[datetime] | None = None,
) -> dict[Hashable, Outcomes]:
    """Outcomes per group (``group_of(table)`` is the group key expression; ``None``:
    one group for every run the filter selects), over ``periods`` only when given."""
    totals, histogram = rollup_tables(conn.engine, grain)

    def where(table: FromClause) -> ColumnElement[bool]:
        condition = on_table(flt.where(), table)
        return condition if periods is None else and_(condition, table.c.period.in_(periods))

    found: dict[Hashable, Outcomes] = defaultdict(Outcomes)
    key = (group_of(totals) if group_of else literal(0)).label("key")
    groups = [key] if group_of else []
    with_tokens = layout(conn.engine).token_sums
    tokens = (
        [func.sum(totals.c.token_count), func.sum(totals.c.token_sum)]
        if with_tokens
        else [literal(0), literal(0)]
    )
    rows = conn.execute(
        select(
            key,
            totals.c.status,
            func.sum(totals.c.runs),
            func.sum(totals.c.duration_count),
            float_sum(totals.c.duration_sum),
            func.max(type_coerce(totals.c.period, String())).label("last"),
            *tokens,
        )
        .where(where(totals))
        .group_by(*groups, totals.c.status)
    ).all()
    for group, status, runs, count, total, last, token_runs, token_sum in rows:
        outcome = found[group]
        name = canonical(status)
        outcome.runs += int(runs)
        outcome.statuses[name] = outcome.statuses.get(name, 0) + int(runs)
        outcome.duration_count += int(count)
        outcome.duration_sum += float(total)
        outcome.token_runs += int(token_runs)
        outcome.total_tokens += int(token_sum)
        last = _moment(last)
        outcome.last_period = _latest(outcome.last_period, last)
        if name == FAILURE:
            outcome.last_failure_period = _latest(outcome.last_failure_period, last)
    hist_key = (group_of(histogram) if group_of else literal(0)).label("key")
    hist_groups = [hist_key] if group_of else []
    buckets = conn.execute(
        select(hist_key, histogram.c.bucket, func.sum(histogram.c.runs))
        .where(where(histogram))
        .group_by(*hist_groups, histogram.c.bucket)
    ).all()
    for group, bucket, runs in buckets:
        found[group].histogram[int(bucket)] = int(runs)
    return dict(found)


def trigger_counts(conn: Connection, grain: Grain, flt: FlowRunFilter) -> dict[str, int]:
    totals = rollup_tables(conn.engine, grain)[0]
    query = (
        select(totals.c.trigger_type, func.sum(totals.c.runs))
        .where(on_table(flt.where(), totals))
        .group_by(totals.c.trigger_type)
    )
    return {trigger: int(runs) for trigger, runs in conn.execute(query) if runs}


def matching_runs(engine: Engine, grain: Grain, flt: FlowRunFilter) -> int:
    """How many runs the filter selects, from the rollup (decides whether raw rows are
    cheap enough to answer exactly)."""
    totals = rollup_tables(engine, grain)[0]
    query = select(func.coalesce(func.sum(totals.c.runs), 0)).where(on_table(flt.where(), totals))
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def installed(engine: Engine) -> bool:
    """Whether migration 0003 (the rollup) is applied; a database not yet upgraded is
    answered from raw rows instead of failing."""
    return layout(engine).installed


def route(
    engine: Engine,
    flt: FlowRunFilter,
    exact: bool | None,
    bucket: str | None = None,
    zone: tzinfo = UTC,
    span: tuple[datetime, datetime] | None = None,
) -> Grain | None:
    """THE routing decision of every aggregate: the rollup grain to read, or ``None`` for
    raw rows. ``exact=True`` always reads raw rows; ``False`` reads the rollup whenever it
    can answer; ``None`` (the default) also when raw rows would be cheap."""
    if exact or not installed(engine):
        return None
    grain = rollup_grain(flt, bucket, zone, span)
    if grain is None or exact is False:
        return grain
    return grain if matching_runs(engine, grain, flt) > RAW_LIMIT else None


def last_started(
    conn: Connection, flt: FlowRunFilter, since: dict[Any, tuple[datetime | None, datetime | None]]
) -> dict[Any, tuple[datetime | None, datetime | None]]:
    """Per flow: the exact start of its latest run and of its latest failure, found in
    raw rows from the period the rollup says holds them (an index seek per flow)."""
    columns: list[Any] = []
    for flow_id, periods in since.items():
        for start, extra in zip(periods, ((), (status_in((FAILURE,)),)), strict=True):
            if start is None:
                columns.append(literal(None, FlowRun.started_at.type))
                continue
            columns.append(
                select(FlowRun.started_at)
                .where(flt.where(), FlowRun.flow_id == flow_id, FlowRun.started_at >= start, *extra)
                .order_by(FlowRun.started_at.desc())
                .limit(1)
                .scalar_subquery()
            )
    if not columns:
        return {}
    values = list(conn.execute(select(*columns)).one())
    return {flow_id: (values[2 * i], values[2 * i + 1]) for i, flow_id in enumerate(since)}


def outcome_record(outcome: Outcomes) -> dict[str, Any]:
    """The columns a raw-row aggregate query returns for one group (percentiles as the
    (p50, p95, p99) tuple, ``None`` when no run has a duration)."""
    found = outcome.percentiles()
    return {
        "runs": outcome.runs,
        **{status: outcome.statuses.get(status, 0) for status in KNOWN_STATUSES},
        "without_duration": outcome.runs - outcome.duration_count,
        "avg_ms": outcome.avg_ms,
        "percentiles": None if found[0] is None else found,
        "token_runs": outcome.token_runs,
        "total_tokens": outcome.total_tokens,
    }


def grouped_records(
    engine: Engine, grain: Grain, flt: FlowRunFilter, group_of: GroupOf, name: str
) -> list[dict[str, Any]]:
    """``outcome_record`` per group, the group key in column ``name``."""
    with engine.connect() as conn:
        found = grouped_outcomes(conn, grain, flt, group_of)
    return [{name: key, **outcome_record(outcome)} for key, outcome in found.items()]
