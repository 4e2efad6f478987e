"""Property tests: the SQL aggregates equal pandas/numpy over the same random runs.

Each hypothesis example empties the (function-scoped) database and inserts a fresh small
set of runs, so reusing the fixture across examples is safe.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runfactory import BASE, FINISHED, World, at, clear, make_world, percentile, success_rate
from sqlalchemy import Engine

from data import queries as q
from data.errors import InvalidQuery
from data.filters import FlowRunFilter
from data.signature import message_signature

# Older engines wrote upper case; other engines write values we do not know (any case).
STATUSES = (
    *("pending", "running", "success", "failure", "cancelled", "weird"),
    *("SUCCESS", "Failure", "CANCELLED", "Pending", "WEIRD", "sUcCeSs"),
)
KNOWN = ("pending", "running", "success", "failure", "cancelled")
TRIGGERS = ("manual", "api", "webhook", "schedule", "cron", "zap")
MESSAGES = (
    None,
    "Timeout after 30 s",
    "Timeout after 45 s",
    "key 'user_id' missing",
    "key 'name' missing",
    "id 0xdeadbeef failed",
)
ERROR_TYPES = (None, "TimeoutError", "KeyError")
SPAN_MINUTES = 9 * 24 * 60

PROPERTY = settings(
    # DATA_TESTS_EXAMPLES=500 for a deeper search; 25 keeps the suite fast.
    max_examples=int(os.environ.get("DATA_TESTS_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

run_specs = st.lists(
    st.fixed_dictionaries(
        {
            "flow": st.integers(0, 2),
            "user": st.sampled_from([None, 0, 1]),
            "status": st.sampled_from(STATUSES),
            "trigger_type": st.sampled_from(TRIGGERS),
            "minute": st.integers(0, SPAN_MINUTES),
            "second": st.integers(0, 59),
            "duration_ms": st.none() | st.integers(0, 600_000),
            "error_message": st.sampled_from(MESSAGES),
            "error_type": st.sampled_from(ERROR_TYPES),
        }
    ),
    min_size=0,
    max_size=30,
)


def reseed(engine: Engine, specs: list[dict[str, Any]]) -> World:
    clear(engine)
    world = make_world(engine)
    rows = []
    for spec in specs:
        values = dict(spec)
        started = at(minutes=values.pop("minute"), seconds=values.pop("second"))
        rows.append(world.run(started_at=started, **values))
    world.add(rows)
    return world


def status_name(value: str) -> str:
    """The rule, written independently: a value that is the lower, UPPER or Capitalised
    spelling of its lower case stands for that lower case; any other spelling for itself."""
    lower = value.lower()
    return lower if value in {lower, lower.upper(), lower.capitalize()} else value


def named(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``status`` replaced by what each stored value stands for."""
    return frame.assign(status=frame["status"].map(status_name))


def approx(value: float | None) -> Any:
    return None if value is None else pytest.approx(value, rel=1e-9, abs=1e-6)


def nan_to_none(value: Any) -> Any:
    return None if value is None or pd.isna(value) else value


@PROPERTY
@given(specs=run_specs, window=st.tuples(st.integers(0, 8), st.integers(1, 4)))
def test_run_stats_equal_pandas(engine: Engine, specs: list[dict[str, Any]], window: Any) -> None:
    world = reseed(engine, specs)
    frame = named(world.frame())
    stats = q.run_stats(engine, FlowRunFilter())
    assert stats.previous is None  # unbounded: nothing to compare with
    check_stats(stats, frame)
    # A bounded window, and its previous period, against the same rows cut by pandas.
    start, length = at(days=window[0]), timedelta(days=window[1])
    bounded = q.run_stats(
        engine, FlowRunFilter.build(started_after=start, started_before=start + length)
    )
    inside = (frame["started_at"] >= start) & (frame["started_at"] < start + length)
    check_stats(bounded, frame[inside])
    before = (frame["started_at"] >= start - length) & (frame["started_at"] < start)
    assert bounded.previous is not None
    check_stats(bounded.previous, frame[before])


