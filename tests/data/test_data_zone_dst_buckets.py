"""Hour, day and week buckets of zones whose DST changes fall mid-week, skip or repeat a
midnight, or shift by 30 minutes, and of zones with odd offsets, on every path (raw rows,
the rollup, the counts grid) and both backends, against ``zone_oracle`` (zoneinfo over
every minute, from instants).

Issue 16, cases 2 and 4: Jerusalem's Friday change made a bogus Sunday week on the rollup
path; Cairo, Santiago and Havana answered "nonexistent time" / "cannot infer dst time".
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runfactory import World, clear, make_world
from sqlalchemy import Engine
from test_data_rollup_local_days import statements
from zone_oracle import Oracle, offsets, transitions

from data import queries as q
from data.filters import FlowRunFilter

UNITS = ("hour", "day", "week")
# (zone, a day with a DST change or any day for zones without one, what is special)
CASES = [
    ("Asia/Jerusalem", "2024-03-29", "spring forward on a Friday: mid-week"),
    ("Asia/Jerusalem", "2024-10-27", "fall back on a Sunday"),
    ("Africa/Cairo", "2024-04-26", "midnight skipped: Friday starts at 01:00"),
    ("Africa/Cairo", "2024-10-31", "Thursday's 23:00 repeated"),
    ("America/Santiago", "2024-09-08", "midnight skipped: Sunday starts at 01:00"),
    ("America/Santiago", "2024-04-06", "Saturday's 23:00 repeated"),
    ("America/Havana", "2024-03-10", "midnight skipped: Sunday starts at 01:00"),
    ("America/Havana", "2024-11-03", "midnight repeated: Sunday starts at the first 00:00"),
    ("Australia/Lord_Howe", "2024-10-06", "30-minute spring forward"),
    ("Australia/Lord_Howe", "2024-04-07", "30-minute fall back"),
    ("Asia/Kolkata", "2024-03-10", "+05:30 all year"),
    ("Asia/Kathmandu", "2024-03-10", "+05:45 all year"),
    ("Pacific/Kiritimati", "2024-03-10", "+14: most of a UTC day is the next local day"),
]
STATUSES = ("success", "failure", "running", "SUCCESS", "weird")


def seed(world: World, moments: Iterable[datetime]) -> list[datetime]:
    added = sorted(set(moments))
    world.add(
        world.run(
            flow=i % 3,
            status=STATUSES[i % len(STATUSES)],
            started_at=m,
            duration_ms=None if i % 7 == 0 else (i * 131) % 90_000,
        )
        for i, m in enumerate(added)
    )
    return added


def edges(zone: str, start: datetime, end: datetime) -> list[datetime]:
    """Instants either side of every local midnight and offset change in [start, end)."""
    day_starts = Oracle(zone, "day", start, end).index()
    tick = timedelta(microseconds=1)
    return [
        m + delta
        for m in day_starts + transitions(zone, start, end)
        for delta in (-tick, timedelta(0), tick, timedelta(minutes=30))
    ]


def case_moments(zone: str, start: datetime, end: datetime) -> list[datetime]:
    """A run every 47 minutes from a day before to a day after, plus the edges."""
    low, step = start - timedelta(days=1), timedelta(minutes=47)
    steady = [low + i * step for i in range(int((end + timedelta(days=1) - low) / step))]
    return steady + edges(zone, start, end)


def whole_hour_zone(zone: str, start: datetime, end: datetime) -> bool:
    seen = offsets(zone, start - timedelta(days=2), end + timedelta(days=2))
    return all(offset % timedelta(hours=1) == timedelta(0) for offset in seen)


def check_paths(
    engine: Engine, flt: FlowRunFilter, unit: str, zone: str, moments: list[datetime]
) -> None:
    """Every path's buckets and counts equal the oracle's."""
    assert flt.started_after is not None and flt.started_before is not None
    oracle = Oracle(zone, unit, flt.started_after, flt.started_before)
    expected, index = oracle.counts(moments), oracle.index()
    for exact in (True, False):
        with statements(engine) as seen:
            frame = q.run_timeseries(engine, flt, bucket=unit, tz=zone, exact=exact)
        got = [b.to_pydatetime() for b in frame["bucket"]]
        where = f"{zone} {unit} exact={exact}"
        assert got == index, where
        runs = dict(zip(got, frame["runs"].astype(int), strict=True))
        assert runs == {b: expected.get(b, 0) for b in index}, where
        rolled = any("flowrun_rollup" in sql for sql in seen)
        # exact=False reads the rollup wherever it can answer: zones with whole-hour
        # offsets and bounds on whole UTC hours.
        aligned = all(m.minute == m.second == m.microsecond == 0 for m in oracle_bounds(flt))
        assert rolled == (not exact and aligned and whole_hour_zone(zone, *oracle_bounds(flt)))
    for by in ("status", "error_type"):
        counted = q.count_timeseries(engine, flt, by=by, bucket=unit, tz=zone)
        per_bucket = counted.groupby("bucket")["runs"].sum()
        got_counts = {b.to_pydatetime(): int(n) for b, n in per_bucket.items()}
        assert got_counts == {b: n for b, n in expected.items() if n}, f"{zone} {unit} by {by}"


def oracle_bounds(flt: FlowRunFilter) -> tuple[datetime, datetime]:
    assert flt.started_after is not None and flt.started_before is not None
    return flt.started_after, flt.started_before


def windows(zone: str, day: str) -> list[FlowRunFilter]:
    """Eight days either side of ``day``: whole UTC days, and whole local days."""
    middle = datetime.fromisoformat(day).replace(tzinfo=UTC)
    utc = (middle - timedelta(days=8), middle + timedelta(days=8))
    local = Oracle(zone, "day", *utc).firsts
    local_days = (local[date.fromisoformat(day) - timedelta(days=7)], local[utc[1].date()])
    return [FlowRunFilter(started_after=a, started_before=b) for a, b in (utc, local_days)]


@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.parametrize(("zone", "day", "what"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_zone_buckets_on_every_path_equal_zoneinfo(
    world: World, zone: str, day: str, what: str, unit: str
) -> None:
    flts = windows(zone, day)
    moments = seed(world, case_moments(zone, *oracle_bounds(flts[0])))
    for flt in flts:
        check_paths(world.engine, flt, unit, zone, moments)


PROPERTY_ZONES = [
    "Asia/Jerusalem",
    "Africa/Cairo",
    "America/Santiago",
    "America/Havana",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Pacific/Kiritimati",
]
YEARS = (datetime(2023, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))


def anchors(zone: str) -> list[datetime]:
    """The zone's offset changes in 2023-2025, or a few midnights-ish instants."""
    found = transitions(zone, *YEARS)
    return found or [datetime(2024, m, 10, 18, 30, tzinfo=UTC) for m in (1, 6, 11)]


