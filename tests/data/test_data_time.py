"""Time: aware UTC out of both backends, naive legacy SQLite text read as UTC, other zones
stored and filtered as the same instant; unknown status/trigger strings read and counted."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from runfactory import World, at, make_world
from sqlalchemy import Engine, text

from data import queries as q
from data.db import build_engine
from data.filters import FlowRunFilter
from data.recorder import finish_run
from data.sweep import sweep_stuck

PLUS_TWO = timezone(timedelta(hours=2))


def assert_utc(value: datetime | None) -> None:
    assert value is not None
    assert value.tzinfo is not None
    assert value.utcoffset() == timedelta(0)


def test_times_come_back_aware_utc(world: World) -> None:
    [run] = world.add(
        [world.run(started_at=at(hours=1), ended_at=at(hours=1, seconds=2), duration_ms=2000)]
    )
    record = q.get_run(world.engine, run["id"])
    assert record is not None
    assert_utc(record.started_at)
    assert_utc(record.ended_at)
    assert record.started_at == at(hours=1)
    assert record.ended_at is not None
    assert (record.ended_at - record.started_at) == timedelta(seconds=2)
    breakdown = q.flow_breakdown(world.engine, FlowRunFilter())
    assert str(breakdown["last_run_at"].dt.tz) == "UTC"
    assert breakdown["last_run_at"].iloc[0] == at(hours=1)


def test_other_time_zones_are_the_same_instant(world: World) -> None:
    local = datetime(2024, 1, 2, 5, 0, tzinfo=PLUS_TWO)  # 03:00 UTC
    [run] = world.add([world.run(started_at=local)])
    record = q.get_run(world.engine, run["id"])
    assert record is not None
    assert record.started_at == datetime(2024, 1, 2, 3, 0, tzinfo=UTC)
    assert_utc(record.started_at)

    def matches(**bounds: datetime) -> bool:
        return q.count_runs(world.engine, FlowRunFilter.build(**bounds)) == 1

    assert matches(started_after=datetime(2024, 1, 2, 4, 30, tzinfo=PLUS_TWO))
    assert matches(started_after=datetime(2024, 1, 2, 3, 0, tzinfo=UTC))
    assert matches(started_after=local)
    assert not matches(started_after=datetime(2024, 1, 2, 3, 0, 1, tzinfo=UTC))
    assert not matches(started_before=local)
    assert matches(started_before=datetime(2024, 1, 2, 5, 0, 1, tzinfo=PLUS_TWO))
    # The hour bucket is the UTC hour, not the local one.
    series = q.run_timeseries(world.engine, FlowRunFilter(), bucket="hour")
    assert list(series["bucket"]) == [datetime(2024, 1, 2, 3, 0, tzinfo=UTC)]


@pytest.fixture
def sqlite_world(sqlite_url: str) -> Iterator[World]:
    engine = build_engine(sqlite_url)
    yield make_world(engine)
    engine.dispose()


def insert_legacy(engine: Engine, flow_id: uuid.UUID, started: str, status: str) -> uuid.UUID:
    """A row as another tool writes it into SQLite: naive text timestamps."""
    run_id = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO flow_run (id, flow_id, status, started_at, trigger_type,"
                " components_executed) VALUES (:id, :flow, :status, :started, 'cron', 0)"
            ),
            {"id": run_id.hex, "flow": flow_id.hex, "status": status, "started": started},
        )
    return run_id


def test_naive_legacy_sqlite_text_reads_as_utc(sqlite_world: World) -> None:
    engine = sqlite_world.engine
    run_id = insert_legacy(engine, sqlite_world.flows[0], "2024-01-02 03:04:05", "running")
    record = q.get_run(engine, run_id)
    assert record is not None
    assert record.started_at == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert_utc(record.started_at)
    # Duration math against an aware "now" works (the original crashed here).
    finish_run(engine, run_id, "success")
    finished = q.get_run(engine, run_id)
    assert finished is not None and finished.ended_at is not None
    expected_ms = (finished.ended_at - record.started_at).total_seconds() * 1000
    assert finished.duration_ms == pytest.approx(expected_ms, abs=1)
    assert finished.duration_ms is not None and finished.duration_ms > 0


def test_naive_legacy_rows_filter_bucket_and_sweep_as_utc(sqlite_world: World) -> None:
    engine = sqlite_world.engine
    old = insert_legacy(engine, sqlite_world.flows[0], "2024-01-02 03:04:05", "running")
    insert_legacy(engine, sqlite_world.flows[0], "2024-01-02 04:00:00", "success")

    def count(**bounds: datetime) -> int:
        return q.count_runs(engine, FlowRunFilter.build(**bounds))

    assert count(started_after=datetime(2024, 1, 2, 3, 4, 4, tzinfo=UTC)) == 2
    assert count(started_after=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)) == 2  # inclusive
    assert count(started_after=datetime(2024, 1, 2, 3, 4, 5, 1, tzinfo=UTC)) == 1
    assert count(started_before=datetime(2024, 1, 2, 4, 0, tzinfo=UTC)) == 1  # exclusive
    assert count(started_before=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)) == 0
    series = q.run_timeseries(engine, FlowRunFilter(), bucket="hour")
    assert list(series["runs"]) == [1, 1]
    assert series["bucket"].iloc[0] == datetime(2024, 1, 2, 3, tzinfo=UTC)
    now = datetime(2024, 1, 2, 6, 4, 5, tzinfo=UTC)
    assert sweep_stuck(engine, timedelta(hours=2), now=now) == 1
    swept = q.get_run(engine, old)
    assert swept is not None
    assert (swept.status, swept.error_type) == ("failure", "Timeout")
    assert swept.duration_ms == 3 * 3600_000


def test_unknown_status_and_trigger_strings_are_read_and_counted(world: World) -> None:
    world.add(
        [
            world.run(status="weird", trigger_type="zap", started_at=at(hours=1)),
            world.run(status="weird", trigger_type="cron", started_at=at(hours=2)),
            world.run(status="success", trigger_type="zap", started_at=at(hours=3)),
        ]
    )
    page = q.list_runs(world.engine, FlowRunFilter())
    assert sorted(r.status for r in page.runs) == ["success", "weird", "weird"]
    stats = q.run_stats(world.engine, FlowRunFilter())
    assert stats.status_counts == {"weird": 2, "success": 1}
    assert stats.trigger_counts == {"zap": 2, "cron": 1}
    assert stats.total == 3
    assert stats.success_rate == 1.0  # unknown statuses are neither finished nor active
    series = q.run_timeseries(world.engine, FlowRunFilter(), bucket="day")
    assert int(series["runs"].sum()) == 3
    flows = q.flow_breakdown(world.engine, FlowRunFilter())
    assert int(flows["runs"].sum()) == 3


@pytest.mark.parametrize(
    ("stored", "instant"),
    [
        ("2024-01-02 03:04:05", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02 03:04:05.123", datetime(2024, 1, 2, 3, 4, 5, 123000, tzinfo=UTC)),
        ("2024-01-02T03:04:05", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02T03:04:05.123456", datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)),
        ("2024-01-02 03:04:05+00:00", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02T05:04:05+02:00", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ],
)
def test_legacy_sqlite_text_forms_read_as_the_right_instant(
    sqlite_world: World, stored: str, instant: datetime
) -> None:
    run_id = insert_legacy(sqlite_world.engine, sqlite_world.flows[0], stored, "success")
    record = q.get_run(sqlite_world.engine, run_id)
    assert record is not None
    assert record.started_at == instant
    assert_utc(record.started_at)
