"""Time buckets in a time zone, across DST changes and half-hour offsets, on both backends.

The expected bucket of each run is computed independently with the standard library:
the run's local time (zoneinfo), truncated to the local hour/day/Monday, back to UTC.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from runfactory import World

from data import queries as q
from data.errors import InvalidQuery
from data.filters import FlowRunFilter

# Berlin leaves summer time on 2026-10-25 (01:00 UTC), New York on 2026-11-01 (06:00 UTC);
# Kolkata is UTC+05:30 all year; Lord Howe shifts by half an hour.
ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "UTC"]
START = datetime(2026, 10, 20, tzinfo=UTC)
END = datetime(2026, 11, 6, tzinfo=UTC)


def expected_bucket(moment: datetime, unit: str, tz: ZoneInfo) -> datetime:
    local = moment.astimezone(tz)
    if unit == "hour":
        # Keeps the fold, so the repeated fall-back hour stays two distinct instants.
        return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    day = local.date()
    if unit == "week":
        day -= timedelta(days=day.weekday())
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def seed(world: World) -> list[datetime]:
    """A run every 50 minutes over the range (covers both DST changes)."""
    moments = []
    moment = START
    while moment < END:
        moments.append(moment)
        moment += timedelta(minutes=50)
    world.add(world.run(started_at=m, duration_ms=(i * 37) % 5000) for i, m in enumerate(moments))
    return moments


@pytest.mark.parametrize("zone_name", ZONES)
@pytest.mark.parametrize("unit", ["hour", "day", "week"])
def test_counts_per_local_bucket_match_the_standard_library(
    world: World, zone_name: str, unit: str
) -> None:
    moments = seed(world)
    tz = ZoneInfo(zone_name)
    span = (
        (START, END) if unit != "hour" else (START + timedelta(days=4), START + timedelta(days=7))
    )
    if zone_name == "America/New_York" and unit == "hour":
        span = (datetime(2026, 10, 31, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC))
    flt = FlowRunFilter(started_after=span[0], started_before=span[1])
    inside = [m for m in moments if span[0] <= m < span[1]]
    expected = Counter(expected_bucket(m, unit, tz) for m in inside)

    frame = q.run_timeseries(world.engine, flt, bucket=unit, tz=zone_name)
    got = {b.to_pydatetime(): int(n) for b, n in zip(frame["bucket"], frame["runs"], strict=True)}
    assert {b: n for b, n in got.items() if n} == dict(expected)
    assert sum(got.values()) == len(inside)
    # Empty buckets are filled between the first and the last one.
    assert list(frame["bucket"]) == sorted(frame["bucket"])
    assert frame["bucket"].is_unique

    counted = q.count_timeseries(world.engine, flt, by="status", bucket=unit, tz=zone_name)
    per_bucket = counted.groupby("bucket")["runs"].sum()
    assert {b.to_pydatetime(): int(n) for b, n in per_bucket.items()} == dict(expected)


def test_berlin_fall_back_day_has_25_hours_of_runs(world: World) -> None:
    seed(world)
    flt = FlowRunFilter(
        started_after=datetime(2026, 10, 24, 22, tzinfo=UTC),  # local midnight, summer time
        started_before=datetime(2026, 10, 25, 23, tzinfo=UTC),  # next local midnight, winter
    )
    frame = q.run_timeseries(world.engine, flt, bucket="day", tz="Europe/Berlin")
    assert len(frame) == 1
    assert frame["bucket"].iloc[0].to_pydatetime() == datetime(2026, 10, 24, 22, tzinfo=UTC)
    assert int(frame["runs"].iloc[0]) == q.count_runs(world.engine, flt) == 30  # 25 h / 50 min


def test_unknown_time_zone_is_invalid_input(world: World) -> None:
    with pytest.raises(InvalidQuery, match="tz: unknown time zone 'Mars/Base'"):
        q.run_timeseries(world.engine, FlowRunFilter(), tz="Mars/Base")
    with pytest.raises(InvalidQuery, match="tz: unknown"):
        q.count_timeseries(world.engine, FlowRunFilter(), by="status", tz="../etc/passwd")
