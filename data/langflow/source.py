"""Opening a Langflow database to read from: reachable, really Langflow, new enough.

Every failure is one line a person can act on (the CLI prints it with exit code 2 or 3).
The source is opened through a read-only engine: nothing here can write to Langflow's
tables, and a read-only PostgreSQL role is enough (docs/langflow.md lists its GRANTs).
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from sqlalchemy import Engine, create_engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError

from data.db import DatabaseUnavailable, InvalidDatabaseUrl, build_engine, parse_database_url
from data.errors import InvalidQuery

# What a Langflow database holds that we read: runs need these; job rows are optional.
REQUIRED = ("trace", "span", "flow", "user")


class SourceError(InvalidQuery):
    """The source cannot be synced (the message says why, in one line)."""


@dataclass(frozen=True)
class Source:
    engine: Engine
    display: str  # the URL with its password masked
    key: str  # the same source whatever its password: a hash of the masked URL
    has_jobs: bool
    same_database: bool  # the source is the database our own tables live in


def masked(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def source_key(url: str) -> str:
    return hashlib.sha256(masked(url).encode()).hexdigest()


def _same(url: str, ours: Engine) -> bool:
    theirs = make_url(url)
    return theirs.set(password=None) == ours.url.set(password=None)


def _sqlite_reader(path: str) -> Engine:
    """A SQLite file opened read-only: our engine would switch its journal mode to WAL,
    a change to another application's file."""
    if not Path(path).is_file():
        raise SourceError(f"--source: no SQLite file at {path}")
    uri = f"{Path(path).resolve().as_uri()}?mode=ro"

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(uri, uri=True, timeout=15, check_same_thread=False)
        conn.text_factory = partial(str, encoding="utf-8", errors="replace")
        return conn

    return create_engine("sqlite://", creator=connect)


def open_source(url: str, ours: Engine) -> Source:
    """The Langflow database at ``url`` (``SourceError`` when it is unusable)."""
    try:
        parsed = parse_database_url(url)
    except InvalidDatabaseUrl as exc:
        raise SourceError(f"--source: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_reader(parsed.database or "")
    else:
        engine = build_engine(url, read_only=True)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
    except (OperationalError, ProgrammingError, DatabaseUnavailable) as exc:
        engine.dispose()
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200]
        raise SourceError(f"--source: cannot read {masked(url)}: {reason}") from None
    missing = [name for name in REQUIRED if name not in tables]
    if missing:
        engine.dispose()
        raise SourceError(_why_not(url, tables, missing))
    return Source(
        engine=engine,
        display=masked(url),
        key=source_key(url),
        has_jobs="job" in tables,
        same_database=_same(url, ours),
    )


def _why_not(url: str, tables: set[str], missing: list[str]) -> str:
    where = masked(url)
    if "trace" not in tables and {"flow", "transaction"} <= tables:
        return (
            f"--source: {where} is a Langflow database from before 1.8: it records no run"
            " identifier (only per-component transaction rows, at most 3,000 per flow), so"
            " its runs cannot be synced; upgrade Langflow to 1.8 or newer"
        )
    if not tables:
        return f"--source: {where} holds no tables (is it the Langflow database?)"
    return (
        f"--source: {where} is not a Langflow database with native traces"
        f" (missing tables: {', '.join(missing)})"
    )
