"""Local days and weeks of zones with whole-hour offsets, from the day rollup plus the
hours that cross a local midnight (data.rollup.local_days): equal to raw rows, across
the DST changes of New York (Mar 10), London (Mar 31) and Sydney (Apr 7, 2024)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from runfactory import clear, make_world
from sqlalchemy import Engine, event
from test_data_rollup import COUNTS, assert_within, raw_durations

from data import queries as q
from data.filters import FlowRunFilter

FIRST = datetime(2024, 3, 1, tzinfo=UTC)
DAYS = 40


@pytest.fixture
def dense(engine: Engine) -> Engine:
    """A run every 37 minutes for 40 days: statuses, flows and durations vary."""
    clear(engine)
    world = make_world(engine)
    statuses = ["success", "failure", "running", "SUCCESS", "weird"]
    durations = [None, 3, 480, 9_100, 77_000, -12]
    world.add(
        world.run(
            flow=i % 3,
            status=statuses[i % 5],
            started_at=FIRST + timedelta(minutes=37 * i),
            duration_ms=durations[i % 6],
        )
        for i in range(DAYS * 24 * 60 // 37)
    )
    return engine


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def remember(*args: object) -> None:
        sql = str(args[2])
        # Not the schema inspection behind data.rollup.sources.layout (re-read every few
        # seconds): it names the rollup's tables without reading them.
        if not sql.lstrip().upper().startswith("PRAGMA") and "pg_catalog" not in sql:
            seen.append(sql)

    event.listen(engine, "before_cursor_execute", remember)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", remember)


def local_midnight(day: str, zone: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


CASES = [
    ("America/New_York", "day"),
    ("America/New_York", "week"),
    ("Europe/London", "day"),
    ("Australia/Sydney", "day"),
    ("Australia/Sydney", "week"),
    ("Pacific/Kiritimati", "day"),  # +14: most of each UTC day is another local day
]


@pytest.mark.parametrize(("zone", "unit"), CASES)
def test_local_buckets_from_the_day_rollup_equal_raw_rows(
    dense: Engine, zone: str, unit: str
) -> None:
    flt = FlowRunFilter(
        started_after=local_midnight("2024-03-02", zone),
        started_before=local_midnight("2024-04-09", zone),
    )
    for window in (flt, flt.replace(statuses=("failure", "weird")), FlowRunFilter()):
        with statements(dense) as seen:
            approx = q.run_timeseries(dense, window, bucket=unit, tz=zone, exact=False)
        assert any("flowrun_rollup_day_hist" in sql for sql in seen)  # the local-days path
        exact = q.run_timeseries(dense, window, bucket=unit, tz=zone, exact=True)
        pd.testing.assert_frame_equal(approx[["bucket", *COUNTS]], exact[["bucket", *COUNTS]])
        np.testing.assert_allclose(approx["avg_ms"], exact["avg_ms"], rtol=1e-9)
        raw = raw_durations(dense, window)
        local = raw["started_at"].dt.tz_convert(zone).dt.normalize()
        if unit == "week":
            local = (local - pd.to_timedelta(local.dt.day_of_week, unit="D")).dt.normalize()
        keys = local.dt.tz_convert("UTC")
        groups = {k: g["duration_ms"].to_numpy() for k, g in raw.groupby(keys)}
        assert_within(approx, "bucket", groups)
        assert approx["runs"].sum() == q.count_runs(dense, window, exact=True)
