"""Demo bulk load: COPY (PostgreSQL) and executemany (SQLite) store the same runs, read back
through the ORM; values COPY must escape arrive unchanged."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from data.db import build_engine
from data.demo import generate, generate_demo, schema_pause
from data.demo.rollup_tally import RollupTally
from data.demo.rows import COLUMNS, DemoChunk, chunk_rows, start_times
from data.demo.schema_pause import foreign_keys, rebuilds_indexes, secondary_indexes
from data.demo.writers import loading, transaction, writer_for
from data.models import Flow, FlowRun, User
from data.rollup.maintain import check

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
# Flow and user ids are random per database: compared by name instead.
RUN_FIELDS = tuple(
    "metadata_" if c == "metadata" else c for c in COLUMNS if c not in ("flow_id", "user_id")
)


def stored_runs(engine: Engine) -> list[dict[str, Any]]:
    """Every run as the ORM reads it, with flow and user by name (their ids are random)."""
    query = (
        select(FlowRun, Flow.name, User.username)
        .join(Flow, Flow.id == FlowRun.flow_id)
        .join(User, User.id == FlowRun.user_id)
        .order_by(FlowRun.id)
    )
    with Session(engine) as session:
        rows = session.execute(query).all()
    return [
        {**{f: getattr(run, f) for f in RUN_FIELDS}, "flow": flow, "user": user}
        for run, flow, user in rows
    ]


@pytest.mark.postgres
def test_copy_and_executemany_store_the_same_demo(sqlite_url: str, pg_url: str) -> None:
    loaded = []
    for url in (sqlite_url, pg_url):
        engine = build_engine(url)
        generate_demo(engine, 1500, days=3, seed=11, now=NOW, chunk_size=400)
        loaded.append(stored_runs(engine))
        engine.dispose()
    sqlite_runs, pg_runs = loaded
    assert len(sqlite_runs) == 1500
    assert sqlite_runs == pg_runs
    first = sqlite_runs[0]
    assert first["started_at"].tzinfo is not None
    assert NOW - timedelta(days=3) <= min(r["started_at"] for r in sqlite_runs)
    finished = [r for r in sqlite_runs if r["duration_ms"] is not None]
    assert all(
        r["ended_at"] - r["started_at"] == timedelta(milliseconds=r["duration_ms"])
        for r in finished
    )
    # UUIDv7 layout: the id's first 48 bits are the start time in milliseconds.
    for run in sqlite_runs[:50]:
        millis = run["id"].int >> 80
        assert abs(millis - run["started_at"].timestamp() * 1000) < 1


TRICKY = ("tab\there", "new\nline\r\nend", "back\\slash", "\\N", "ünï ✓")


def test_values_copy_must_escape_arrive_unchanged(engine: Engine) -> None:
    generate_demo(engine, 0, now=NOW)  # the demo users and flows
    with engine.connect() as conn:
        flow_ids = list(conn.execute(select(Flow.id).order_by(Flow.name)).scalars())
        user_ids = list(conn.execute(select(User.id).order_by(User.username)).scalars())
    rng = np.random.default_rng(5)
    start = NOW - timedelta(days=1)
    chunk = chunk_rows(rng, start_times(rng, 5, start, 1), start, NOW, 1, user_ids, flow_ids)
    chunk.columns["error_message"] = list(TRICKY)
    chunk.columns["session_id"] = [t[::-1] for t in TRICKY]
    chunk.columns["outputs"] = ['{"path": "C:\\\\temp\\\\x", "tab": "\\t"}', None, "[]", "1", "{}"]
    with loading(engine) as conn, transaction(conn):
        writer_for(engine)(conn, chunk)
    stored = {r["id"]: r for r in stored_runs(engine)}
    for index, run_id in enumerate(chunk.columns["id"]):
        run = stored[uuid.UUID(run_id)]
        assert run["error_message"] == TRICKY[index]
        assert run["session_id"] == TRICKY[index][::-1]
    outputs = sorted(str(r["outputs"]) for r in stored.values())
    assert outputs == sorted(
        str(v) for v in [{"path": "C:\\temp\\x", "tab": "\t"}, None, [], 1, {}]
    )


def test_large_load_into_an_empty_table_rebuilds_the_same_indexes(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with engine.connect() as conn:
        before, keys = secondary_indexes(conn), foreign_keys(conn)
    assert len(before) >= 5
    assert len(keys) == (2 if engine.dialect.name == "postgresql" else 0)
    monkeypatch.setattr(schema_pause, "REBUILD_INDEXES_FROM_RUNS", 1000)
    generate_demo(engine, 1200, days=2, seed=3, now=NOW, chunk_size=500)
    with engine.connect() as conn:
        assert secondary_indexes(conn) == before
        assert foreign_keys(conn) == keys
        assert rebuilds_indexes(conn, 5000) is False  # the table is no longer empty
    assert len(stored_runs(engine)) == 1200
    # The rollup triggers were paused for the load and the rollup rebuilt from its rows.
    assert check(engine).consistent
    # A later load goes through the indexes, chunk by chunk, and adds to the runs.
    generate_demo(engine, 1200, days=2, seed=4, now=NOW, chunk_size=500)
    assert len(stored_runs(engine)) == 2400
    assert check(engine).consistent  # followed by the triggers, which are back


def test_a_failed_load_leaves_indexes_and_runs_as_they_were(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with engine.connect() as conn:
        before = secondary_indexes(conn)
    monkeypatch.setattr(schema_pause, "REBUILD_INDEXES_FROM_RUNS", 1000)
    calls: list[int] = []

    def failing_progress(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) == 2:
            raise RuntimeError("disk full")

    with engine.connect() as conn:
        keys = foreign_keys(conn)
    with pytest.raises(RuntimeError, match="disk full"):
        generate_demo(engine, 1500, now=NOW, chunk_size=500, progress=failing_progress)
    with engine.connect() as conn:
        assert secondary_indexes(conn) == before
        assert foreign_keys(conn) == keys
    assert stored_runs(engine) == []


def test_a_large_load_still_refuses_a_run_of_an_unknown_flow(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL's foreign keys are set aside for the load and validated when restored:
    a run whose flow does not exist fails the whole load, as it would row by row."""
    monkeypatch.setattr(schema_pause, "REBUILD_INDEXES_FROM_RUNS", 1000)
    real_chunk_rows = generate.chunk_rows

    def one_orphan(*args: Any, **kwargs: Any) -> DemoChunk:
        chunk = real_chunk_rows(*args, **kwargs)
        chunk.columns["flow_id"][7] = uuid.uuid4().hex
        return chunk

    monkeypatch.setattr(generate, "chunk_rows", one_orphan)
    with pytest.raises(IntegrityError):
        generate_demo(engine, 1200, days=2, now=NOW, chunk_size=500)
    assert stored_runs(engine) == []
    with engine.connect() as conn:
        assert len(foreign_keys(conn)) == (2 if engine.dialect.name == "postgresql" else 0)


