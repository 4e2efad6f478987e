"""/stats/timeseries in zones whose DST change skips or repeats midnight (Cairo, Santiago,
Havana) or falls mid-week (Jerusalem): no 500, and the buckets and their counts equal
``zone_oracle`` (zoneinfo over every minute) on raw rows and on the rollup (issue 16,
cases 2 and 4)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from apiworld import API, World
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert
from zone_oracle import Oracle

from data.db import session_scope
from data.models import FlowRun
from data.rollup import reader

CASES = [
    ("Africa/Cairo", "2024-04-26"),  # Friday starts at 01:00
    ("America/Santiago", "2024-09-08"),  # Sunday starts at 01:00
    ("America/Havana", "2024-03-10"),  # Sunday starts at 01:00
    ("America/Havana", "2024-11-03"),  # Sunday's midnight happens twice
    ("Asia/Jerusalem", "2024-03-29"),  # Friday 02:00 -> 03:00
]


def add_runs(engine: Engine, world: World, moments: list[datetime]) -> None:
    rows = [
        {
            "id": uuid.uuid4(),
            "flow_id": world.flows["Alpha"],
            "user_id": world.users["alice"],
            "status": ("success", "failure")[i % 2],
            "trigger_type": "api",
            "started_at": moment,
            "duration_ms": 40 + i,
        }
        for i, moment in enumerate(moments)
    ]
    with session_scope(engine) as session:
        session.execute(insert(FlowRun), rows)


@pytest.mark.parametrize("bucket", ["hour", "day", "week"])
@pytest.mark.parametrize(("zone", "day"), CASES)
def test_timeseries_in_a_zone_whose_midnight_dst_skips_or_repeats(
    client: TestClient,
    world: World,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    zone: str,
    day: str,
    bucket: str,
) -> None:
    monkeypatch.setattr(reader, "RAW_LIMIT", 0)  # exact=false: the rollup wherever it can
    middle = datetime.fromisoformat(day).replace(tzinfo=UTC)
    start, end = middle - timedelta(days=9), middle + timedelta(days=9)
    days = Oracle(zone, "day", start, end).index()
    moments = [start + timedelta(minutes=53 * i) for i in range(18 * 24 * 60 // 53)]
    moments += [d + delta for d in days for delta in (timedelta(0), -timedelta(microseconds=1))]
    add_runs(engine, world, moments)
    oracle = Oracle(zone, bucket, start, end)
    expected = oracle.counts(moments)
    for exact in ("true", "false"):
        params = {
            "started_after": start.isoformat(),
            "started_before": end.isoformat(),
            "bucket": bucket,
            "tz": zone,
            "exact": exact,
        }
        answer = client.get(f"{API}/stats/timeseries", params=params, headers=world.headers("bob"))
        assert answer.status_code == 200, answer.text
        points = answer.json()["points"]
        got = {datetime.fromisoformat(p["bucket"]): p["runs"] for p in points}
        # bob sees none of these runs (alice's): the buckets alone; the admin sees them all.
        assert sorted(got) == oracle.index() and not any(got.values())
        answer = client.get(
            f"{API}/stats/timeseries", params=params, headers=world.headers("admin")
        )
        assert answer.status_code == 200, answer.text
        points = answer.json()["points"]
        assert [datetime.fromisoformat(p["bucket"]) for p in points] == oracle.index()
        assert {datetime.fromisoformat(p["bucket"]): p["runs"] for p in points} == {
            b: expected.get(b, 0) for b in oracle.index()
        }
        assert answer.json()["approximate"] is (exact == "false")  # read from the rollup