def check_stats(stats: q.RunStats, frame: pd.DataFrame) -> None:
    durations = frame["duration_ms"].dropna()
    assert stats.total == len(frame)
    assert stats.status_counts == dict(Counter(frame["status"]))
    assert stats.trigger_counts == dict(Counter(frame["trigger_type"]))
    assert stats.avg_duration_ms == approx(durations.mean() if len(durations) else None)
    assert stats.p50_duration_ms == approx(percentile(durations, 50))
    assert stats.p95_duration_ms == approx(percentile(durations, 95))
    assert stats.p99_duration_ms == approx(percentile(durations, 99))
    assert stats.max_duration_ms == (int(durations.max()) if len(durations) else None)
    assert stats.success_rate == approx(success_rate(frame["status"]))
    assert stats.finished == int(frame["status"].isin(FINISHED).sum())
    assert stats.other == int((~frame["status"].isin(KNOWN)).sum())
    assert stats.without_duration == int(frame["duration_ms"].isna().sum())


def pandas_bucket(started: pd.Series, bucket: str) -> pd.Series:
    if bucket == "hour":
        return started.dt.floor("h")
    day = started.dt.floor("D")
    if bucket == "day":
        return day
    return day - pd.to_timedelta(day.dt.day_of_week, unit="D")


@PROPERTY
@given(specs=run_specs, bucket=st.sampled_from(["hour", "day", "week"]))
def test_run_timeseries_equals_pandas(
    engine: Engine, specs: list[dict[str, Any]], bucket: str
) -> None:
    world = reseed(engine, specs)
    frame = named(world.frame())
    series = q.run_timeseries(engine, FlowRunFilter(), bucket=bucket)
    assert series.attrs["bucket"] == bucket
    if frame.empty:
        assert series.empty
        return
    frame["bucket"] = pandas_bucket(frame["started_at"], bucket)
    step = {"hour": "1h", "day": "1D", "week": "7D"}[bucket]
    # Contiguous UTC buckets from the first run's bucket to the last run's bucket.
    expected_index = pd.date_range(frame["bucket"].min(), frame["bucket"].max(), freq=step)
    assert list(series["bucket"]) == list(expected_index)
    assert str(series["bucket"].dt.tz) == "UTC"
    if bucket == "week":
        assert set(series["bucket"].dt.day_of_week) == {0}
    by_bucket = series.set_index("bucket")
    for start, group in frame.groupby("bucket"):
        row = by_bucket.loc[start]
        durations = group["duration_ms"].dropna()
        assert row["runs"] == len(group)
        for status in KNOWN:
            assert row[status] == int((group["status"] == status).sum()), status
        assert row["other"] == int((~group["status"].isin(KNOWN)).sum())
        assert row["without_duration"] == int(group["duration_ms"].isna().sum())
        assert nan_to_none(row["avg_ms"]) == approx(durations.mean() if len(durations) else None)
        assert nan_to_none(row["p50_ms"]) == approx(percentile(durations, 50))
        assert nan_to_none(row["p95_ms"]) == approx(percentile(durations, 95))
        assert nan_to_none(row["success_rate"]) == approx(success_rate(group["status"]))
    empty = ~by_bucket.index.isin(frame["bucket"])
    assert (by_bucket.loc[empty, "runs"] == 0).all()
    assert int(series["runs"].sum()) == len(frame)
    # The status columns add up to runs in every bucket.
    assert (series[[*KNOWN, "other"]].sum(axis=1) == series["runs"]).all()


