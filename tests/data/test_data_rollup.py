"""The rollup equals raw rows: random sequences of inserts, finishes, deletes, prunes,
sweeps and direct SQL writes on both backends; then `check` is clean, counts from the
rollup equal counts from raw rows, and percentiles are within the stated bound of the
exact order statistics (numpy over the stored durations)."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runfactory import World, at, clear, make_world
from sqlalchemy import Engine, text, update

from data import queries as q
from data.deletion import delete_run
from data.filters import FlowRunFilter
from data.models import FlowRun
from data.retention import RetentionPolicy, prune
from data.rollup.histogram import (
    PERCENTILES,
    RELATIVE_ERROR,
    bound_rows,
    bucket_of,
    histogram_percentiles,
    representative,
)
from data.rollup.maintain import check
from data.statuses import canonical
from data.sweep import sweep_stuck

PROPERTY = settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
STATUSES = ["success", "failure", "cancelled", "running", "pending", "SUCCESS", "Failure", "weird"]
DURATIONS = st.one_of(
    st.none(),
    st.integers(0, 30),
    st.integers(0, 5_000_000),
    st.integers(-50_000, -1),
    # Around the longest duration aggregates count (2^40 ms), and far past it (case 8).
    st.integers(2**40 - 3, 2**40 + 3),
    st.integers(2**40, 2**62),
)
USABLE_MS = 2**40
run_spec = st.tuples(
    st.integers(0, 2),  # flow
    st.sampled_from(STATUSES),
    st.sampled_from(["manual", "api", "webhook", "cron"]),
    st.integers(0, 4 * 24 * 60 - 1),  # minutes after BASE
    DURATIONS,
)
operation = st.one_of(
    st.tuples(st.just("insert"), st.lists(run_spec, min_size=1, max_size=25)),
    st.tuples(st.just("finish"), st.integers(1, 5), DURATIONS),
    st.tuples(st.just("delete"), st.integers(1, 4)),
    st.tuples(st.just("prune"), st.integers(1, 4)),
    st.tuples(st.just("sweep"), st.integers(1, 48)),
    st.tuples(st.just("direct"), st.integers(0, 2), st.sampled_from(STATUSES)),
)


def _insert(world: World, specs: list[tuple[Any, ...]]) -> None:
    world.add(
        world.run(
            flow=flow, status=status, trigger_type=trigger, started_at=at(minutes=m), duration_ms=d
        )
        for flow, status, trigger, m, d in specs
    )


def _stored_ids(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT id FROM flow_run ORDER BY id")).scalars())


def _apply(world: World, step: tuple[Any, ...]) -> None:
    engine, kind = world.engine, step[0]
    if kind == "insert":
        _insert(world, step[1])
    elif kind == "finish":  # the recorder's finishing UPDATE: status and duration change
        with engine.begin() as conn:
            active = FlowRun.status.in_(("running", "pending"))
            chosen = conn.execute(FlowRun.__table__.select().where(active).limit(step[1]))
            for row in chosen.all():
                conn.execute(
                    update(FlowRun)
                    .where(FlowRun.id == row.id)
                    .values(status="success", duration_ms=step[2])
                )
    elif kind == "delete":
        with engine.connect() as conn:
            chosen = conn.execute(FlowRun.__table__.select().limit(step[1])).all()
        for row in chosen:
            assert delete_run(engine, row.id)
    elif kind == "prune":
        prune(engine, RetentionPolicy(max_age_days=step[1]), now=at(days=5), batch_size=7)
    elif kind == "sweep":
        sweep_stuck(engine, timedelta(hours=step[1]), now=at(days=4))
    else:  # another engine writing SQL straight into the table
        with engine.begin() as conn:
            target = world.flows[step[1]]
            conn.execute(
                update(FlowRun.__table__)
                .where(
                    FlowRun.id.in_(
                        FlowRun.__table__.select()
                        .with_only_columns(FlowRun.id)
                        .limit(2)
                        .scalar_subquery()
                    )
                )
                .values(status=step[2], flow_id=target)
            )


def bracket(values: np.ndarray, fraction: float) -> tuple[float, float]:
    """The exact percentile lies between these order statistics; widened by the bound."""
    ordered = np.sort(values)
    rank = fraction * (len(ordered) - 1)
    low, high = float(ordered[math.floor(rank)]), float(ordered[math.ceil(rank)])
    return low - RELATIVE_ERROR * abs(low) - 1e-6, high + RELATIVE_ERROR * abs(high) + 1e-6


def stored_durations(engine: Engine, flt: FlowRunFilter) -> np.ndarray:
    query = FlowRun.__table__.select().with_only_columns(FlowRun.duration_ms)
    with engine.connect() as conn:
        rows = conn.execute(query.where(flt.where(), FlowRun.duration_ms.is_not(None)))
        # A duration past 2^40 ms counts as "without a duration" (data.sql_functions).
        return np.array([float(v) for v in rows.scalars() if abs(v) <= USABLE_MS])


def assert_stats_match(engine: Engine, flt: FlowRunFilter) -> None:
    approx = q.run_stats(engine, flt, compare=False, exact=False)
    exact = q.run_stats(engine, flt, compare=False, exact=True)
    assert approx.total == exact.total
    assert approx.status_counts == exact.status_counts
    assert approx.trigger_counts == exact.trigger_counts
    assert approx.without_duration == exact.without_duration
    assert approx.avg_duration_ms == (
        None if exact.avg_duration_ms is None else pytest.approx(exact.avg_duration_ms, rel=1e-9)
    )
    durations = stored_durations(engine, flt)
    assert exact.without_duration == exact.total - len(durations)  # numpy, independently
    if len(durations):
        assert exact.avg_duration_ms == pytest.approx(float(np.mean(durations)), rel=1e-9)
    assert approx.approximate == bool(len(durations))
    found = (approx.p50_duration_ms, approx.p95_duration_ms, approx.p99_duration_ms)
    for fraction, value in zip((0.5, 0.95, 0.99), found, strict=True):
        if not len(durations):
            assert value is None
            continue
        low, high = bracket(durations, fraction)
        assert value is not None and low <= value <= high
    if len(durations):
        low, high = bracket(durations, 1.0)
        assert approx.max_duration_ms is not None
        assert low - 1 <= approx.max_duration_ms <= high + 1


FILTERS = (
    FlowRunFilter(),
    FlowRunFilter(started_after=at(days=1), started_before=at(days=3)),
    FlowRunFilter(started_after=at(hours=5), started_before=at(days=2, hours=7)),
    FlowRunFilter(statuses=("success", "weird")),
    FlowRunFilter(exclude_statuses=("failure",), started_before=at(days=2)),
    # Bounds inside an hour: raw rows for the edges, the rollup for the whole hours/days.
    FlowRunFilter(started_after=at(minutes=17), started_before=at(days=2, hours=3, minutes=41)),
    FlowRunFilter(started_after=at(hours=1, seconds=5)),
    FlowRunFilter(started_before=at(days=1, hours=2, minutes=30), statuses=("failure", "weird")),
)


@PROPERTY
@given(steps=st.lists(operation, min_size=1, max_size=8))
def test_rollup_equals_raw_rows_after_random_writes(engine: Engine, steps: list[Any]) -> None:
    clear(engine)
    world = make_world(engine)
    for step in steps:
        _apply(world, step)
    result = check(engine)
    assert result.consistent, result.differences
    for flt in (*FILTERS, FlowRunFilter(flow_ids=(world.flows[1],))):
        assert_stats_match(engine, flt)


COUNTS = ["runs", "success", "failure", "cancelled", "running", "pending", "other"]


def raw_durations(engine: Engine, flt: FlowRunFilter) -> pd.DataFrame:
    """Stored (started_at, flow_id, duration_ms) of the runs with a duration, as pandas."""
    columns = (FlowRun.started_at, FlowRun.flow_id, FlowRun.duration_ms)
    query = FlowRun.__table__.select().with_only_columns(*columns)
    with engine.connect() as conn:
        rows = conn.execute(query.where(flt.where(), FlowRun.duration_ms.is_not(None))).all()
    frame = pd.DataFrame(rows, columns=["started_at", "flow_id", "duration_ms"])
    frame["started_at"] = pd.to_datetime(frame["started_at"], utc=True)
    frame["duration_ms"] = frame["duration_ms"].astype("float64")
    return frame[frame["duration_ms"].abs() <= USABLE_MS]  # as in stored_durations


def assert_within(found: pd.DataFrame, key: str, groups: dict[Any, Any]) -> None:
    """p50/p95 of each row within the bound of its group's neighbouring order statistics."""
    for _, row in found.iterrows():
        values = groups.get(row[key])
        for column, fraction in (("p50_ms", 0.5), ("p95_ms", 0.95)):
            if values is None or not len(values):
                assert pd.isna(row[column])
                continue
            low, high = bracket(np.asarray(values, dtype=float), fraction)
            assert low <= row[column] <= high, (row[key], column, row[column], low, high)