def test_the_counted_rollup_equals_the_one_of_the_raw_rows(engine: Engine) -> None:
    """Durations at and around bucket bounds, negative, zero and missing; statuses and
    triggers as stored (odd case, a tab): the tally writes what ``check`` recomputes."""
    generate_demo(engine, 0, now=NOW)
    with engine.connect() as conn:
        flow_ids = list(conn.execute(select(Flow.id).order_by(Flow.name)).scalars())
        user_ids = list(conn.execute(select(User.id).order_by(User.username)).scalars())
    rng = np.random.default_rng(8)
    start = NOW - timedelta(days=3)
    offsets = start_times(rng, 400, start, 3)
    chunk = chunk_rows(rng, offsets, start, NOW, 3, user_ids, flow_ids)
    odd = [None, 0, 1, 24, 25, 26, -1, -30, 10**12, 2**62]
    durations = chunk.columns["duration_ms"]
    durations[: len(odd)] = odd
    chunk.columns["status"][:3] = ["sUcCeSs", "queued", "failure"]
    chunk.columns["trigger_type"][:2] = ["web\thook", "cron"]
    tally = RollupTally()
    with loading(engine) as conn, transaction(conn):
        writer_for(engine)(conn, chunk)  # the triggers keep the rollup meanwhile
        tally.add(chunk)
        tally.write(conn)  # and the tally replaces it
    assert check(engine).consistent
    with engine.connect() as conn:
        day_runs = conn.exec_driver_sql("SELECT sum(runs) FROM flowrun_rollup_day").scalar()
    assert day_runs == 400
