"""Engines and sessions. Built on demand and cached per URL, never at import."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, InvalidRequestError
from sqlalchemy.orm import Session, sessionmaker

from data.json_values import tolerant_loads
from data.settings import SettingsError, get_settings
from data.sqlite_functions import register_sqlite_functions
from data.stored_time import register_lenient_time_loaders


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached, or its schema is missing."""


class InvalidDatabaseUrl(SettingsError):
    """The database URL cannot be parsed or names a database this app does not support."""


SUPPORTED_BACKENDS = ("sqlite", "postgresql")
DEFAULT_BUSY_TIMEOUT_MS = 15_000


def _configure_sqlite(engine: Engine, busy_timeout_ms: int, read_only: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL lets the dashboard read while a recorder or a prune writes.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        if read_only:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()
        # Another engine may have stored bytes that are not UTF-8: read them with U+FFFD
        # instead of failing the whole query (sqlite3 raises on the first such value).
        dbapi_connection.text_factory = _lenient_text
        register_sqlite_functions(dbapi_connection)


# C callables only: sqlite3 calls the text factory for every text value it returns, and
# a Python function there cost ~2 us per value (a third of a rollup read's time).
_lenient_text = partial(str, encoding="utf-8", errors="replace")


def parse_database_url(url: str) -> URL:
    """The parsed URL; ``InvalidDatabaseUrl`` (never echoing the URL, which may hold a
    password) when it is malformed or not SQLite/PostgreSQL."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise InvalidDatabaseUrl(
            "database URL: cannot be parsed (expected e.g. sqlite:///path/to/file.db "
            "or postgresql+psycopg://user@host:5432/db)"
        ) from None
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise InvalidDatabaseUrl(
            f"database URL: {backend!r} is not supported (use sqlite:/// or postgresql+psycopg://)"
        )
    return parsed


def _prepare_sqlite_folder(database: str | None) -> None:
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    try:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseUnavailable(
            f"cannot create the folder of the SQLite file {database}: {exc.strerror or exc}"
        ) from None


def build_engine(
    url: str, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS, read_only: bool = False
) -> Engine:
    """A new engine for ``url`` with the per-dialect settings this app relies on.

    ``busy_timeout_ms`` bounds how long a SQLite write waits for another writer's lock
    (the recorder uses a short one so it never stalls the work it records).
    ``read_only`` makes every transaction read-only (a write routed here by mistake
    fails at once, on a replica and on a primary alike).
    """
    parsed = parse_database_url(url)
    # Stored JSON is decoded leniently: one bad value written by another engine (NaN,
    # lone surrogates, invalid text, deep nesting) degrades instead of failing reads.
    kwargs: dict[str, Any] = {"future": True, "json_deserializer": tolerant_loads}
    if parsed.get_backend_name() == "sqlite":
        _prepare_sqlite_folder(parsed.database)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": busy_timeout_ms / 1000}
    else:
        # Buckets from date_trunc follow the session time zone: pin it to UTC.
        options = "-c timezone=utc"
        if read_only:
            options += " -c default_transaction_read_only=on"
        kwargs["connect_args"] = {"options": options, "connect_timeout": 5}
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, InvalidRequestError, ImportError) as exc:
        # e.g. an async-only driver, or a driver that is not installed.
        raise InvalidDatabaseUrl(f"database URL: unusable driver ({exc})") from None
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, busy_timeout_ms, read_only)
    elif engine.dialect.driver == "psycopg":
        event.listen(engine, "connect", lambda conn, _record: register_lenient_time_loaders(conn))
    return engine


@lru_cache(maxsize=8)
def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for ``url`` (default: the configured database)."""
    return build_engine(url or get_settings().resolved_database_url)


@lru_cache(maxsize=8)
def _read_only_engine(url: str) -> Engine:
    return build_engine(url, read_only=True)


def get_read_engine(url: str | None = None) -> Engine:
    """The process-wide engine for read-only queries: a read-only engine on ``url``, else
    on ``FLOWRUNS_READ_DATABASE_URL``; without either, the primary's engine itself.

    A replica may lag the primary: a run just recorded can be missing here for a moment.
    """
    settings = get_settings()
    read_url = url or settings.read_database_url
    return _read_only_engine(read_url) if read_url else get_engine(settings.resolved_database_url)


@lru_cache(maxsize=8)
def _session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any exception."""
    session = _session_factory(engine)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
