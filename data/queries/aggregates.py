"""KPIs, time series and breakdowns, each one GROUP BY query in the database.

Only grouped rows (a handful per status, bucket, flow or error group) reach pandas.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine, case, func, select
from sqlalchemy.sql.elements import ColumnElement

from data.errors import InvalidQuery
from data.filters import FlowRunFilter
from data.models import Flow, FlowRun, FlowRunStatus
from data.sql_functions import BUCKETS, Bucket, duration_percentiles, error_signature, time_bucket

STATUS_VALUES = tuple(s.value for s in FlowRunStatus)
BUCKET_LENGTH = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}
MAX_BUCKETS = 2000


def _percentiles(raw: Any) -> tuple[float | None, float | None, float | None]:
    """Normalise the backend's percentile result (JSON text or array) to a triple."""
    if raw is None:
        return (None, None, None)
    values = json.loads(raw) if isinstance(raw, str) else list(raw)
    return (float(values[0]), float(values[1]), float(values[2]))


def _status_count(status: str) -> ColumnElement[int]:
    return func.sum(case((FlowRun.status == status, 1), else_=0))


def _success_rate(success: int, finished: int) -> float | None:
    return success / finished if finished else None


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
    previous: RunStats | None = field(default=None)

    def count(self, status: FlowRunStatus) -> int:
        return self.status_counts.get(status.value, 0)

    @property
    def finished(self) -> int:
        return sum(self.status_counts.get(s, 0) for s in FlowRunStatus.finished())

    @property
    def active(self) -> int:
        return sum(self.status_counts.get(s, 0) for s in FlowRunStatus.active())

    @property
    def success_rate(self) -> float | None:
        """Successes over finished runs (0..1); ``None`` when nothing has finished."""
        return _success_rate(self.count(FlowRunStatus.SUCCESS), self.finished)


def _stats_for(engine: Engine, flt: FlowRunFilter) -> RunStats:
    grouped = (
        select(
            FlowRun.status,
            FlowRun.trigger_type,
            func.count().label("runs"),
            func.sum(FlowRun.duration_ms).label("duration_sum"),
            func.count(FlowRun.duration_ms).label("duration_count"),
            func.max(FlowRun.duration_ms).label("duration_max"),
        )
        .where(flt.where())
        .group_by(FlowRun.status, FlowRun.trigger_type)
    )
    percentile_query = select(duration_percentiles(FlowRun.duration_ms)).where(flt.where())
    with engine.connect() as conn:
        rows = conn.execute(grouped).all()
        p50, p95, p99 = _percentiles(conn.execute(percentile_query).scalar())
    status_counts: dict[str, int] = {}
    trigger_counts: dict[str, int] = {}
    duration_sum = duration_count = 0
    maxima = []
    for row in rows:
        status_counts[row.status] = status_counts.get(row.status, 0) + row.runs
        trigger_counts[row.trigger_type] = trigger_counts.get(row.trigger_type, 0) + row.runs
        duration_sum += int(row.duration_sum or 0)
        duration_count += int(row.duration_count)
        if row.duration_max is not None:
            maxima.append(int(row.duration_max))
    return RunStats(
        total=sum(status_counts.values()),
        status_counts=status_counts,
        trigger_counts=trigger_counts,
        avg_duration_ms=duration_sum / duration_count if duration_count else None,
        p50_duration_ms=p50,
        p95_duration_ms=p95,
        p99_duration_ms=p99,
        max_duration_ms=max(maxima) if maxima else None,
    )


def run_stats(engine: Engine, flt: FlowRunFilter, *, compare: bool = True) -> RunStats:
    """KPIs for ``flt``; with a bounded time range also for the previous equal period."""
    current = _stats_for(engine, flt)
    previous_filter = flt.previous_period() if compare else None
    if previous_filter is None:
        return current
    previous = _stats_for(engine, previous_filter)
    return RunStats(**{**current.__dict__, "previous": previous})


