"""KPIs of a filtered set of runs, and of the previous period of equal length."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import BigInteger, Engine, cast, func, null, select
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from data.filters import FlowRunFilter
from data.models import FlowRun, FlowRunStatus
from data.queries.common import (
    STATUS_VALUES,
    TRIGGER_VALUES,
    count_where,
    percentiles,
    status_count,
    success_rate,
)
from data.rollup.pieces import Piece, outcomes_over, route_pieces, triggers_over
from data.rollup.reader import Outcomes
from data.rollup.sources import layout, run_tokens
from data.sql_functions import duration_percentiles, usable_duration
from data.statuses import canonical, status_in


@dataclass(frozen=True)
class RunStats:
    total: int
    status_counts: dict[str, int]
    trigger_counts: dict[str, int]
    avg_duration_ms: float | None
    p50_duration_ms: float | None
    p95_duration_ms: float | None
    p99_duration_ms: float | None
    max_duration_ms: int | None
    # Runs with no duration (still active, or written without one): left out of the
    # duration figures above, and counted here so the omission is visible.
    without_duration: int = 0
    previous: RunStats | None = field(default=None)
    # True when the percentiles and the maximum came from the rollup's duration
    # histograms (within data.rollup.histogram.RELATIVE_ERROR of the exact values).
    approximate: bool = False
    # Runs with a token count and their tokens; tokens_recorded is False where flow_run
    # has no total_tokens column (another application's table).
    token_runs: int = 0
    total_tokens: int = 0
    tokens_recorded: bool = True

    def count(self, status: FlowRunStatus) -> int:
        return self.status_counts.get(status.value, 0)

    @property
    def finished(self) -> int:
        return sum(self.status_counts.get(s, 0) for s in FlowRunStatus.finished())

    @property
    def active(self) -> int:
        return sum(self.status_counts.get(s, 0) for s in FlowRunStatus.active())

    @property
    def other(self) -> int:
        """Runs whose status is none of the known ones (e.g. written by another engine)."""
        return self.total - sum(self.status_counts.get(s, 0) for s in STATUS_VALUES)

    @property
    def success_rate(self) -> float | None:
        """Successes over finished runs (0..1); ``None`` when nothing has finished."""
        return success_rate(self.count(FlowRunStatus.SUCCESS), self.finished)


def _counts(
    engine: Engine,
    flt: FlowRunFilter,
    column: InstrumentedAttribute[str],
    others_where: ColumnElement[bool],
    pivoted: dict[str, int],
    total: int,
) -> dict[str, int]:
    """Known values come pivoted from the main scan; the rare unknown ones (rows written
    by other engines) are grouped only when the pivot does not add up to the total."""
    counts = {value: n for value, n in pivoted.items() if n}
    if sum(pivoted.values()) == total:
        return counts
    others = select(column, func.count()).where(flt.where(), others_where).group_by(column)
    with engine.connect() as conn:
        for value, n in conn.execute(others).all():
            name = canonical(value) if column is FlowRun.status else value
            counts[name] = counts.get(name, 0) + int(n)
    return counts


def stats_statement(flt: FlowRunFilter, tokens: ColumnElement[Any] | None = None) -> Select[Any]:
    """The one-scan KPI SELECT behind ``run_stats``; public so tests can EXPLAIN it.
    ``tokens``: data.rollup.sources.run_tokens (none counted when omitted)."""
    counted = cast(null(), BigInteger) if tokens is None else tokens
    # One scan (of the covering index) computes every KPI: pivots instead of GROUP BY
    # avoid sorting all matching rows.
    return select(
        func.count().label("total"),
        # avg, not sum / count: SQLite's integer sum() raises on overflow, avg() does not.
        func.avg(usable_duration(FlowRun.duration_ms)).label("avg_ms"),
        func.count(usable_duration(FlowRun.duration_ms)).label("duration_count"),
        func.max(usable_duration(FlowRun.duration_ms)).label("duration_max"),
        duration_percentiles(usable_duration(FlowRun.duration_ms)).label("percentiles"),
        *(status_count(s).label(f"s_{s}") for s in STATUS_VALUES),
        *(count_where(FlowRun.trigger_type == t).label(f"t_{t}") for t in TRIGGER_VALUES),
        func.count(counted).label("token_runs"),
        func.coalesce(func.sum(counted), 0).label("total_tokens"),
    ).where(flt.where())


def _stats_from_rollup(engine: Engine, parts: list[Piece]) -> RunStats:
    with engine.connect() as conn:
        whole = outcomes_over(conn, parts).get(0, Outcomes())
        triggers = triggers_over(conn, parts)
    p50, p95, p99 = whole.percentiles()
    return RunStats(
        total=whole.runs,
        status_counts={name: n for name, n in whole.statuses.items() if n},
        trigger_counts=triggers,
        avg_duration_ms=whole.avg_ms,
        p50_duration_ms=p50,
        p95_duration_ms=p95,
        p99_duration_ms=p99,
        max_duration_ms=None if (top := whole.highest()) is None else round(top),
        without_duration=whole.runs - whole.duration_count,
        approximate=whole.duration_count > 0,
        token_runs=whole.token_runs,
        total_tokens=whole.total_tokens,
        tokens_recorded=layout(engine).run_tokens,
    )


def _stats_for(engine: Engine, flt: FlowRunFilter, exact: bool | None = None) -> RunStats:
    parts = route_pieces(engine, flt, exact)
    if parts is not None:
        return _stats_from_rollup(engine, parts)
    with engine.connect() as conn:
        row = conn.execute(stats_statement(flt, run_tokens(engine))).mappings().one()
    total = int(row["total"])
    statuses = {s: int(row[f"s_{s}"]) for s in STATUS_VALUES}
    triggers = {t: int(row[f"t_{t}"]) for t in TRIGGER_VALUES}
    p50, p95, p99 = percentiles(row["percentiles"])
    count = int(row["duration_count"])
    return RunStats(
        total=total,
        status_counts=_counts(
            engine, flt, FlowRun.status, ~status_in(STATUS_VALUES), statuses, total
        ),
        trigger_counts=_counts(
            engine,
            flt,
            FlowRun.trigger_type,
            FlowRun.trigger_type.not_in(TRIGGER_VALUES),
            triggers,
            total,
        ),
        avg_duration_ms=float(row["avg_ms"]) if count else None,
        p50_duration_ms=p50,
        p95_duration_ms=p95,
        p99_duration_ms=p99,
        max_duration_ms=None if row["duration_max"] is None else int(row["duration_max"]),
        without_duration=total - count,
        token_runs=int(row["token_runs"]),
        total_tokens=int(row["total_tokens"]),
        tokens_recorded=layout(engine).run_tokens,
    )


def run_stats(
    engine: Engine, flt: FlowRunFilter, *, compare: bool = True, exact: bool | None = None
) -> RunStats:
    """KPIs for ``flt``; with a bounded time range also for the previous equal period.
    ``exact``: see ``data.rollup.reader.route`` (``True`` = raw rows only)."""
    current = _stats_for(engine, flt, exact)
    previous_filter = flt.previous_period() if compare else None
    if previous_filter is None:
        return current
    return replace(current, previous=_stats_for(engine, previous_filter, exact))
