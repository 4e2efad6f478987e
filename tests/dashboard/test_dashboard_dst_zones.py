"""The dashboard in zones whose DST change skips or repeats midnight (issue 16, case 4):
the pages render a date range across the change, the volume chart's day bars are the
zone's local days (count, start and width) from ``zone_oracle``, and the presets are
whole local days or hours computed from instants."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from dashworld import app, assert_clean
from flows_errors_world import Seeded
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest
from test_charts_pages import _figures
from zone_oracle import Oracle

from dashboard.state.url_filters import FilterState, filter_for
from data import queries as q

PAGES = ("views/flows.py", "views/errors.py", "views/history.py")
# (zone, first and last local day of a custom range across its change)
CASES = [
    ("America/Santiago", "2024-09-04", "2024-09-11"),  # Sunday Sep 8 starts at 01:00
    ("Africa/Cairo", "2024-04-22", "2024-04-29"),  # Friday Apr 26 starts at 01:00
    ("America/Havana", "2024-10-30", "2024-11-06"),  # Sunday Nov 3: midnight twice
]


def seed_runs(db_url: str, moments: list[datetime]) -> None:
    seeded = Seeded(db_url)
    seeded.add_user("ana")
    seeded.add_flow("f", "Flow", "ana")
    seeded.add_runs_at("f", moments)


def check_volume_bars(at: AppTest, oracle: Oracle, moments: list[datetime], end: datetime) -> None:
    """The volume chart's bars: one per bucket of the oracle, its count, its local start
    (what a click filters on) and its width (0.9 of the bucket: 23-25 h days, 30-min hours)."""
    bars = _figures(at)[0].data[0]
    index, counts = oracle.index(), oracle.counts(moments)
    assert list(bars.y) == [counts[b] for b in index]
    assert [row[0] for row in bars.customdata] == [
        b.astimezone(oracle.zone).strftime("%Y-%m-%dT%H:%M") for b in index
    ]
    ends = [*index[1:], end]
    lengths = [(b - a).total_seconds() * 1000 * 0.9 for a, b in zip(index, ends, strict=True)]
    assert list(bars.width) == pytest.approx(lengths)


@pytest.mark.parametrize(("zone", "first", "last"), CASES)
def test_pages_draw_local_days_across_a_dst_midnight(
    monkeypatch: pytest.MonkeyPatch, db_url: str, zone: str, first: str, last: str
) -> None:
    first_utc, last_utc = (datetime.fromisoformat(d).replace(tzinfo=UTC) for d in (first, last))
    around = Oracle(zone, "day", first_utc, last_utc + timedelta(days=2))
    start = around.firsts[date.fromisoformat(first)]
    end = around.firsts[date.fromisoformat(last) + timedelta(days=1)]
    low = start - timedelta(days=1)
    moments = [low + timedelta(minutes=53 * i) for i in range(10 * 24 * 60 // 53)]
    oracle = Oracle(zone, "day", start, end)
    moments += [b + d for b in oracle.index() for d in (timedelta(0), -timedelta(microseconds=1))]
    seed_runs(db_url, moments)

    at = app(monkeypatch, db_url, {"from": first, "to": last, "tz": zone})
    assert_clean(at)
    check_volume_bars(at, oracle, moments, end)
    for page in PAGES:
        at.switch_page(page).run()
        assert_clean(at)


@pytest.mark.parametrize(
    ("zone", "start"),
    [
        ("America/Havana", datetime(2024, 11, 2, 23, tzinfo=UTC)),  # 00:00 twice
        ("America/New_York", datetime(2024, 11, 2, 23, tzinfo=UTC)),  # 01:00 twice
        ("Australia/Lord_Howe", datetime(2024, 10, 4, 23, tzinfo=UTC)),  # 02:00 -> 02:30
    ],
)
def test_hour_charts_across_a_repeated_or_half_hour_change(
    monkeypatch: pytest.MonkeyPatch, db_url: str, zone: str, start: datetime
) -> None:
    end = start + timedelta(days=1)
    moments = [start + timedelta(minutes=7 * i) for i in range(24 * 60 // 7)]
    seed_runs(db_url, moments)
    oracle = Oracle(zone, "hour", start, end)
    span = [m.astimezone(oracle.zone).strftime("%Y-%m-%dT%H:%M") for m in (start, end)]
    at = app(monkeypatch, db_url, {"from": span[0], "to": span[1], "tz": zone})
    assert_clean(at)
    check_volume_bars(at, oracle, moments, end)


def test_presets_are_local_days_and_hours_from_instants(engine: Engine) -> None:
    """ "Last 7 days" in Santiago across its skipped midnight and "Last 24 hours" in Lord
    Howe across its half-hour change: the bounds and the series' buckets are the oracle's."""
    for zone, unit, now in (
        ("America/Santiago", "day", datetime(2024, 9, 10, 15, 7, tzinfo=UTC)),
        ("Australia/Lord_Howe", "hour", datetime(2024, 10, 5, 18, 7, tzinfo=UTC)),
        ("Australia/Lord_Howe", "hour", datetime(2024, 4, 7, 1, 7, tzinfo=UTC)),
    ):
        preset = "7d" if unit == "day" else "24h"
        flt = filter_for(FilterState(range=preset, tz=zone), now)
        near = Oracle(zone, unit, now - timedelta(days=8), now + timedelta(days=1))
        after = [b for b in near.index() if b > now]
        assert flt.started_before == after[0]  # the end of the current local day / hour
        if unit == "day":
            assert flt.started_after == near.index()[near.index().index(after[0]) - 7]
        else:
            assert flt.started_after == after[0] - timedelta(hours=24)
        assert flt.started_after is not None and flt.started_before is not None
        series = q.run_timeseries(engine, flt, tz=zone)
        assert series.attrs["bucket"] == unit
        expected = Oracle(zone, unit, flt.started_after, flt.started_before).index()
        assert [b.to_pydatetime() for b in series["bucket"]] == expected