def _time_range(engine: Engine, flt: FlowRunFilter) -> tuple[datetime, datetime] | None:
    start, end = flt.started_after, flt.started_before
    if start is None or end is None:
        query = select(func.min(FlowRun.started_at), func.max(FlowRun.started_at)).where(
            flt.where()
        )
        with engine.connect() as conn:
            low, high = conn.execute(query).one()
        if low is None:
            return None
        start = start or low
        end = end or high + timedelta(microseconds=1)
    return start, end


def choose_bucket(start: datetime, end: datetime) -> Bucket:
    span = end - start
    if span <= timedelta(days=3):
        return "hour"
    if span <= timedelta(days=120):
        return "day"
    return "week"


def _resolve_bucket(
    engine: Engine, flt: FlowRunFilter, bucket: str | None
) -> tuple[Bucket, tuple[datetime, datetime] | None]:
    if bucket is not None and bucket not in BUCKETS:
        raise InvalidQuery(f"bucket: must be one of {', '.join(BUCKETS)}")
    time_range = _time_range(engine, flt)
    if bucket is None:
        chosen: Bucket = choose_bucket(*time_range) if time_range else "day"
    else:
        chosen = bucket
    if time_range and (time_range[1] - time_range[0]) / BUCKET_LENGTH[chosen] > MAX_BUCKETS:
        raise InvalidQuery(
            f"bucket: '{chosen}' gives more than {MAX_BUCKETS} points for this range"
        )
    return chosen, time_range


def _bucket_index(bucket: Bucket, time_range: tuple[datetime, datetime]) -> pd.DatetimeIndex:
    freq = {"hour": "h", "day": "D", "week": "W-MON"}[bucket]
    start = pd.Timestamp(time_range[0]).floor("D" if bucket != "hour" else "h")
    if bucket == "week":
        start = start - pd.Timedelta(days=start.weekday())
    end = pd.Timestamp(time_range[1])
    return pd.date_range(start, end, freq=freq, inclusive="left", name="bucket")


def run_timeseries(engine: Engine, flt: FlowRunFilter, bucket: str | None = None) -> pd.DataFrame:
    """Per UTC bucket: runs per status, success rate, avg/p50/p95 duration. Empty buckets
    inside the range are present with zero runs."""
    chosen, time_range = _resolve_bucket(engine, flt, bucket)
    bucket_col = time_bucket(chosen, FlowRun.started_at).label("bucket")
    query = (
        select(
            bucket_col,
            func.count().label("runs"),
            *(_status_count(s).label(s) for s in STATUS_VALUES),
            func.avg(FlowRun.duration_ms).label("avg_ms"),
            duration_percentiles(FlowRun.duration_ms).label("percentiles"),
        )
        .where(flt.where())
        .group_by(bucket_col)
        .order_by(bucket_col)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    frame = pd.DataFrame(
        [{**row, "percentiles": _percentiles(row["percentiles"])} for row in rows],
        columns=["bucket", "runs", *STATUS_VALUES, "avg_ms", "percentiles"],
    )
    frame["p50_ms"] = [p[0] for p in frame["percentiles"]]
    frame["p95_ms"] = [p[1] for p in frame["percentiles"]]
    frame = frame.drop(columns="percentiles")
    frame["bucket"] = pd.to_datetime(frame["bucket"], utc=True)
    if time_range is not None:
        full = _bucket_index(chosen, time_range)
        frame = frame.set_index("bucket").reindex(full.union(pd.DatetimeIndex(frame["bucket"])))
        frame.index.name = "bucket"
        counts = ["runs", *STATUS_VALUES]
        frame[counts] = frame[counts].fillna(0)
        frame = frame.reset_index()
    counts = ["runs", *STATUS_VALUES]
    frame[counts] = frame[counts].astype("int64")
    finished = frame[list(FlowRunStatus.finished())].sum(axis=1)
    frame["success_rate"] = (frame["success"] / finished.where(finished > 0)).astype("float64")
    frame["avg_ms"] = frame["avg_ms"].astype("float64")
    frame.attrs["bucket"] = chosen
    return frame


def count_timeseries(
    engine: Engine, flt: FlowRunFilter, by: str, bucket: str | None = None
) -> pd.DataFrame:
    """Runs per bucket and per ``by`` (flow_id, status, trigger_type or error_type): long form."""
    columns = {
        "flow_id": FlowRun.flow_id,
        "status": FlowRun.status,
        "trigger_type": FlowRun.trigger_type,
        "error_type": FlowRun.error_type,
    }
    if by not in columns:
        raise InvalidQuery(f"by: must be one of {', '.join(columns)}")
    chosen, _ = _resolve_bucket(engine, flt, bucket)
    bucket_col = time_bucket(chosen, FlowRun.started_at).label("bucket")
    group_col = columns[by].label(by)
    query = (
        select(bucket_col, group_col, func.count().label("runs"))
        .where(flt.where())
        .group_by(bucket_col, group_col)
        .order_by(bucket_col)
    )
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query).mappings().all(), columns=["bucket", by, "runs"])
    frame["bucket"] = pd.to_datetime(frame["bucket"], utc=True)
    frame["runs"] = frame["runs"].astype("int64")
    frame.attrs["bucket"] = chosen
    return frame


