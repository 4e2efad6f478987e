"""The recorder with its database down: refused connections, a server that accepts TCP
but never answers, and the private PostgreSQL cluster stopped.

Required (README "Recording runs", issue 8 item 8): the wrapped work always runs, its
result and its exceptions reach the caller unchanged, the caller is delayed by at most
a short configurable bound (FLOWRUNS_RECORDER_TIMEOUT_SECONDS), an event loop is never
blocked, and the failure to record is logged.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import time
import uuid
from collections.abc import Iterator

import pytest
from reliakit import PrivateCluster, make_tenant, wait_until
from sqlalchemy import select

from data.db import build_engine
from data.models import FlowRun
from data.recorder import record_run, recorded
from data.settings import get_settings

RECORDER_BOUND_S = 0.5
DOWN = ["refused", "silent"]
# The bound applies at the start and at the end of the work; plus scheduling slack on a
# busy 2-core machine.
CALLER_DELAY_LIMIT_S = 2 * RECORDER_BOUND_S + 1.5


@pytest.fixture(autouse=True)
def _recorder_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWRUNS_RECORDER_TIMEOUT_SECONDS", str(RECORDER_BOUND_S))
    get_settings.cache_clear()


@pytest.fixture
def refused_url() -> str:
    """A PostgreSQL URL on a port where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/flowruns"


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A PostgreSQL URL whose "server" accepts TCP connections and never answers
    (a hung database or a black-holed network path)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)  # the kernel completes handshakes; nobody ever reads
        yield f"postgresql+psycopg://postgres@127.0.0.1:{sock.getsockname()[1]}/flowruns"


def _recorder_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "data.recorder" and r.levelno >= logging.WARNING]


def _record_sync(url: str) -> tuple[object, float]:
    engine = build_engine(url)
    try:
        began = time.monotonic()
        with record_run(engine, uuid.uuid4(), trigger_type="api") as run:
            result = {"answer": 42}
            run.outputs = result
        return result, time.monotonic() - began
    finally:
        engine.dispose()


@pytest.mark.parametrize("which", DOWN)
def test_recorded_work_runs_promptly_with_the_database_down(
    which: str, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    url = request.getfixturevalue(f"{which}_url")
    caplog.set_level(logging.WARNING, logger="data.recorder")
    result, elapsed = _record_sync(url)
    assert result == {"answer": 42}
    assert elapsed < CALLER_DELAY_LIMIT_S, f"the work was delayed {elapsed:.1f} s"
    assert wait_until(lambda: bool(_recorder_warnings(caplog)), timeout=10)


@pytest.mark.parametrize("which", DOWN)
def test_exceptions_of_the_work_reach_the_caller_with_the_database_down(
    which: str, request: pytest.FixtureRequest
) -> None:
    engine = build_engine(request.getfixturevalue(f"{which}_url"))
    began = time.monotonic()
    with pytest.raises(KeyError, match="customer_id"), record_run(engine, uuid.uuid4()):
        raise KeyError("customer_id")
    assert time.monotonic() - began < CALLER_DELAY_LIMIT_S
    engine.dispose()


def _run_with_ticker(url: str) -> tuple[str, float, float]:
    """An ``@recorded`` coroutine next to a 20 ms ticker: (result, seconds, longest gap
    between ticks). A blocked event loop shows as a long gap."""
    engine = build_engine(url)

    @recorded(engine, uuid.uuid4(), trigger_type="schedule")
    async def nightly() -> str:
        await asyncio.sleep(0.05)
        return "done"

    async def scenario() -> tuple[str, float, float]:
        ticks: list[float] = []
        stop = asyncio.Event()

        async def ticker() -> None:
            while not stop.is_set():
                ticks.append(time.monotonic())
                await asyncio.sleep(0.02)

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0.05)
        began = time.monotonic()
        result = await nightly()
        elapsed = time.monotonic() - began
        await asyncio.sleep(0.05)
        stop.set()
        await task
        gaps = [b - a for a, b in itertools.pairwise(ticks)]
        return result, elapsed, max(gaps)

    try:
        return asyncio.run(scenario())
    finally:
        engine.dispose()


@pytest.mark.parametrize("which", DOWN)
def test_async_recorded_never_blocks_the_event_loop_with_the_database_down(
    which: str, request: pytest.FixtureRequest
) -> None:
    result, elapsed, longest_gap = _run_with_ticker(request.getfixturevalue(f"{which}_url"))
    assert result == "done"
    assert elapsed < CALLER_DELAY_LIMIT_S
    assert longest_gap < 0.5, f"the event loop was blocked for {longest_gap:.2f} s"


@pytest.mark.postgres
def test_recorder_with_postgres_stopped_then_restarted(
    running_cluster: PrivateCluster, caplog: pytest.LogCaptureFixture
) -> None:
    """The same engine (and pool) across the outage: work runs while the cluster is
    down, and recording works again once it is back."""
    url = running_cluster.new_database()
    engine = build_engine(url)
    tenant = make_tenant(engine)
    caplog.set_level(logging.WARNING, logger="data.recorder")
    with record_run(engine, tenant.flow_id, user_id=tenant.user_id):
        pass  # warm the pool before the outage
    running_cluster.stop()
    try:
        began = time.monotonic()
        with record_run(engine, tenant.flow_id, user_id=tenant.user_id) as run:
            run.outputs = {"during": "outage"}
        assert time.monotonic() - began < CALLER_DELAY_LIMIT_S
        assert wait_until(lambda: bool(_recorder_warnings(caplog)), timeout=10)
    finally:
        running_cluster.start()
    with record_run(engine, tenant.flow_id, user_id=tenant.user_id, session_id="after") as run:
        run.outputs = {"after": "restart"}

    def recorded_after_restart() -> bool:
        with engine.connect() as conn:
            row = conn.execute(
                select(FlowRun.status).where(FlowRun.session_id == "after")
            ).one_or_none()
        return row is not None and row.status == "success"

    assert wait_until(recorded_after_restart, timeout=5, step=0.1)
    engine.dispose()
