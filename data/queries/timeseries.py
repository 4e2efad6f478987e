"""Runs over time: per hour/day/week bucket (weeks start on Monday) in a chosen time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import pandas as pd
from sqlalchemy import BigInteger, Engine, FromClause, String, cast, func, select, type_coerce
from sqlalchemy.sql.elements import ColumnElement

from data.errors import InvalidQuery
from data.filters import FlowRunFilter
from data.models import FlowRun
from data.queries.buckets import (
    UNPLACED_RUNS,
    ToUtc,
    bucket_expression,
    bucket_index,
    placed,
    zone,
)
from data.queries.common import (
    STATUS_VALUES,
    add_outcome_columns,
    outcome_columns,
    percentiles,
    readable_time_range,
    status_pivot,
)
from data.rollup.local_days import local_records
from data.rollup.reader import grouped_records, route
from data.rollup.routing import on_table
from data.rollup.sources import rollup_tables, run_tokens
from data.sql_functions import BUCKETS, Bucket
from data.statuses import canonical
from data.stored_time import is_time

BUCKET_LENGTH = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}
MAX_BUCKETS = 2000
COUNT_COLUMNS = ["runs", *STATUS_VALUES, "without_duration", "token_runs", "total_tokens"]


def _time_range(engine: Engine, flt: FlowRunFilter) -> tuple[datetime, datetime] | None:
    start, end = flt.started_after, flt.started_before
    if start is None or end is None:
        query = select(func.min(FlowRun.started_at), func.max(FlowRun.started_at)).where(
            flt.where()
        )
        with engine.connect() as conn:
            row = conn.execute(query).one()
            low: datetime | None = row[0]
            high: datetime | None = row[1]
            # Unreadable starts (data.stored_time) sort at the ends: use the readable ones.
            if low is not None and not (is_time(low) and is_time(high)):
                low, high = readable_time_range(conn, flt)
        if low is None or high is None:
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


def run_timeseries(
    engine: Engine,
    flt: FlowRunFilter,
    bucket: str | None = None,
    tz: str = "UTC",
    *,
    exact: bool | None = None,
) -> pd.DataFrame:
    """Per bucket (hours, days or weeks of the zone ``tz``; each row's ``bucket`` is the aware
    UTC instant it starts): runs, one column per known status plus ``other`` (they add up
    to ``runs``), success rate (see ``common.success_rate``), avg/p50/p95 duration over
    the runs that have one and ``without_duration``. Empty buckets inside the range are
    present with zero runs. ``exact``: see ``data.rollup.reader.route``; the frame's
    ``attrs["approximate"]`` says whether percentiles came from histograms."""
    zone_info = zone(tz)
    chosen, time_range = _resolve_bucket(engine, flt, bucket)
    expression, to_utc = bucket_expression(engine.dialect.name, chosen, zone_info, time_range)
    grain = route(engine, flt, exact, chosen, zone_info, time_range)
    if grain is None:
        records = _raw_records(engine, flt, expression)
    elif grain == "hour" and chosen != "hour" and zone_info is not UTC and time_range:
        # A zone's days and weeks: the UTC days inside from the day rollup (local_days).
        records, to_utc = local_records(engine, flt, chosen, zone_info, time_range), _utc_keys
    else:
        # UTC buckets as long as the grain: the period is the bucket (no per-row function,
        # and the primary key's order saves the sort). Keys come back as text, which
        # ``to_utc`` parses in one vectorised call instead of one datetime per row.
        same = zone_info is UTC and chosen == grain

        def key(table: FromClause) -> ColumnElement[Any]:
            return type_coerce(table.c.period if same else on_table(expression, table), String())

        records = grouped_records(engine, grain, flt, key, "bucket")
    frame = pd.DataFrame(
        [{**row, "percentiles": percentiles(row["percentiles"])} for row in records],
        columns=["bucket", *COUNT_COLUMNS, "avg_ms", "percentiles"],
    )
    frame = _shape(frame, chosen, zone_info, time_range, to_utc)
    frame.attrs["approximate"] = grain is not None and bool(frame["p50_ms"].notna().any())
    return frame


def _utc_keys(keys: pd.Series) -> pd.Series:
    return pd.to_datetime(keys, utc=True)


def _raw_records(
    engine: Engine, flt: FlowRunFilter, expression: ColumnElement[Any]
) -> list[dict[str, Any]]:
    bucket_col = expression.label("bucket")
    query = (
        select(
            bucket_col,
            func.count().label("runs"),
            *status_pivot(),
            *outcome_columns(run_tokens(engine)),
        )
        .where(flt.where())
        .group_by(bucket_col)
        .order_by(bucket_col)
    )
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def _shape(
    frame: pd.DataFrame,
    chosen: Bucket,
    zone_info: tzinfo,
    time_range: tuple[datetime, datetime] | None,
    to_utc: ToUtc,
) -> pd.DataFrame:
    """Fetched rows -> the series: UTC bucket starts, empty buckets filled, rates."""
    frame["p50_ms"] = [p[0] for p in frame["percentiles"]]
    frame["p95_ms"] = [p[1] for p in frame["percentiles"]]
    frame = frame.drop(columns="percentiles")
    frame, unplaced = placed(frame, to_utc)
    if time_range is not None:
        full = bucket_index(chosen, zone_info, time_range)
        frame = frame.set_index("bucket").reindex(full.union(pd.DatetimeIndex(frame["bucket"])))
        frame.index.name = "bucket"
        frame[COUNT_COLUMNS] = frame[COUNT_COLUMNS].fillna(0)
        frame = frame.reset_index()
    frame[COUNT_COLUMNS] = frame[COUNT_COLUMNS].astype("int64")
    add_outcome_columns(frame)
    frame["avg_ms"] = frame["avg_ms"].astype("float64")
    frame.attrs["bucket"] = chosen
    frame.attrs[UNPLACED_RUNS] = unplaced
    return frame


def count_timeseries(
    engine: Engine, flt: FlowRunFilter, by: str, bucket: str | None = None, tz: str = "UTC"
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
    zone_info = zone(tz)
    chosen, time_range = _resolve_bucket(engine, flt, bucket)
    expression, to_utc = bucket_expression(engine.dialect.name, chosen, zone_info, time_range)
    # Counts are exact in the rollup (exact=False: whenever it can answer); error types
    # are not among its keys.
    grain = None if by == "error_type" else route(engine, flt, False, chosen, zone_info, time_range)
    if grain is None:
        bucket_col = expression.label("bucket")
        group_col = columns[by].label(by)
        runs: ColumnElement[Any] = func.count()
        where = flt.where()
    else:
        totals = rollup_tables(engine, grain)[0]
        same = zone_info is UTC and chosen == grain
        bucket_col = type_coerce(
            totals.c.period if same else on_table(expression, totals), String()
        ).label("bucket")
        group_col = totals.c[by].label(by)
        runs = cast(func.sum(totals.c.runs), BigInteger)
        where = on_table(flt.where(), totals)
    query = (
        select(bucket_col, group_col, runs.label("runs"))
        .where(where)
        .group_by(bucket_col, group_col)
        .order_by(bucket_col)
    )
    if grain is not None:
        query = query.having(runs > 0)  # a key whose runs were all deleted
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query).mappings().all(), columns=["bucket", by, "runs"])
    if by == "status" and len(frame):
        # SUCCESS and success are one status: fold the spellings together.
        frame["status"] = frame["status"].map(canonical)
        grouped = frame.groupby(["bucket", "status"], sort=True)["runs"].sum()
        frame = grouped.reset_index()
    frame, unplaced = placed(frame, to_utc)
    frame["runs"] = frame["runs"].astype("int64")
    frame.attrs["bucket"] = chosen
    frame.attrs[UNPLACED_RUNS] = unplaced
    return frame
