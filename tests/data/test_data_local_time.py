"""data.local_time: where local days, weeks and hours start, from instants, against
``zone_oracle`` (zoneinfo over every minute) and a table of known days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zone_oracle import Oracle, transitions

from data.local_time import bucket_end, bucket_range, bucket_start, bucket_starts, day_start

# (zone, local date, the local wall clock and offset it starts at)
DAYS = [
    ("Africa/Cairo", "2024-04-26", "2024-04-26 01:00+03:00"),  # midnight skipped
    ("America/Santiago", "2024-09-08", "2024-09-08 01:00-03:00"),
    ("America/Havana", "2024-03-10", "2024-03-10 01:00-04:00"),
    ("America/Havana", "2024-11-03", "2024-11-03 00:00-04:00"),  # the first of two midnights
    ("America/Havana", "2024-11-04", "2024-11-04 00:00-05:00"),
    ("Africa/Cairo", "2024-11-01", "2024-11-01 00:00+02:00"),  # after 23:00 repeated
    ("Asia/Jerusalem", "2024-03-29", "2024-03-29 00:00+02:00"),
    ("Pacific/Apia", "2011-12-30", "2011-12-31 00:00+14:00"),  # a date Samoa skipped
    ("Asia/Kathmandu", "2024-03-10", "2024-03-10 00:00+05:45"),
]


@pytest.mark.parametrize(("zone", "day", "starts"), DAYS)
def test_a_local_day_starts_at_its_first_instant(zone: str, day: str, starts: str) -> None:
    expected = datetime.fromisoformat(starts).astimezone(UTC)
    assert day_start(date.fromisoformat(day), ZoneInfo(zone)) == expected


def test_jerusalem_weeks_start_on_monday_across_a_friday_change() -> None:
    zone = ZoneInfo("Asia/Jerusalem")
    starts = bucket_range(
        "week", zone, datetime(2024, 3, 20, tzinfo=UTC), datetime(2024, 4, 10, tzinfo=UTC)
    )
    local = [s.astimezone(zone) for s in starts]
    assert [f"{m:%a %H:%M}" for m in local] == ["Mon 00:00"] * 4
    assert [m.date() for m in local] == [date(2024, 3, d) for d in (18, 25)] + [
        date(2024, 4, d) for d in (1, 8)
    ]


ZONES = [
    "Asia/Jerusalem",
    "Africa/Cairo",
    "America/Santiago",
    "America/Havana",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Pacific/Kiritimati",
    "America/New_York",
    "Europe/Dublin",  # negative DST in tzdata: winter is the "daylight" offset
]
SPAN = (datetime(2023, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
CHANGES = {zone: transitions(zone, *SPAN) or [datetime(2024, 6, 1, tzinfo=UTC)] for zone in ZONES}


@settings(max_examples=150, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    pick=st.integers(0, 10),
    micros=st.integers(-3 * 86_400 * 10**6, 3 * 86_400 * 10**6),
    unit=st.sampled_from(["hour", "day", "week"]),
)
def test_bucket_of_an_instant_near_a_change_is_zoneinfos(
    zone: str, pick: int, micros: int, unit: str
) -> None:
    changes = CHANGES[zone]
    moment = changes[pick % len(changes)] + timedelta(microseconds=micros)
    oracle = Oracle(zone, unit, moment, moment + timedelta(days=8))
    start = bucket_start(moment, unit, ZoneInfo(zone))
    assert start == oracle.bucket(moment)
    following = [b for b in oracle.index() if b > start]
    assert bucket_end(start, unit, ZoneInfo(zone)) == following[0]
    vectorised = bucket_starts(pd.DatetimeIndex([moment]), unit, ZoneInfo(zone))
    assert vectorised[0].to_pydatetime() == start
