"""Batched deletes keep the rollup set-based with the delete triggers paused for their own
transaction only (migration 0005): every other delete is still counted by the triggers,
and the rollup equals the runs after each (0004 <-> 0005: tests/data/test_data_migrations.py)."""

from __future__ import annotations

import bisect
import uuid
from pathlib import Path

import pytest
from runfactory import World, at
from sqlalchemy import Engine, select, text, true

from data import migrate
from data import queries as q
from data.db import build_engine
from data.deletion import delete_run, delete_where
from data.filters import FlowRunFilter
from data.models import FlowRun
from data.rollup.histogram import INT64_MAX, INT64_MIN, bound_rows, bucket_of
from data.rollup.maintain import check, pause
from data.rollup.schema import PAUSE
from data.sql_functions import USABLE_DURATION_MS


def seed(world: World, count: int = 90) -> None:
    world.add(
        world.run(
            flow=i % 3,
            status=("success", "failure", "cancelled")[i % 3],
            trigger_type=("api", "cron")[i % 2],
            started_at=at(minutes=37 * i),
            duration_ms=None if i % 4 == 0 else 10 * i,
        )
        for i in range(count)
    )


def rollup_runs(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT sum(runs) FROM flowrun_rollup_day")).scalar_one())


def test_the_pause_row_skips_the_delete_trigger_in_its_own_transaction_only(
    engine: Engine, world: World
) -> None:
    seed(world, 6)
    victim, other = sorted(world.ids())[:2]
    with engine.connect() as conn, conn.begin() as transaction:
        pause(conn)
        conn.execute(FlowRun.__table__.delete().where(FlowRun.id == victim))
        # Paused: this transaction's delete is not counted (the caller subtracts it).
        assert conn.execute(text("SELECT sum(runs) FROM flowrun_rollup_day")).scalar_one() == 6
        transaction.rollback()
    assert check(engine).consistent
    assert delete_run(engine, other)  # no pause row: the trigger counts it
    assert rollup_runs(engine) == 5 and check(engine).consistent
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {PAUSE}")).scalar_one() == 0


def test_batched_delete_keeps_the_rollup_without_the_row_trigger(
    engine: Engine, world: World
) -> None:
    """A trigger that fails any unpaused delete: the batched delete never runs it, and
    the rollup still equals the runs after every batch size."""
    seed(world)
    if engine.dialect.name == "sqlite":
        probe = (
            "CREATE TRIGGER probe AFTER DELETE ON flow_run WHEN NOT EXISTS"
            f" (SELECT 1 FROM {PAUSE}) BEGIN SELECT RAISE(ABORT, 'unpaused delete'); END"
        )
        drop = ["DROP TRIGGER probe"]
    else:
        probe = (
            "CREATE FUNCTION probe() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            f" IF NOT EXISTS (SELECT 1 FROM {PAUSE}) THEN RAISE 'unpaused delete'; END IF;"
            " RETURN NULL; END $$; CREATE TRIGGER probe AFTER DELETE ON flow_run"
            " FOR EACH STATEMENT EXECUTE FUNCTION probe()"
        )
        drop = ["DROP TRIGGER probe ON flow_run", "DROP FUNCTION probe()"]
    with engine.begin() as conn:
        conn.exec_driver_sql(probe)
    try:
        if engine.dialect.name == "postgresql":
            # Its statement trigger is set-based already: the delete leaves the rollup to it.
            with pytest.raises(Exception, match="unpaused delete"):
                delete_where(engine, true(), batch_size=7)
            assert check(engine).consistent
            return
        remaining = 90
        for size, cutoff in ((7, 20), (1, 25), (1000, 40)):
            doomed = FlowRun.started_at < at(minutes=37 * cutoff)
            assert delete_where(engine, doomed, batch_size=size) == remaining - (90 - cutoff)
            remaining = 90 - cutoff
            assert check(engine).consistent
            assert q.run_stats(engine, FlowRunFilter(), exact=False).total == remaining
        with engine.connect() as conn:
            survivor = conn.execute(select(FlowRun.id).limit(1)).scalar_one()
        with pytest.raises(Exception, match="unpaused delete"):
            delete_run(engine, survivor)
    finally:
        with engine.begin() as conn:
            for statement in drop:
                conn.exec_driver_sql(statement)


def test_odd_values_of_another_engine_leave_the_rollup_as_the_triggers_would(
    tmp_path: Path,
) -> None:
    """The batch is copied into an untyped temp table: unparsable or non-canonical times,
    text durations and BLOB statuses land in the same rollup keys as the triggers'."""
    url = f"sqlite:///{tmp_path / 'odd.db'}"
    migrate.upgrade(url)
    engine = build_engine(url)
    odd = [
        ("garbage", 5, "success"),
        ("2024-01-01T05:00:00+02:00", "12ms", b"\xff"),
        ("2024-01-02", None, "failure"),
        ("2024-01-03", -7, "success"),
        ("2024-01-01 23:59:59.999999", 2**40, "weird"),
    ]
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO flow (id, name, updated_at) VALUES ('f', 'f', 'x')"))
            for started, duration, status in odd * 3:
                conn.execute(
                    text(
                        "INSERT INTO flow_run (id, flow_id, status, started_at, duration_ms,"
                        " trigger_type, components_executed) VALUES (:i, 'f', :s, :t, :d, 'api', 0)"
                    ),
                    {"i": uuid.uuid4().hex, "s": status, "t": started, "d": duration},
                )
        assert check(engine).consistent
        assert delete_where(engine, FlowRun.duration_ms.is_not(None), batch_size=2) == 12
        assert check(engine).consistent
        assert delete_where(engine, true(), batch_size=4) == 3
        assert check(engine).consistent
        assert rollup_runs_or_zero(engine) == 0
    finally:
        engine.dispose()


def rollup_runs_or_zero(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(text("SELECT coalesce(sum(runs), 0) FROM flowrun_rollup_hour")).scalar()
        )


def test_histogram_buckets_of_edge_durations_match_the_bounds(engine: Engine, world: World) -> None:
    """PostgreSQL finds a bucket by binary search in a constant array, SQLite in the bound
    table: both equal ``bucket_of`` at and around every kind of bound, and a batched
    delete of such runs empties the rollup."""
    lowers = [low for _, low in bound_rows()]
    edges = {INT64_MIN, INT64_MAX, -1, 0, 1, 2, 999, 1000, 1001}
    usable_top = bisect.bisect_right(lowers, USABLE_DURATION_MS)  # the last counted bucket
    edges |= {USABLE_DURATION_MS, USABLE_DURATION_MS + 1, -USABLE_DURATION_MS}
    around = lowers[usable_top - 6 : usable_top + 3]
    for low in lowers[1:6] + around + lowers[1040:1052] + lowers[-5:]:
        edges |= {low - 1, low, low + 1}
    values = sorted(v for v in edges if INT64_MIN <= v <= INT64_MAX)
    world.add(world.run(started_at=at(), duration_ms=value) for value in values)
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT bucket, runs FROM flowrun_rollup_day_hist ORDER BY bucket")
        ).all()
    expected: dict[int, int] = {}
    for value in values:
        if abs(value) <= USABLE_DURATION_MS:  # past it: a run without a duration
            expected[bucket_of(value)] = expected.get(bucket_of(value), 0) + 1
    assert dict(stored) == expected
    # Durations near 2**63 are not summed (unusable), so no batch overflows SQLite's sum().
    assert delete_where(engine, true(), batch_size=5) == len(values)
    assert rollup_runs_or_zero(engine) == 0
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM flowrun_rollup_day_hist")).scalar() == 0
    assert check(engine).consistent