@PROPERTY
@given(
    specs=run_specs,
    bucket=st.sampled_from(["hour", "day", "week"]),
    start_minute=st.integers(-2 * 24 * 60, SPAN_MINUTES),
    length_minutes=st.integers(1, 12 * 24 * 60),
)
def test_bounded_timeseries_covers_exactly_the_window(
    engine: Engine, specs: list[dict[str, Any]], bucket: str, start_minute: int, length_minutes: int
) -> None:
    world = reseed(engine, specs)
    frame = named(world.frame())
    start = at(minutes=start_minute, seconds=17)  # deliberately not on a bucket boundary
    end = start + timedelta(minutes=length_minutes)
    flt = FlowRunFilter.build(started_after=start, started_before=end)
    series = q.run_timeseries(engine, flt, bucket=bucket)
    # Every bucket that overlaps [start, end), each once, in order, whether or not it has runs.
    first = pandas_bucket(pd.Series([pd.Timestamp(start)]), bucket).iloc[0]
    step = {"hour": "1h", "day": "1D", "week": "7D"}[bucket]
    assert list(series["bucket"]) == list(pd.date_range(first, end, freq=step, inclusive="left"))
    inside = frame[(frame["started_at"] >= start) & (frame["started_at"] < end)].copy()
    inside["bucket"] = pandas_bucket(inside["started_at"], bucket)
    expected = inside.groupby("bucket").size()
    got = series.set_index("bucket")["runs"]
    assert got[got > 0].to_dict() == expected.to_dict()
    assert int(series["failure"].sum()) == int((inside["status"] == "failure").sum())


@PROPERTY
@given(specs=run_specs)
def test_flow_breakdown_equals_pandas(engine: Engine, specs: list[dict[str, Any]]) -> None:
    world = reseed(engine, specs)
    frame = named(world.frame())
    breakdown = q.flow_breakdown(engine, FlowRunFilter())
    assert set(breakdown["flow_id"]) == set(frame["flow_id"])
    assert list(breakdown["runs"]) == sorted(breakdown["runs"], reverse=True)
    for row in breakdown.to_dict("records"):
        group = frame[frame["flow_id"] == row["flow_id"]]
        durations = group["duration_ms"].dropna()
        failures = group[group["status"] == "failure"]
        assert row["flow_name"] == world.flow_names[row["flow_id"]]
        assert row["runs"] == len(group)
        for status in KNOWN:
            assert row[status] == int((group["status"] == status).sum())
        assert row["other"] == int((~group["status"].isin(KNOWN)).sum())
        assert sum(row[s] for s in (*KNOWN, "other")) == row["runs"]
        assert row["without_duration"] == int(group["duration_ms"].isna().sum())
        assert nan_to_none(row["avg_ms"]) == approx(durations.mean() if len(durations) else None)
        assert nan_to_none(row["p50_ms"]) == approx(percentile(durations, 50))
        assert nan_to_none(row["p95_ms"]) == approx(percentile(durations, 95))
        assert nan_to_none(row["success_rate"]) == approx(success_rate(group["status"]))
        assert row["last_run_at"] == group["started_at"].max()
        expected_failure = failures["started_at"].max() if len(failures) else None
        assert nan_to_none(row["last_failure_at"]) == expected_failure


@PROPERTY
@given(specs=run_specs)
def test_error_breakdown_equals_python_grouping(
    engine: Engine, specs: list[dict[str, Any]]
) -> None:
    world = reseed(engine, specs)
    groups: dict[tuple[Any, Any], list[dict[str, Any]]] = defaultdict(list)
    for run in world.runs:
        if status_name(run["status"]) == "failure":
            key = (run["error_type"], message_signature(run["error_message"]))
            groups[key].append(run)
    breakdown = q.error_breakdown(engine, FlowRunFilter())
    found = {
        (nan_to_none(row["error_type"]), nan_to_none(row["signature"])): row
        for row in breakdown.to_dict("records")
    }
    assert set(found) == set(groups)
    assert len(breakdown) == len(groups)
    for key, runs in groups.items():
        row = found[key]
        assert row["count"] == len(runs)
        assert row["flows"] == len({r["flow_id"] for r in runs})
        assert row["first_seen"] == min(r["started_at"] for r in runs)
        assert row["last_seen"] == max(r["started_at"] for r in runs)
        messages = [r["error_message"] for r in runs if r["error_message"] is not None]
        assert nan_to_none(row["sample_message"]) == (max(messages) if messages else None)
    assert list(breakdown["count"]) == sorted(breakdown["count"], reverse=True)
    # Asking only for successes leaves no errors to group.
    assert q.error_breakdown(engine, FlowRunFilter.build(statuses=["success"])).empty


