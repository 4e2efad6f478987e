"""Authentication never waits on SQLite's write lock: with another connection holding
``BEGIN IMMEDIATE`` on the file, a GET whose key is due a ``last_used_at`` write answers
at once (the write is skipped), and the bookkeeping resumes once the lock is gone."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from apiworld import API, World, seed_world
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.engine import make_url

from api.app import create_app
from data.accounts import create_api_key
from data.db import build_engine
from data.models import ApiKey, utcnow

# Far below the 15 s busy timeout a waiting write would take.
PROMPT_S = 3.0


@contextmanager
def write_lock(sqlite_url: str) -> Iterator[None]:
    """A second, real connection to the same file holding the write lock."""
    holder = sqlite3.connect(make_url(sqlite_url).database or "", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def last_used(engine: Engine, key_prefix: str) -> dict[str, datetime | None]:
    with engine.connect() as conn:
        rows = conn.execute(select(ApiKey.key_prefix, ApiKey.last_used_at)).all()
    return {prefix: used for prefix, used in rows if prefix.startswith(key_prefix)}


def test_a_held_write_lock_does_not_delay_authentication(sqlite_url: str) -> None:
    engine = build_engine(sqlite_url)
    world: World = seed_world(engine)
    stale = utcnow() - timedelta(minutes=5)
    with engine.begin() as conn:
        conn.execute(update(ApiKey).values(last_used_at=stale))
    client = TestClient(create_app(sqlite_url))
    with write_lock(sqlite_url):
        began = time.monotonic()
        response = client.get(API + "/", params={"limit": 5}, headers=world.headers("alice"))
        elapsed = time.monotonic() - began
    assert response.status_code == 200, response.text
    assert elapsed < PROMPT_S, f"authentication waited {elapsed:.1f} s on the write lock"
    alice_prefix = world.keys["alice"][:12]
    assert last_used(engine, alice_prefix)[alice_prefix] == stale  # skipped, not waited for

    # Without the lock the bookkeeping works: a key used for the first time is stamped.
    new_key, _ = create_api_key(engine, "bob", "second")
    assert client.get(API + "/", headers={"x-api-key": new_key}).status_code == 200
    stamped = last_used(engine, new_key[:12])[new_key[:12]]
    assert isinstance(stamped, datetime) and utcnow() - stamped < timedelta(minutes=1)
    # ...and the failed attempt is not retried on every request (throttled per key).
    assert client.get(API + "/", headers=world.headers("alice")).status_code == 200
    assert last_used(engine, alice_prefix)[alice_prefix] == stale
    engine.dispose()