def flow_breakdown(engine: Engine, flt: FlowRunFilter) -> pd.DataFrame:
    """Per flow: runs, outcomes, success rate, avg/p50/p95 duration, last run, last failure."""
    failure = FlowRunStatus.FAILURE.value
    query = (
        select(
            FlowRun.flow_id,
            Flow.name.label("flow_name"),
            func.count().label("runs"),
            *(_status_count(s).label(s) for s in STATUS_VALUES),
            func.avg(FlowRun.duration_ms).label("avg_ms"),
            duration_percentiles(FlowRun.duration_ms).label("percentiles"),
            func.max(FlowRun.started_at).label("last_run_at"),
            func.max(case((FlowRun.status == failure, FlowRun.started_at))).label(
                "last_failure_at"
            ),
        )
        .join(Flow, Flow.id == FlowRun.flow_id)
        .where(flt.where())
        .group_by(FlowRun.flow_id, Flow.name)
        .order_by(func.count().desc(), Flow.name)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    columns = [
        "flow_id",
        "flow_name",
        "runs",
        *STATUS_VALUES,
        "avg_ms",
        "p50_ms",
        "p95_ms",
        "last_run_at",
        "last_failure_at",
    ]
    records = []
    for row in rows:
        p50, p95, _ = _percentiles(row["percentiles"])
        records.append({**row, "p50_ms": p50, "p95_ms": p95})
    frame = pd.DataFrame(records, columns=columns)
    # PostgreSQL's avg() is numeric (Decimal): the same float dtype on both backends.
    frame["avg_ms"] = frame["avg_ms"].astype("float64")
    finished = frame[list(FlowRunStatus.finished())].sum(axis=1)
    frame["success_rate"] = (frame["success"] / finished.where(finished > 0)).astype("float64")
    for column in ("last_run_at", "last_failure_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def error_breakdown(engine: Engine, flt: FlowRunFilter) -> pd.DataFrame:
    """Failures grouped by error type and message signature, most frequent first."""
    signature = error_signature(FlowRun.error_message).label("signature")
    columns = [
        "error_type",
        "signature",
        "count",
        "flows",
        "first_seen",
        "last_seen",
        "sample_message",
    ]
    if flt.statuses and FlowRunStatus.FAILURE.value not in flt.statuses:
        return pd.DataFrame(columns=columns)
    failures = flt.replace(statuses=(FlowRunStatus.FAILURE.value,))
    query = (
        select(
            FlowRun.error_type,
            signature,
            func.count().label("count"),
            func.count(func.distinct(FlowRun.flow_id)).label("flows"),
            func.min(FlowRun.started_at).label("first_seen"),
            func.max(FlowRun.started_at).label("last_seen"),
            func.max(FlowRun.error_message).label("sample_message"),
        )
        .where(failures.where())
        .group_by(FlowRun.error_type, signature)
        .order_by(func.count().desc(), FlowRun.error_type, signature)
    )
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query).mappings().all(), columns=columns)
    for column in ("first_seen", "last_seen"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame
