"""Recorder: success/failure/cancelled with times, exceptions propagate, write failures never
break the caller, finish_run's errors, and the stuck-run sweep."""

from __future__ import annotations

import asyncio
import itertools
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from runfactory import World, at, make_world
from sqlalchemy import Engine, delete, text

from data import queries as q
from data import record_writer
from data.db import build_engine
from data.errors import Conflict, InvalidQuery, NotFound
from data.filters import FlowRunFilter
from data.models import FlowRun
from data.queries import RunRecord
from data.recorder import finish_run, record_run, recorded, start_run
from data.settings import get_settings
from data.sweep import sweep_stuck


def only_run(world: World) -> RunRecord:
    page = q.list_runs(world.engine, FlowRunFilter(), include_payloads=True)
    assert len(page.runs) == 1
    return page.runs[0]


def assert_closed(run: RunRecord, status: str) -> None:
    assert run.status == status
    assert run.ended_at is not None
    assert run.ended_at >= run.started_at
    expected_ms = (run.ended_at - run.started_at).total_seconds() * 1000
    assert run.duration_ms == pytest.approx(expected_ms, abs=1)


def test_success_records_outputs_components_and_times(world: World) -> None:
    with record_run(world.engine, world.flows[0], trigger_type="api", inputs={"q": 1}) as run:
        running = q.get_run(world.engine, run.run_id)  # type: ignore[arg-type]
        assert running is not None and running.status == "running"
        assert running.ended_at is None
        time.sleep(0.03)
        run.component_done(2)
        run.outputs = {"answer": 42}
    record = only_run(world)
    assert_closed(record, "success")
    assert record.duration_ms is not None and record.duration_ms >= 25
    assert (record.outputs, record.inputs, record.trigger_type) == ({"answer": 42}, {"q": 1}, "api")
    assert record.components_executed == 2
    assert record.error_type is None and record.error_message is None


def test_failure_records_the_exception_class_name_and_propagates(world: World) -> None:
    with (
        pytest.raises(ValueError, match="bad input") as raised,
        record_run(world.engine, world.flows[0]),
    ):
        raise ValueError("bad input")
    record = only_run(world)
    assert_closed(record, "failure")
    assert record.error_type == "ValueError" == type(raised.value).__name__
    assert record.error_message == "bad input"


def test_exception_without_message_records_its_repr(world: World) -> None:
    class FlowBroke(Exception):
        pass

    with pytest.raises(FlowBroke), record_run(world.engine, world.flows[0]):
        raise FlowBroke()
    record = only_run(world)
    assert (record.error_type, record.error_message) == ("FlowBroke", "FlowBroke()")


def test_keyboard_interrupt_is_cancelled(world: World) -> None:
    with pytest.raises(KeyboardInterrupt), record_run(world.engine, world.flows[0]):
        raise KeyboardInterrupt
    record = only_run(world)
    assert_closed(record, "cancelled")
    assert record.error_type == "KeyboardInterrupt"


def test_cancelled_async_task_is_cancelled(world: World) -> None:
    started = asyncio.Event()

    @recorded(world.engine, world.flows[1], trigger_type="webhook")
    async def slow() -> str:
        started.set()
        await asyncio.sleep(30)
        return "never"

    async def main() -> None:
        task = asyncio.create_task(slow())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    record = only_run(world)
    assert_closed(record, "cancelled")
    assert record.error_type == "CancelledError"
    assert record.duration_ms is not None and record.duration_ms < 30_000


def test_decorator_records_sync_and_async_results(world: World) -> None:
    @recorded(world.engine, world.flows[0])
    def add(a: int, b: int) -> dict[str, int]:
        return {"sum": a + b}

    @recorded(world.engine, world.flows[0])
    async def opaque() -> object:
        return object()

    assert add(2, 3) == {"sum": 5}
    assert add.__name__ == "add"
    asyncio.run(opaque())
    runs = q.list_runs(world.engine, FlowRunFilter(), include_payloads=True).runs
    outputs = sorted((r.outputs for r in runs), key=str)
    assert {"sum": 5} in outputs
    assert any(isinstance(o, dict) and o.get("repr", "").startswith("<object") for o in outputs)
    assert {r.status for r in runs} == {"success"}


@pytest.fixture
def schemaless(tmp_path: Path) -> Iterator[Engine]:
    """An engine on a SQLite file with no tables: every write fails."""
    engine = build_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    yield engine
    engine.dispose()


