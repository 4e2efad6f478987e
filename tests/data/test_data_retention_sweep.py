"""sweep-stuck finishes runs of any age (a run started 40 days ago overflowed kozmoai's
32-bit duration on PostgreSQL) and never stops on one bad row; one audit entry per sweep."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from runfactory import World, make_world, temporary_pg_database

from data import migrate
from data import queries as q
from data.audit import AuditContext, list_entries
from data.db import build_engine
from data.models import utcnow
from data.sweep import sweep_stuck

CLI = AuditContext("cli", "cli:tester")
FORTY_DAYS_MS = 40 * 86_400_000


def add_stuck(world: World) -> tuple[uuid.UUID, list[uuid.UUID], uuid.UUID]:
    now = utcnow()
    [old] = world.add([world.run(status="running", started_at=now - timedelta(days=40))])
    recent = world.add(
        world.run(status=s, started_at=now - timedelta(hours=h))
        for s, h in (("running", 3), ("pending", 5))
    )
    [fresh] = world.add([world.run(status="running", started_at=now - timedelta(minutes=5))])
    return old["id"], [r["id"] for r in recent], fresh["id"]


def status_of(world: World, run_id: uuid.UUID) -> tuple[str, int | None]:
    record = q.get_run(world.engine, run_id)
    assert record is not None
    return record.status, record.duration_ms


def test_sweep_finishes_a_run_started_forty_days_ago(world: World) -> None:
    old, recent, fresh = add_stuck(world)
    assert sweep_stuck(world.engine, timedelta(hours=2), audit=CLI) == 3
    status, duration = status_of(world, old)
    assert status == "failure"
    assert duration is not None and abs(duration - FORTY_DAYS_MS) < 60_000
    assert [status_of(world, r)[0] for r in recent] == ["failure", "failure"]
    assert status_of(world, fresh)[0] == "running"
    [entry] = list_entries(world.engine).entries
    assert (entry.action, entry.matched, entry.affected, entry.status, entry.error) == (
        "sweep",
        3,
        3,
        "completed",
        None,
    )
    assert json.loads(entry.criteria)["timeout_minutes"] == 120


@pytest.mark.postgres
def test_a_duration_past_an_int4_column_never_stops_a_sweep(pg_database_url: str) -> None:
    """On a database still at 0001 (int4 duration_ms, as a fork's table kept as it is)
    the database used to refuse the 40-day run's duration, so the run stayed running
    for ever. It is swept with a NULL duration (its start and end still say it); after
    0002 widened the column, a run stuck as long gets its duration."""
    with temporary_pg_database("flowruns_sweep") as url:
        migrate.upgrade(url, "0001")
        engine = build_engine(url)
        try:
            # The audit table arrives with 0002: create only it, as the app sees it.
            from data.models import AuditEntry

            AuditEntry.__table__.create(engine)  # type: ignore[attr-defined]
            world = make_world(engine)
            old, recent, fresh = add_stuck(world)
            assert sweep_stuck(engine, timedelta(hours=2), audit=CLI) == 3
            assert status_of(world, old) == ("failure", None)
            assert [status_of(world, r)[0] for r in recent] == ["failure", "failure"]
            [entry] = list_entries(engine).entries
            assert (entry.status, entry.matched, entry.affected) == ("completed", 3, 3)
            assert entry.error is None
            AuditEntry.__table__.drop(engine)  # type: ignore[attr-defined]
            migrate.upgrade(url)
            [row] = world.add(
                [world.run(status="running", started_at=utcnow() - timedelta(days=40))]
            )
            again = row["id"]
            assert sweep_stuck(engine, timedelta(hours=2), audit=CLI) == 1
            status, duration = status_of(world, again)
            assert status == "failure" and duration is not None and duration > 2**31
            assert status_of(world, fresh)[0] == "running"
        finally:
            engine.dispose()