@PROPERTY
@given(
    specs=run_specs,
    statuses=st.lists(st.sampled_from(STATUSES), max_size=3),
    flows=st.lists(st.integers(0, 2), max_size=2),
    min_duration=st.none() | st.integers(0, 600_000),
)
def test_count_runs_equals_pandas(
    engine: Engine,
    specs: list[dict[str, Any]],
    statuses: list[str],
    flows: list[int],
    min_duration: int | None,
) -> None:
    world = reseed(engine, specs)
    frame = named(world.frame())
    flow_ids = [world.flows[i] for i in flows]
    flt = FlowRunFilter.build(statuses=statuses, flow_ids=flow_ids, min_duration_ms=min_duration)
    mask = pd.Series(True, index=frame.index)
    if statuses:
        mask &= frame["status"].isin([status_name(s) for s in statuses])
    if flow_ids:
        mask &= frame["flow_id"].isin(flow_ids)
    if min_duration is not None:
        mask &= frame["duration_ms"] >= min_duration  # NaN compares False, as NULL does
    assert q.count_runs(engine, flt) == int(mask.sum())


def test_timeseries_fills_empty_buckets_of_a_bounded_range(world: World) -> None:
    world.add(
        [
            world.run(started_at=at(days=1, hours=5), duration_ms=10),
            world.run(started_at=at(days=3, hours=1), status="failure", duration_ms=30),
        ]
    )
    flt = FlowRunFilter.build(started_after=BASE, started_before=at(days=5))
    series = q.run_timeseries(world.engine, flt)
    assert series.attrs["bucket"] == "day"  # chosen automatically for a 5-day range
    assert list(series["bucket"]) == list(pd.date_range(BASE, periods=5, freq="D"))
    assert list(series["runs"]) == [0, 1, 0, 1, 0]
    assert list(series["failure"]) == [0, 0, 0, 1, 0]
    assert series["success_rate"].isna().tolist() == [True, False, True, False, True]


@pytest.mark.parametrize(
    ("days", "bucket"), [(1, "hour"), (3, "hour"), (4, "day"), (120, "day"), (121, "week")]
)
def test_bucket_is_chosen_from_the_range(days: int, bucket: str) -> None:
    assert q.choose_bucket(BASE, at(days=days)) == bucket


def test_timeseries_rejects_bad_and_oversized_buckets(world: World) -> None:
    with pytest.raises(InvalidQuery, match="bucket"):
        q.run_timeseries(world.engine, FlowRunFilter(), bucket="minute")
    huge = FlowRunFilter.build(started_after=BASE, started_before=at(days=400))
    with pytest.raises(InvalidQuery, match="bucket"):
        q.run_timeseries(world.engine, huge, bucket="hour")


@PROPERTY
@given(
    specs=run_specs,
    by=st.sampled_from(["flow_id", "status", "trigger_type", "error_type"]),
    bucket=st.sampled_from(["hour", "day", "week"]),
)
def test_count_timeseries_equals_pandas(
    engine: Engine, specs: list[dict[str, Any]], by: str, bucket: str
) -> None:
    world = reseed(engine, specs)
    frame = named(world.frame())
    counted = q.count_timeseries(engine, FlowRunFilter(), by=by, bucket=bucket)
    assert counted.attrs["bucket"] == bucket
    frame["bucket"] = pandas_bucket(frame["started_at"], bucket)
    # Raw values (None stays None); statuses by what they stand for (SUCCESS is success).
    values = [status_name(run[by]) if by == "status" else run[by] for run in world.runs]
    expected = Counter(zip(frame["bucket"], values, strict=True))
    found = {(row.bucket, nan_to_none(getattr(row, by))): row.runs for row in counted.itertuples()}
    assert found == dict(expected)
    assert list(counted["bucket"]) == sorted(counted["bucket"])


def test_count_timeseries_rejects_unknown_dimensions(world: World) -> None:
    with pytest.raises(InvalidQuery, match="by"):
        q.count_timeseries(world.engine, FlowRunFilter(), by="session_id")
