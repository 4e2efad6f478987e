"""How a range is split between the rollup and raw rows (data.rollup.pieces), as a table
of cases: whole days from the day tables, whole hours around them from the hour tables,
the minutes at either end from raw rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from runfactory import at, clear, make_world
from sqlalchemy import Engine
from test_data_rollup import assert_flows_match, assert_stats_match

from data import queries as q
from data.filters import FlowRunFilter
from data.rollup.pieces import pieces


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


CASES = [
    ("no bounds", None, None, [("day", None, None)]),
    ("whole days", "2026-11-01", "2026-11-08", [("day", "2026-11-01", "2026-11-08")]),
    (
        "whole hours",
        "2026-11-01 05:00",
        "2026-11-01 09:00",
        [("hour", "2026-11-01 05:00", "2026-11-01 09:00")],
    ),
    (
        "midnights of a zone five hours behind UTC",
        "2026-11-01 05:00",
        "2026-11-08 05:00",
        [
            ("hour", "2026-11-01 05:00", "2026-11-02 00:00"),
            ("day", "2026-11-02 00:00", "2026-11-08 00:00"),
            ("hour", "2026-11-08 00:00", "2026-11-08 05:00"),
        ],
    ),
    (
        "a days=7 window ending now",
        "2026-11-19 10:17:03",
        "2026-11-26 10:17:03",
        [
            (None, "2026-11-19 10:17:03", "2026-11-19 11:00"),
            ("hour", "2026-11-19 11:00", "2026-11-20 00:00"),
            ("day", "2026-11-20 00:00", "2026-11-26 00:00"),
            ("hour", "2026-11-26 00:00", "2026-11-26 10:00"),
            (None, "2026-11-26 10:00", "2026-11-26 10:17:03"),
        ],
    ),
    (
        "inside one day",
        "2026-11-01 05:30",
        "2026-11-01 09:10",
        [
            (None, "2026-11-01 05:30", "2026-11-01 06:00"),
            ("hour", "2026-11-01 06:00", "2026-11-01 09:00"),
            (None, "2026-11-01 09:00", "2026-11-01 09:10"),
        ],
    ),
    (
        "open end",
        "2026-11-01 05:30",
        None,
        [
            (None, "2026-11-01 05:30", "2026-11-01 06:00"),
            ("hour", "2026-11-01 06:00", "2026-11-02 00:00"),
            ("day", "2026-11-02 00:00", None),
        ],
    ),
    (
        "open start",
        None,
        "2026-11-01 00:00:01",
        [("day", None, "2026-11-01 00:00"), (None, "2026-11-01 00:00", "2026-11-01 00:00:01")],
    ),
    ("less than a whole hour inside", "2026-11-01 05:30", "2026-11-01 06:50", None),
    ("within one hour", "2026-11-01 05:10", "2026-11-01 05:50", None),
]


@pytest.mark.parametrize(("name", "start", "end", "expected"), CASES, ids=[c[0] for c in CASES])
def test_pieces(name: str, start: str | None, end: str | None, expected: list | None) -> None:
    flt = FlowRunFilter(
        started_after=t(start) if start else None, started_before=t(end) if end else None
    )
    found = pieces(flt)
    if expected is None:
        assert found is None
        return
    assert found is not None
    assert [(p.grain, p.flt.started_after, p.flt.started_before) for p in found] == [
        (grain, t(low) if low else None, t(high) if high else None) for grain, low, high in expected
    ]


def test_a_filter_the_rollup_cannot_see_has_no_pieces() -> None:
    assert pieces(FlowRunFilter(session_id="s-1")) is None
    assert pieces(FlowRunFilter(min_duration_ms=5, started_after=t("2026-11-01"))) is None


def test_pieces_keep_the_other_fields() -> None:
    flt = FlowRunFilter(
        statuses=("failure",), started_after=t("2026-11-01 05:30"), started_before=t("2026-11-03")
    )
    found = pieces(flt)
    assert found is not None and len(found) == 3
    assert all(p.flt.statuses == ("failure",) for p in found)


def _dense(engine: Engine) -> None:
    """Runs every 7 minutes over three days (and some on the edges' exact bounds), mixed
    statuses, triggers and durations (none, negative, huge): the edges hold many runs."""
    clear(engine)
    world = make_world(engine)
    statuses = ["success", "failure", "running", "SUCCESS", "weird"]
    triggers = ["manual", "api", "cron"]
    durations = [None, 0, 7, 1_234, 56_789, -40, 2**41]
    world.add(
        world.run(
            flow=i % 3,
            status=statuses[i % 5],
            trigger_type=triggers[i % 3],
            started_at=at(minutes=7 * i),
            duration_ms=durations[i % 7],
        )
        for i in range(3 * 24 * 60 // 7)
    )


ODD = [
    FlowRunFilter(started_after=at(minutes=17), started_before=at(days=2, hours=3, minutes=41)),
    FlowRunFilter(started_after=at(hours=5, minutes=7), started_before=at(hours=9, minutes=49)),
    FlowRunFilter(started_after=at(days=1, minutes=35)),
    FlowRunFilter(started_before=at(days=1, hours=2, minutes=21), statuses=("failure", "weird")),
    FlowRunFilter(started_after=at(minutes=14), started_before=at(days=2, minutes=56)),
]


def test_odd_windows_read_rollup_and_edges_and_equal_raw_rows(engine: Engine) -> None:
    """KPIs and the per-flow table over windows that start and end inside an hour: counts
    exact, percentiles within the bound, the last run exact; the edges are really read
    from raw rows (their runs are counted once, not dropped nor doubled)."""
    _dense(engine)
    for flt in ODD:
        found = pieces(flt)
        assert (found is not None and found[0].grain is None) or flt.started_after is None
        assert_stats_match(engine, flt)
        assert_flows_match(engine, flt)
    edge = FlowRunFilter(started_after=at(minutes=17), started_before=at(hours=1))
    assert q.count_runs(engine, edge, exact=True) > 0  # the first window's head holds runs
