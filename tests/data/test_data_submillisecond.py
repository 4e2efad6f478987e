"""A sub-millisecond fraction never moves a run across a bucket edge (issue 16, case 7).

SQLite's date functions round to the millisecond: a run at 23:59:59.9996 in New York was
counted in the next day on the raw-row path. Runs a few microseconds before each edge,
and on it, are bucketed on every path and counted by bounds on the edge, against
``zone_oracle`` (zoneinfo, from instants).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from runfactory import World
from test_data_zone_dst_buckets import check_paths, seed

from data import queries as q
from data.filters import FlowRunFilter

FRACTIONS = (999_499, 999_500, 999_600, 999_999)  # microseconds past the last second
# (zone, unit, the local wall-clock start of a bucket)
CASES = [
    ("America/New_York", "day", "2024-03-06 00:00"),
    ("America/New_York", "week", "2024-03-11 00:00"),  # the Monday after its DST change
    ("America/New_York", "hour", "2024-03-06 14:00"),
    ("UTC", "day", "2024-03-06 00:00"),
    ("UTC", "week", "2024-03-11 00:00"),
    ("UTC", "hour", "2024-03-06 14:00"),
    ("Asia/Kolkata", "day", "2024-03-06 00:00"),
    ("Asia/Kathmandu", "hour", "2024-03-06 14:00"),
]


@pytest.mark.parametrize(("zone", "unit", "edge_text"), CASES)
def test_a_run_just_before_an_edge_stays_in_its_bucket(
    world: World, zone: str, unit: str, edge_text: str
) -> None:
    edge = datetime.fromisoformat(edge_text).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    before = [edge - timedelta(seconds=1) + timedelta(microseconds=f) for f in FRACTIONS]
    moments = seed(world, [*before, edge, edge + timedelta(microseconds=400)])
    span = (edge - timedelta(days=8), edge + timedelta(days=8))
    check_paths(
        world.engine,
        FlowRunFilter(started_after=span[0], started_before=span[1]),
        unit,
        zone,
        moments,
    )
    # Bounds on the edge: the raw rows' text comparison keeps every fraction on its side.
    for exact in (True, False):
        up_to = FlowRunFilter(started_after=span[0], started_before=edge)
        assert q.count_runs(world.engine, up_to, exact=exact) == len(before)
        from_edge = FlowRunFilter(started_after=edge, started_before=span[1])
        assert q.count_runs(world.engine, from_edge, exact=exact) == 2