def test_a_failing_recorder_never_breaks_the_caller(
    schemaless: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    with record_run(schemaless, uuid.uuid4()) as run:
        value = 41 + 1
    assert value == 42
    assert run.run_id is None
    assert "could not record" in caplog.text

    @recorded(schemaless, uuid.uuid4())
    def work() -> str:
        return "done"

    assert work() == "done"
    # The caller's own exception still propagates unchanged.
    with pytest.raises(ZeroDivisionError), record_run(schemaless, uuid.uuid4()):
        _ = 1 / 0


def test_finish_errors(world: World) -> None:
    run_id = start_run(world.engine, world.flows[0], user_id=world.users[0])
    with pytest.raises(InvalidQuery, match="status"):
        finish_run(world.engine, run_id, "running")
    with pytest.raises(InvalidQuery, match="components_executed"):
        finish_run(world.engine, run_id, "success", components_executed=-1)
    with pytest.raises(NotFound):
        finish_run(world.engine, uuid.uuid4(), "success")
    other_scope = FlowRunFilter.build(user_id=world.users[1])
    with pytest.raises(NotFound):
        finish_run(world.engine, run_id, "success", scope=other_scope)
    finish_run(world.engine, run_id, "failure", error_type="X", error_message="y" * 20_000)
    with pytest.raises(Conflict, match="failure"):
        finish_run(world.engine, run_id, "success")
    record = q.get_run(world.engine, run_id)
    assert record is not None
    assert record.status == "failure"  # the second finish changed nothing
    assert record.error_message is not None and len(record.error_message) == 10_000


def test_sweep_marks_only_old_active_runs(world: World) -> None:
    now = at(days=2)
    stuck = world.add(
        [
            world.run(status="running", started_at=now - timedelta(hours=3)),
            world.run(status="pending", started_at=now - timedelta(hours=2, seconds=1)),
        ]
    )
    kept = world.add(
        [
            world.run(status="running", started_at=now - timedelta(minutes=119)),
            world.run(status="success", started_at=now - timedelta(hours=5), duration_ms=5),
            world.run(status="failure", started_at=now - timedelta(hours=5), error_type="E"),
            world.run(status="weird", started_at=now - timedelta(hours=5)),
        ]
    )
    timeout = timedelta(hours=2)
    assert sweep_stuck(world.engine, timeout, now=now, dry_run=True) == 2
    assert sweep_stuck(world.engine, timeout, now=now) == 2
    for run in stuck:
        record = q.get_run(world.engine, run["id"])
        assert record is not None
        assert (record.status, record.error_type) == ("failure", "Timeout")
        assert record.ended_at == now
        assert record.duration_ms == round((now - run["started_at"]).total_seconds() * 1000)
        assert record.error_message is not None and "120 minutes" in record.error_message
    for run in kept:
        record = q.get_run(world.engine, run["id"])
        assert record is not None
        assert (record.status, record.error_type) == (run["status"], run["error_type"])
    assert sweep_stuck(world.engine, timeout, now=now) == 0
    with pytest.raises(InvalidQuery, match="timeout"):
        sweep_stuck(world.engine, timedelta(0))


def finish_concurrently(engine: Engine, run_id: uuid.UUID, statuses: tuple[str, ...]) -> list[str]:
    """Each status finished by its own thread, released together; what each one got."""
    barrier = threading.Barrier(len(statuses))
    outcomes: list[str] = []

    def finish(status: str) -> None:
        barrier.wait()
        try:
            finish_run(engine, run_id, status)
            outcomes.append(status)
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=finish, args=(status,)) for status in statuses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_two_concurrent_finishers_cannot_both_win(world: World) -> None:
    for _ in range(5):
        run_id = start_run(world.engine, world.flows[0])
        outcomes = finish_concurrently(world.engine, run_id, ("success", "failure"))
        assert outcomes.count("conflict") == 1, outcomes
        winner = next(o for o in outcomes if o != "conflict")
        record = q.get_run(world.engine, run_id)
        assert record is not None and record.status == winner