def assert_series_match(engine: Engine, flt: FlowRunFilter, bucket: str) -> None:
    approx = q.run_timeseries(engine, flt, bucket=bucket, exact=False)
    exact = q.run_timeseries(engine, flt, bucket=bucket, exact=True)
    pd.testing.assert_frame_equal(approx[["bucket", *COUNTS]], exact[["bucket", *COUNTS]])
    np.testing.assert_allclose(approx["avg_ms"], exact["avg_ms"], rtol=1e-9)
    raw = raw_durations(engine, flt)
    keys = raw["started_at"].dt.floor("h" if bucket == "hour" else "D")
    groups = {k: g["duration_ms"].to_numpy() for k, g in raw.groupby(keys)}
    assert_within(approx, "bucket", groups)
    assert approx.attrs["approximate"] == bool(len(raw))


def assert_flows_match(engine: Engine, flt: FlowRunFilter) -> None:
    approx = q.flow_breakdown(engine, flt, exact=False)
    exact = q.flow_breakdown(engine, flt, exact=True)
    same = ["flow_id", "flow_name", *COUNTS, "without_duration", "last_run_at", "last_failure_at"]
    pd.testing.assert_frame_equal(approx[same], exact[same])
    np.testing.assert_allclose(approx["avg_ms"], exact["avg_ms"], rtol=1e-9)
    raw = raw_durations(engine, flt)
    assert_within(approx, "flow_id", {k: g["duration_ms"] for k, g in raw.groupby("flow_id")})


