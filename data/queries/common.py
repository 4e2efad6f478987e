"""Pieces shared by the aggregate queries."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Select, case, func, select
from sqlalchemy.sql.elements import ColumnElement

from data.filters import FlowRunFilter
from data.models import FlowRun, FlowRunStatus, TriggerType
from data.sql_functions import duration_percentiles, usable_duration
from data.statuses import OTHER, status_in
from data.stored_time import is_time

STATUS_VALUES = tuple(s.value for s in FlowRunStatus)
# The columns of every per-status table: they add up to ``runs``.
STATUS_COLUMNS = (*STATUS_VALUES, OTHER)
TRIGGER_VALUES = tuple(t.value for t in TriggerType)


def percentiles(raw: Any) -> tuple[float | None, float | None, float | None]:
    """Normalise the backend's percentile result (JSON text or array) to (p50, p95, p99)."""
    if raw is None:
        return (None, None, None)
    values = json.loads(raw) if isinstance(raw, str) else list(raw)
    return (float(values[0]), float(values[1]), float(values[2]))


def count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """Rows matching ``condition``, as an aggregate: pivots without a GROUP BY sort."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def status_count(status: str) -> ColumnElement[int]:
    """Runs with ``status`` in any of its case spellings (``SUCCESS`` counts as success)."""
    return count_where(status_in((status,)))


def status_pivot() -> list[ColumnElement[int]]:
    """One labelled count per known status; ``other`` is derived as runs minus their sum."""
    return [status_count(s).label(s) for s in STATUS_VALUES]


def outcome_columns(tokens: ColumnElement[Any]) -> list[ColumnElement[Any]]:
    """Per group of raw rows, next to the status pivot: runs without a usable duration,
    the average and the (p50, p95, p99) percentiles of the usable ones (one rule with the
    rollup: data.sql_functions.usable_duration), and the runs with a token count and
    their tokens (``tokens``: data.rollup.sources.run_tokens)."""
    duration = usable_duration(FlowRun.duration_ms)
    return [
        (func.count() - func.count(duration)).label("without_duration"),
        func.avg(duration).label("avg_ms"),
        duration_percentiles(duration).label("percentiles"),
        func.count(tokens).label("token_runs"),
        func.coalesce(func.sum(tokens), 0).label("total_tokens"),
    ]


def success_rate(success: int, finished: int) -> float | None:
    """THE success rate of every surface: successes over finished runs (success + failure +
    cancelled; pending, running and unknown statuses are not finished), 0..1. ``None``
    ("no data", never 0.0) when nothing has finished."""
    return success / finished if finished else None


def add_outcome_columns(frame: pd.DataFrame) -> None:
    """``other`` (runs in no known status) and ``success_rate`` (see ``success_rate``) for
    a frame with ``runs`` and one column per known status, in place."""
    frame[OTHER] = frame["runs"] - frame[list(STATUS_VALUES)].sum(axis=1)
    finished = frame[list(FlowRunStatus.finished())].sum(axis=1)
    frame["success_rate"] = (frame["success"] / finished.where(finished > 0)).astype("float64")


def _first_time(conn: Connection, query: Select[Any]) -> datetime | None:
    """The first value of ``query`` that is a time: unreadable ones (data.stored_time) sort
    at the ends (numbers, '' and other text before or after ISO text on SQLite, blobs last;
    +-infinity on PostgreSQL), so only those few are read past."""
    for value in conn.execute(query.execution_options(yield_per=100)).scalars():
        if is_time(value):
            return value
    return None


def readable_time_range(
    conn: Connection, flt: FlowRunFilter
) -> tuple[datetime | None, datetime | None]:
    """The earliest and latest start of ``flt``'s runs that is a time."""
    query = select(FlowRun.started_at).where(flt.where())
    low = _first_time(conn, query.order_by(FlowRun.started_at.asc()))
    return low, _first_time(conn, query.order_by(FlowRun.started_at.desc()))
