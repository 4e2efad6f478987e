"""The recorder's background writer: record writes never wait on the database in the caller.

``record_run`` hands each write (the start, then the finish of a run) to one writer thread
per database and waits for it at most ``FLOWRUNS_RECORDER_TIMEOUT_SECONDS``. A write the
database cannot take yet (SQLite's write lock held by another writer, PostgreSQL down) is
retried in order, with a short backoff, for up to ``FLOWRUNS_RECORDER_RETRY_SECONDS``; the
first failure and the final outcome (written late, or lost) are logged. Writes are applied
in submission order, so a finish never overtakes its start.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from data.db import build_engine
from data.settings import Settings, SettingsError, get_settings

log = logging.getLogger("data.recorder")

Write = Callable[[Engine], object]
MAX_PENDING = 10_000
SQLITE_BUSY_TIMEOUT_MS = 1_000  # per attempt; the retry loop does the longer waiting
FIRST_BACKOFF_S, MAX_BACKOFF_S = 0.05, 1.0
IDLE_EXIT_S = 10.0
EXIT_FLUSH_S = 5.0


@dataclass
class _Item:
    write: Write
    what: str
    done: Future[None] = field(default_factory=Future)


def _retryable(exc: BaseException, dialect: str) -> bool:
    """Would the same write succeed later? A held lock or an unreachable server: yes.
    A missing table, a constraint, a bad value: no, retrying cannot help."""
    if isinstance(exc, PoolTimeout | InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    if dialect == "sqlite":
        message = str(exc.orig).lower()
        return "locked" in message or "busy" in message
    return True


def _describe(exc: BaseException) -> str:
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{type(exc).__name__}: {detail[0] if detail else ''}"


class RecordWriter:
    """One daemon thread applying one database's record writes in order."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.items: queue.Queue[_Item] = queue.Queue(maxsize=MAX_PENDING)
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def submit(self, write: Write, what: str) -> Future[None]:
        item = _Item(write, what)
        try:
            self.items.put_nowait(item)
        except queue.Full:
            log.error("lost the %s: %d record writes are already waiting", what, MAX_PENDING)
            item.done.set_exception(RuntimeError("recorder queue full"))
            return item.done
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(
                    target=self._drain, name="flowruns-recorder", daemon=True
                )
                self.thread.start()
        return item.done

    def flush(self, timeout: float) -> bool:
        """Wait until every submitted write is settled; False if ``timeout`` ran out."""
        deadline = time.monotonic() + timeout
        while self.items.unfinished_tasks:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def _drain(self) -> None:
        while True:
            try:
                item = self.items.get(timeout=IDLE_EXIT_S)
            except queue.Empty:
                with self.lock:
                    if self.items.empty():
                        self.thread = None
                        return
                continue
            try:
                self._apply(item)
            finally:
                self.items.task_done()

    def _apply(self, item: _Item) -> None:
        budget = _settings().recorder_retry_seconds
        began = time.monotonic()
        backoff = FIRST_BACKOFF_S
        attempts = 0
        while True:
            attempts += 1
            try:
                item.write(self.engine)
            except Exception as exc:
                waited = time.monotonic() - began
                if not _retryable(exc, self.engine.dialect.name):
                    log.warning("could not record the %s: %s", item.what, _describe(exc))
                    item.done.set_exception(exc)
                    return
                if attempts == 1:
                    log.warning(
                        "could not record the %s yet (%s); retrying in the background "
                        "for up to %.0f s",
                        item.what,
                        _describe(exc),
                        budget,
                    )
                if waited + backoff > budget:
                    log.error(
                        "gave up recording the %s after %.1f s and %d attempts (%s): lost",
                        item.what,
                        waited,
                        attempts,
                        _describe(exc),
                    )
                    item.done.set_exception(exc)
                    return
                time.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            if attempts > 1:
                log.warning("recorded the %s after %d attempts", item.what, attempts)
            item.done.set_result(None)
            return


def _settings() -> Settings:
    """The settings, or the defaults when a FLOWRUNS_* value is invalid: recording must
    never fail the recorded work over configuration (the CLI and dashboard report it)."""
    try:
        return get_settings()
    except SettingsError:
        return Settings.model_construct()


def caller_bound() -> float:
    """Seconds the recorded work may wait for one record write."""
    return _settings().recorder_timeout_seconds


_writers: weakref.WeakKeyDictionary[Engine, RecordWriter] = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()


def _writer_engine(engine: Engine) -> Engine:
    """The engine the writer uses: its own, with a short SQLite busy timeout per attempt
    (and no reference back to the caller's engine, which stays collectable)."""
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "sqlite":
        return build_engine(url, busy_timeout_ms=SQLITE_BUSY_TIMEOUT_MS)
    return build_engine(url)


def is_in_memory(engine: Engine) -> bool:
    """An in-memory SQLite database exists per connection: no other thread can reach it."""
    database = engine.url.database
    return engine.dialect.name == "sqlite" and (not database or database == ":memory:")


def writer_for(engine: Engine) -> RecordWriter:
    with _writers_lock:
        writer = _writers.get(engine)
        if writer is None:
            writer = _writers[engine] = RecordWriter(_writer_engine(engine))
        return writer


def submit(engine: Engine, write: Write, what: str) -> Future[None]:
    """Queue ``write`` for ``engine``'s writer thread (inline for an in-memory database)."""
    if not is_in_memory(engine):
        return writer_for(engine).submit(write, what)
    done: Future[None] = Future()
    try:
        write(engine)
        done.set_result(None)
    except Exception as exc:
        log.warning("could not record the %s: %s", what, _describe(exc))
        done.set_exception(exc)
    return done


def failed(done: Future[None], bound: float) -> bool:
    """Wait up to ``bound`` s for ``done``; True only if the write failed for good."""
    wait_futures([done], timeout=bound)
    return done.done() and done.exception() is not None


async def failed_async(done: Future[None], bound: float) -> bool:
    """``failed`` for a coroutine: waits without blocking the event loop (and without
    cancelling the write when the bound runs out)."""
    await asyncio.wait([asyncio.wrap_future(done)], timeout=bound)
    return done.done() and done.exception() is not None


def flush(timeout: float = EXIT_FLUSH_S) -> bool:
    """Wait until every pending record write is settled (written, or logged as lost)."""
    deadline = time.monotonic() + timeout
    with _writers_lock:
        writers = list(_writers.values())
    return all(w.flush(max(0.0, deadline - time.monotonic())) for w in writers)


@atexit.register
def _flush_at_exit() -> None:
    if not flush(EXIT_FLUSH_S):
        pending = sum(w.items.unfinished_tasks for w in list(_writers.values()))
        log.error("exiting with %d record write(s) not yet written: lost", pending)