def test_a_failing_finish_never_breaks_the_caller(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """The run row vanishes mid-run (pruned, or its flow deleted): the block's result and
    exceptions are unaffected, the failed write is logged."""
    with record_run(world.engine, world.flows[0]) as run:
        assert run.run_id is not None
        with world.engine.begin() as conn:
            conn.execute(delete(FlowRun).where(FlowRun.id == run.run_id))
        result = "still fine"
    assert result == "still fine"
    assert "could not record the end" in caplog.text
    with pytest.raises(LookupError, match="mine"), record_run(world.engine, world.flows[0]) as run:
        with world.engine.begin() as conn:
            conn.execute(delete(FlowRun).where(FlowRun.id == run.run_id))
        raise LookupError("mine")  # the caller's own error, not the recorder's NotFound


# --- A held write lock (issue 8 item 8) -------------------------------------------------

BOUND_S = 0.3
# The bound at the start and at the end of the block, plus scheduling slack on 2 cores.
# (Before issue 8 item 8 the lock delayed the work 15 s.)
DELAY_LIMIT_S = 2 * BOUND_S + 1.5


@contextmanager
def write_lock(engine: Engine) -> Iterator[None]:
    """Another writer holding the database's write lock: SQLite ``BEGIN IMMEDIATE`` on its
    own sqlite3 connection; on PostgreSQL an exclusive lock on flow_run."""
    if engine.dialect.name == "sqlite":
        holder = sqlite3.connect(str(engine.url.database), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    with engine.connect() as conn:
        conn.execute(text("LOCK TABLE flow_run IN EXCLUSIVE MODE"))
        try:
            yield
        finally:
            conn.rollback()


@pytest.fixture
def short_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWRUNS_RECORDER_TIMEOUT_SECONDS", str(BOUND_S))
    get_settings.cache_clear()
    # Built once per process, before the timed part (in a process with many classes
    # loaded, pydantic-settings' first build alone can take 0.3 s).
    assert get_settings().recorder_timeout_seconds == BOUND_S


def count_all(engine: Engine) -> int:
    return q.count_runs(engine, FlowRunFilter())


def test_a_held_write_lock_delays_the_work_by_at_most_the_bound_then_the_run_is_written(
    world: World, short_bound: None
) -> None:
    with write_lock(world.engine):
        began = time.monotonic()
        with record_run(world.engine, world.flows[0], inputs={"q": 1}) as run:
            time.sleep(0.05)
            run.outputs = {"a": 1}
        elapsed = time.monotonic() - began
        assert elapsed < DELAY_LIMIT_S, f"the work was delayed {elapsed:.2f} s"
        time.sleep(0.8)  # the lock outlives the block
        assert count_all(world.engine) == 0  # nothing could be written yet
    assert record_writer.flush(10)
    record = only_run(world)
    assert_closed(record, "success")
    assert (record.outputs, record.inputs) == ({"a": 1}, {"q": 1})
    # Times are those of the block, not of the late write.
    assert record.duration_ms is not None and 50 <= record.duration_ms <= elapsed * 1000 + 5


def test_async_recorded_never_blocks_the_event_loop_while_the_lock_is_held(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A long bound: had the wrapper waited synchronously, the loop would stall 1 s twice.
    monkeypatch.setenv("FLOWRUNS_RECORDER_TIMEOUT_SECONDS", "1.0")
    get_settings.cache_clear()
    assert get_settings().recorder_timeout_seconds == 1.0

    @recorded(world.engine, world.flows[1], trigger_type="schedule")
    async def nightly() -> str:
        await asyncio.sleep(0.05)
        return "done"

    async def scenario() -> tuple[str, float, float]:
        ticks: list[float] = []
        stop = asyncio.Event()

        async def ticker() -> None:
            while not stop.is_set():
                ticks.append(time.monotonic())
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0.03)
        began = time.monotonic()
        result = await nightly()
        elapsed = time.monotonic() - began
        await asyncio.sleep(0.03)
        stop.set()
        await task
        return result, elapsed, max(b - a for a, b in itertools.pairwise(ticks))

    with write_lock(world.engine):
        result, elapsed, longest_gap = asyncio.run(scenario())
    assert result == "done"
    assert elapsed < 2 * 1.0 + 1.5
    assert longest_gap < 0.5, f"the event loop was blocked for {longest_gap:.2f} s"
    assert record_writer.flush(10)
    record = only_run(world)
    assert_closed(record, "success")
    assert record.outputs == "done"


def test_a_lock_held_past_the_retry_budget_loses_the_record_and_logs_it(
    sqlite_url: str,
    short_bound: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """SQLite only: PostgreSQL waits on a table lock instead of failing, so there is
    nothing to give up on (the two tests above cover both backends)."""
    world = make_world(build_engine(sqlite_url))
    monkeypatch.setenv("FLOWRUNS_RECORDER_RETRY_SECONDS", "0.5")
    get_settings.cache_clear()
    assert get_settings().recorder_retry_seconds == 0.5
    caplog.set_level(logging.WARNING, logger="data.recorder")
    with write_lock(world.engine):
        with pytest.raises(ValueError, match="boom"), record_run(world.engine, world.flows[0]):
            raise ValueError("boom")  # the caller's own error still reaches it
        assert record_writer.flush(10)
    messages = [r.getMessage() for r in caplog.records if r.name == "data.recorder"]
    assert any("could not record the start" in m and "retrying" in m for m in messages)
    assert any(m.startswith("gave up recording the start") and m.endswith("lost") for m in messages)
    assert any("end of run" in m and "start was not recorded" in m for m in messages)
    assert count_all(world.engine) == 0
