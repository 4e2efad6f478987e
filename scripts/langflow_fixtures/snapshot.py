"""Saving a live Langflow database as a small committed fixture, and proving the dump replays."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

# Tables whose rows are credentials or secrets: emptied in the live database before the snapshot.
SCRUBBED_TABLES = ("apikey", "variable")

# pg_dump >= 15.14 (and 13.22, 14.19, 16.10, 17.6) wraps a plain dump in psql-only
# `\restrict <random key>` / `\unrestrict <key>` lines: psycopg cannot execute them, and the
# random key would make every regenerated dump differ.
_PSQL_META = re.compile(r"^\\(un)?restrict\b.*$\n?", re.MULTILINE)


def sqlite_snapshot(live: Path, dest: Path, page_size: int = 512) -> None:
    """A consistent copy of a database that is still being written, as small as it can be.

    Small pages matter here: Langflow creates ~100 tables and their indexes, and most of them
    hold no row, so each costs one page. The copy leaves WAL mode so it opens as one file.
    """
    dest.unlink(missing_ok=True)
    with sqlite3.connect(f"file:{live}?mode=ro", uri=True) as source, sqlite3.connect(dest) as copy:
        source.backup(copy)
    copy = sqlite3.connect(dest, isolation_level=None)
    try:
        copy.execute("PRAGMA journal_mode=DELETE")
        copy.execute(f"PRAGMA page_size={page_size}")
        copy.execute("VACUUM")
    finally:
        copy.close()


def pg_dump(database_uri: str, dest: Path) -> None:
    """Plain SQL with INSERTs, no owners and no GRANTs: replayable by psycopg alone."""
    out = subprocess.run(
        ["pg_dump", "--inserts", "--no-owner", "--no-privileges", "-d", database_uri],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    dest.write_text(_PSQL_META.sub("", out))


def replay(dump: Path, database_uri: str) -> None:
    """Execute a plain dump in one go (no parameters, so psycopg sends it as one simple query)."""
    with psycopg.connect(database_uri, autocommit=True) as conn:
        conn.execute(dump.read_text().encode())


def pg_uri(admin_uri: str, database: str) -> str:
    """The admin URI (SQLAlchemy's `postgresql+psycopg://` accepted) pointed at another database."""
    parts = urllib.parse.urlsplit(re.sub(r"^postgresql\+\w+://", "postgresql://", admin_uri))
    return urllib.parse.urlunsplit(parts._replace(path=f"/{database}"))


@contextmanager
def scratch_database(admin_uri: str, prefix: str) -> Iterator[str]:
    """A new, uniquely named database; dropped (even if still in use) on the way out."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = pg_uri(admin_uri, urllib.parse.urlsplit(admin_uri).path.lstrip("/") or "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield pg_uri(admin_uri, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