def assert_counts_match(engine: Engine, flt: FlowRunFilter, bucket: str, by: str) -> None:
    """count_timeseries (the rollup's totals) equals pandas counting the stored rows."""
    found = q.count_timeseries(engine, flt, by=by, bucket=bucket)
    column = getattr(FlowRun, by)
    query = FlowRun.__table__.select().with_only_columns(FlowRun.started_at, column)
    with engine.connect() as conn:
        rows = pd.DataFrame(conn.execute(query.where(flt.where())).all(), columns=["at", by])
    if by == "status":
        rows[by] = rows[by].map(canonical)
    rows["bucket"] = pd.to_datetime(rows["at"], utc=True).dt.floor("h" if bucket == "hour" else "D")
    expected = rows.groupby(["bucket", by]).size().rename("runs").reset_index()
    key = ["bucket", by]
    found = found.astype({by: str}).sort_values(key).reset_index(drop=True)
    expected = expected.astype({by: str}).sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(found[[*key, "runs"]], expected, check_dtype=False)


WINDOW = FlowRunFilter(started_after=at(), started_before=at(days=4))
ODD_WINDOW = FlowRunFilter(started_after=at(minutes=25), started_before=at(days=3, minutes=10))


@PROPERTY
@given(steps=st.lists(operation, min_size=1, max_size=6))
def test_series_and_flow_table_from_rollup_equal_raw_rows(engine: Engine, steps: list[Any]) -> None:
    clear(engine)
    world = make_world(engine)
    for step in steps:
        _apply(world, step)
    for flt in (WINDOW, WINDOW.replace(statuses=("failure", "running"))):
        assert_series_match(engine, flt, "hour")
        assert_series_match(engine, flt, "day")
        assert_flows_match(engine, flt)
        for by in ("flow_id", "status", "trigger_type"):
            assert_counts_match(engine, flt, "hour", by)
            assert_counts_match(engine, flt, "day", by)
    assert_flows_match(engine, ODD_WINDOW)


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.integers(-(2**62), 2**62), st.integers(-100, 5000)), min_size=1, max_size=60
    )
)
def test_histogram_percentiles_within_the_bound(values: list[int]) -> None:
    """Every value is within RELATIVE_ERROR of its bucket's representative, so each
    percentile lies within the bound of its neighbouring order statistics."""
    for value in values:
        found = representative(bucket_of(value))
        assert abs(found - value) <= RELATIVE_ERROR * abs(value) + 1e-9 * abs(value)
    counts: dict[int, int] = {}
    for value in values:
        counts[bucket_of(value)] = counts.get(bucket_of(value), 0) + 1
    array = np.array(values, dtype=float)
    for fraction, found in zip(PERCENTILES, histogram_percentiles(counts.items()), strict=True):
        low, high = bracket(array, fraction)
        assert found is not None
        assert low - 1e-9 * abs(low) <= found <= high + 1e-9 * abs(high)


def test_rollup_buckets_match_the_generated_bounds() -> None:
    """The stored bound rows and the Python lookup agree at every bucket edge."""
    rows = bound_rows()
    assert [b for b, _ in rows] == sorted(b for b, _ in rows)
    for bucket, low in rows[::7]:
        assert bucket_of(low) == bucket
        if low > -(2**63):
            assert bucket_of(low - 1) == bucket - 1