NEAR = st.one_of(
    st.integers(-2_000_000, 2_000_000),  # within two seconds (microseconds)
    st.integers(-3 * 86_400, 3 * 86_400).map(lambda s: s * 1_000_000),  # whole seconds
)


@st.composite
def scenarios(draw: Any) -> tuple[str, str, datetime, list[datetime], FlowRunFilter]:
    zone = draw(st.sampled_from(PROPERTY_ZONES))
    anchor = draw(st.sampled_from(anchors(zone)))
    unit = draw(st.sampled_from(UNITS))
    start = anchor.replace(minute=0) - timedelta(days=3)
    end = start + timedelta(days=6)
    if draw(st.booleans()):  # bounds inside an hour: raw rows, or the rollup's pieces
        start += timedelta(minutes=draw(st.integers(1, 59)))
        end -= timedelta(minutes=draw(st.integers(1, 59)))
    day_starts = Oracle(zone, "day", start, end).index()
    moments = [anchor + timedelta(microseconds=x) for x in draw(st.lists(NEAR, max_size=30))]
    for _ in range(draw(st.integers(0, 6))):
        moments.append(draw(st.sampled_from(day_starts)) + timedelta(microseconds=draw(NEAR)))
    flt = FlowRunFilter(started_after=start, started_before=end)
    return zone, unit, anchor, moments, flt


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
def test_random_instants_near_dst_changes_bucket_like_zoneinfo(
    engine: Engine, scenario: tuple[str, str, datetime, list[datetime], FlowRunFilter]
) -> None:
    zone, unit, _, moments, flt = scenario
    clear(engine)
    world = make_world(engine)
    check_paths(engine, flt, unit, zone, seed(world, moments))
