"""Recording runs: start/finish primitives, and a context manager and decorator for engines
that embed us. The sweep that closes runs left behind in running/pending is ``data.sweep``.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Engine, insert, select, update

from data import record_writer
from data.db import session_scope
from data.errors import Conflict, InvalidQuery, NotFound
from data.filters import FlowRunFilter
from data.models import FlowRun, FlowRunStatus, TriggerType, utcnow
from data.record_values import storable_fields
from data.rollup.sources import layout
from data.sql_functions import USABLE_TOKENS
from data.statuses import status_in
from data.steps.record import step_rows, timed_step
from data.steps.tables import Step
from data.stored_time import is_time

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

FINISHING_STATUSES = frozenset(FlowRunStatus.finished())
MAX_ERROR_MESSAGE_CHARS = 10_000


def duration_ms_between(started_at: datetime, ended_at: datetime) -> int | None:
    """None when the stored start is no time (data.stored_time): the duration is unknown,
    and finishing or sweeping the run must still work."""
    if not is_time(started_at):
        return None
    return max(0, round((ended_at - started_at).total_seconds() * 1000))


def storable_duration(engine: Engine, duration_ms: int | None) -> int | None:
    """``duration_ms``, or NULL where flow_run's column cannot hold it (a fork's int4 on
    PostgreSQL: 24.8 days). The run's start and end still say how long it took; an
    error would leave the run active forever."""
    limit = layout(engine).duration_limit
    if duration_ms is None or (limit is not None and duration_ms > limit):
        return None
    return duration_ms


def _kept_in_metadata(metadata: Any, **kept: Any) -> Any:
    """Values flow_run has no column for (another application's table), kept with the
    run's metadata rather than lost."""
    if not isinstance(metadata, dict):
        metadata = {} if metadata is None else {"value": metadata}
    earlier = metadata.get("flowruns")
    return {**metadata, "flowruns": {**(earlier if isinstance(earlier, dict) else {}), **kept}}


def start_run(
    engine: Engine,
    flow_id: uuid.UUID,
    *,
    user_id: uuid.UUID | None = None,
    session_id: str | None = None,
    trigger_type: str = TriggerType.MANUAL.value,
    inputs: Any = None,
    metadata: Any = None,
    started_at: datetime | None = None,
    run_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Insert a run in status ``running`` and return its id. A value no database can
    store is degraded and logged, never refused (``data.record_values``)."""
    run_id = run_id or uuid.uuid4()
    values = storable_fields(
        f"start of run {run_id}",
        {"inputs": inputs, "metadata": metadata},
        {"session_id": session_id, "trigger_type": trigger_type},
    )
    # Core, naming only these columns: an ORM object would insert every mapped column,
    # total_tokens too, which a fork's flow_run (kept as it is) does not have.
    row = {
        "id": run_id,
        "flow_id": flow_id,
        "user_id": user_id,
        "session_id": values["session_id"],
        "status": FlowRunStatus.RUNNING.value,
        "started_at": started_at or utcnow(),
        "trigger_type": values["trigger_type"],
        "inputs": values["inputs"],
        "metadata_": values["metadata"],
    }
    with session_scope(engine) as session:
        session.execute(insert(FlowRun), [row])
    return run_id


def finish_run(
    engine: Engine,
    run_id: uuid.UUID,
    status: str,
    *,
    outputs: Any = None,
    error_type: str | None = None,
    error_message: str | None = None,
    components_executed: int | None = None,
    scope: FlowRunFilter | None = None,
    ended_at: datetime | None = None,
    total_tokens: int | None = None,
    steps: Sequence[Mapping[str, Any]] | None = None,
) -> None:
    """Close an active run: the server sets ended_at (now, or ``ended_at`` for a finish
    written late by the recorder's background writer) and duration_ms.

    Raises ``NotFound`` (absent or outside ``scope``), ``Conflict`` (already finished)
    or ``InvalidQuery`` (``status`` is not a finishing status).
    """
    if status not in FINISHING_STATUSES:
        raise InvalidQuery(f"status: must be one of {', '.join(sorted(FINISHING_STATUSES))}")
    if components_executed is not None and components_executed < 0:
        raise InvalidQuery("components_executed: must be 0 or more")
    where = (scope or FlowRunFilter()).where()
    with session_scope(engine) as session:
        row = session.execute(
            select(FlowRun.status, FlowRun.started_at, FlowRun.metadata_).where(
                FlowRun.id == run_id, where
            )
        ).first()
        if row is None:
            raise NotFound(f"Flow run {run_id} not found")
        ended_at = ended_at or utcnow()
        values: dict[str, Any] = {
            "status": status,
            "ended_at": ended_at,
            "duration_ms": storable_duration(engine, duration_ms_between(row.started_at, ended_at)),
            **storable_fields(
                f"end of run {run_id}",
                {"outputs": outputs},
                {
                    "error_type": error_type,
                    "error_message": (error_message or None)
                    and error_message[:MAX_ERROR_MESSAGE_CHARS],
                },
            ),
        }
        if components_executed is not None:
            values["components_executed"] = components_executed
        if total_tokens is not None:
            if not 0 <= total_tokens <= USABLE_TOKENS:
                raise InvalidQuery(f"total_tokens: must be between 0 and {USABLE_TOKENS}")
            if layout(engine).run_tokens:
                values["total_tokens"] = total_tokens
            else:
                values["metadata_"] = _kept_in_metadata(row.metadata_, total_tokens=total_tokens)
        rows = step_rows(run_id, steps) if steps else []
        # Conditional on still being active, so two finishers cannot both win.
        result = session.execute(
            update(FlowRun)
            .where(FlowRun.id == run_id, status_in(FlowRunStatus.active()))
            .values(**values)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise Conflict(f"Flow run {run_id} has already finished with status {row.status}")
        if rows:
            session.execute(insert(Step), rows)


@dataclass
class RunHandle:
    """What the body of ``record_run`` can report while it runs."""

    run_id: uuid.UUID | None
    outputs: Any = None
    components_executed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    started: Future[None] | None = field(default=None, repr=False)
    steps: list[dict[str, Any]] = field(default_factory=list)
    total_tokens: int | None = None

    def component_done(self, count: int = 1) -> None:
        self.components_executed += count

    def step(self, name: str, **fields: Any) -> AbstractContextManager[dict[str, Any]]:
        """Time one step (component) of the run: ``with handle.step("retrieve"): ...``."""
        return timed_step(self.steps, name, **fields)


def _begin(
    engine: Engine, flow_id: uuid.UUID, start: dict[str, Any]
) -> tuple[RunHandle, Future[None]]:
    """Queue the start of a run; the id and start time are fixed now, not when written."""
    run_id = uuid.uuid4()
    values = {**start, "started_at": start.get("started_at") or utcnow(), "run_id": run_id}
    write = functools.partial(start_run, flow_id=flow_id, **values)
    started = record_writer.submit(engine, write, f"start of run {run_id}")
    return RunHandle(run_id=run_id, started=started), started


class StartNotRecorded(RuntimeError):
    """The finish of a run whose start was never written is not attempted."""


def _finish_write(engine: Engine, started: Future[None] | None, **values: Any) -> None:
    # Writes apply in order, so the start has settled by the time its finish runs.
    if started is not None and started.exception() is not None:
        raise StartNotRecorded("its start was not recorded")
    finish_run(engine, **values)


def _end(engine: Engine, handle: RunHandle, exc: BaseException | None) -> Future[None] | None:
    """Queue the finish: success, or the exception as failure (cancelled for an
    interruption); ``None`` when the start already failed for good."""
    if handle.run_id is None:
        return None
    if exc is None:
        status = FlowRunStatus.SUCCESS.value
    elif isinstance(exc, KeyboardInterrupt | asyncio.CancelledError | GeneratorExit):
        status = FlowRunStatus.CANCELLED.value
    else:
        status = FlowRunStatus.FAILURE.value
    write = functools.partial(
        _finish_write,
        started=handle.started,
        run_id=handle.run_id,
        status=status,
        outputs=handle.outputs,
        # The exception's own class name, not type(type(exc)) as the original did.
        error_type=type(exc).__name__ if exc is not None else None,
        error_message=str(exc) or repr(exc) if exc is not None else None,
        components_executed=handle.components_executed,
        ended_at=utcnow(),
        total_tokens=handle.total_tokens,
        steps=handle.steps or None,
    )
    return record_writer.submit(engine, write, f"end of run {handle.run_id}")


@contextmanager
def record_run(engine: Engine, flow_id: uuid.UUID, **start: Any) -> Iterator[RunHandle]:
    """Record the enclosed block as one run: success, failure or cancelled.

    Exceptions from the block propagate unchanged. The record is written by a background
    writer: the block waits at most ``FLOWRUNS_RECORDER_TIMEOUT_SECONDS`` at its start and
    at its end; a write the database cannot take yet (write lock, outage) is retried in
    the background, and failures are logged, never raised.
    """
    bound = record_writer.caller_bound()
    handle, started = _begin(engine, flow_id, start)
    if record_writer.failed(started, bound):
        handle.run_id = None
    try:
        yield handle
    except BaseException as exc:
        if (ended := _end(engine, handle, exc)) is not None:
            record_writer.failed(ended, bound)
        raise
    if (ended := _end(engine, handle, None)) is not None:
        record_writer.failed(ended, bound)


def recorded(
    engine: Engine, flow_id: uuid.UUID, **start: Any
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator form of ``record_run`` for sync and async functions; the return value is
    stored as the run's outputs when it is JSON-serialisable. An async function waits
    for its record writes with ``await``: the event loop is never blocked."""

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                bound = record_writer.caller_bound()
                handle, started = _begin(engine, flow_id, start)
                if await record_writer.failed_async(started, bound):
                    handle.run_id = None
                try:
                    result = await func(*args, **kwargs)
                    handle.outputs = _jsonable(result)
                except BaseException as exc:
                    if (ended := _end(engine, handle, exc)) is not None:
                        await record_writer.failed_async(ended, bound)
                    raise
                if (ended := _end(engine, handle, None)) is not None:
                    await record_writer.failed_async(ended, bound)
                return result

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with record_run(engine, flow_id, **start) as handle:
                result = func(*args, **kwargs)
                handle.outputs = _jsonable(result)
                return result

        return wrapper

    return decorate


def _jsonable(value: Any) -> Any:
    """The return value as the run's outputs; a value json has no form for (an object)
    as its repr. Anything else unstorable is degraded by ``storable_fields``."""
    try:
        json.dumps(value)
    except RecursionError:  # nested far too deep: storable_fields cuts it short
        return value
    except (TypeError, ValueError):
        return {"repr": _short_repr(value)}
    return value


def _short_repr(value: Any) -> str:
    try:
        return repr(value)[:1000]
    except Exception:  # a broken __repr__ must not break the recorded work
        return f"<{type(value).__name__} object>"
