"""Users and API keys for the REST shim. Keys are shown once and stored only as hashes."""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, select, text, update
from sqlalchemy.exc import DBAPIError

from data.db import session_scope
from data.errors import Conflict, InvalidQuery, NotFound
from data.models import ApiKey, Flow, User, utcnow
from data.passwords import hash_password
from data.stored_time import is_time

KEY_PREFIX = "frh_"
LAST_USED_RESOLUTION = timedelta(minutes=1)
LAST_USED_LOCK_WAIT_MS = 50
MAX_TRACKED_KEYS = 10_000
# key id -> time.monotonic() of the last last_used_at write attempt in this process:
# a failed (locked) attempt is not retried on every request.
_LAST_ATTEMPT: dict[uuid.UUID, float] = {}
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user an API key belongs to."""

    user_id: uuid.UUID
    username: str
    is_superuser: bool


@dataclass(frozen=True)
class ApiKeyInfo:
    id: uuid.UUID
    username: str
    name: str
    key_prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def hash_key(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


def create_user(
    engine: Engine, username: str, *, superuser: bool = False, password: str | None = None
) -> uuid.UUID:
    """A new user; with ``password`` it can sign in to the dashboard (stored as bcrypt),
    without one it has API keys only."""
    name = username.strip()
    if not name or len(name) > 150:
        raise InvalidQuery("username: must be 1 to 150 characters")
    hashed = "" if password is None else hash_password(password)
    with session_scope(engine) as session:
        if session.scalar(select(User.id).where(User.username == name)) is not None:
            raise Conflict(f"user {name!r} already exists")
        user = User(id=uuid.uuid4(), username=name, is_superuser=superuser, password=hashed)
        session.add(user)
    return user.id


def get_or_create_user(engine: Engine, username: str, *, superuser: bool = False) -> uuid.UUID:
    with session_scope(engine) as session:
        found = session.scalar(select(User.id).where(User.username == username))
    return found if found is not None else create_user(engine, username, superuser=superuser)


def create_api_key(engine: Engine, username: str, name: str = "default") -> tuple[str, uuid.UUID]:
    """A new key for ``username``: returns (plain key, key id). The plain key is not stored."""
    plain = KEY_PREFIX + secrets.token_urlsafe(32)
    with session_scope(engine) as session:
        user_id = session.scalar(select(User.id).where(User.username == username))
        if user_id is None:
            raise NotFound(f"user {username!r} does not exist")
        key = ApiKey(
            id=uuid.uuid4(),
            user_id=user_id,
            name=name,
            key_prefix=plain[:12],
            key_hash=hash_key(plain),
        )
        session.add(key)
    return plain, key.id


def revoke_api_key(engine: Engine, key_id: uuid.UUID) -> None:
    with session_scope(engine) as session:
        result = session.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound(f"no active API key with id {key_id}")


def list_api_keys(engine: Engine) -> list[ApiKeyInfo]:
    query = (
        select(ApiKey, User.username)
        .join(User, User.id == ApiKey.user_id)
        .order_by(ApiKey.created_at)
    )
    with session_scope(engine) as session:
        return [
            ApiKeyInfo(
                id=key.id,
                username=username,
                name=key.name,
                key_prefix=key.key_prefix,
                created_at=key.created_at,
                last_used_at=key.last_used_at,
                revoked_at=key.revoked_at,
            )
            for key, username in session.execute(query).all()
        ]


def authenticate(engine: Engine, plain: str) -> Principal | None:
    """The active user behind an unrevoked key, or None. Never waits on a write lock:
    the ``last_used_at`` bookkeeping is best effort (see ``touch_last_used``)."""
    if not plain.startswith(KEY_PREFIX) or len(plain) > 200:
        return None
    query = (
        select(ApiKey.id, User.id, User.username, User.is_superuser, ApiKey.last_used_at)
        .join(User, User.id == ApiKey.user_id)
        .where(
            ApiKey.key_hash == hash_key(plain),
            ApiKey.revoked_at.is_(None),
            User.is_active.is_(True),
        )
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    touch_last_used(engine, row[0], row[4])
    return Principal(user_id=row[1], username=row[2], is_superuser=row[3])


def touch_last_used(engine: Engine, key_id: uuid.UUID, last_used_at: datetime | None) -> None:
    """Record that the key was used: at most one attempt a minute per key and process,
    waiting at most ``LAST_USED_LOCK_WAIT_MS`` for a lock; skipped when busy.

    On SQLite every write takes the database lock, and another writer may hold it for
    seconds (a prune, a batch import): a read must not wait for that bookkeeping.
    """
    now = utcnow()
    # None, or stored unreadable by another program (data.stored_time): written anew.
    if is_time(last_used_at) and now - last_used_at < LAST_USED_RESOLUTION:
        return
    clock = time.monotonic()
    if clock - _LAST_ATTEMPT.get(key_id, -math.inf) < LAST_USED_RESOLUTION.total_seconds():
        return
    if len(_LAST_ATTEMPT) > MAX_TRACKED_KEYS:
        _LAST_ATTEMPT.clear()
    _LAST_ATTEMPT[key_id] = clock
    try:
        with engine.connect() as conn, _short_lock_wait(conn):
            conn.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))
            conn.commit()
    except DBAPIError as exc:  # locked or unreachable: the next attempt will do
        log.info("last_used_at of API key %s not recorded: %s", key_id, exc.orig)


@contextmanager
def _short_lock_wait(conn: Connection) -> Iterator[None]:
    if conn.dialect.name != "sqlite":
        conn.execute(text(f"SET LOCAL lock_timeout = '{LAST_USED_LOCK_WAIT_MS}ms'"))
        yield
        return
    previous = conn.execute(text("PRAGMA busy_timeout")).scalar_one()
    conn.execute(text(f"PRAGMA busy_timeout = {LAST_USED_LOCK_WAIT_MS}"))
    try:
        yield
    finally:
        conn.rollback()  # end a failed write before the connection goes back to the pool
        conn.execute(text(f"PRAGMA busy_timeout = {int(previous)}"))


def may_record_on(engine: Engine, principal: Principal, flow_id: uuid.UUID) -> bool:
    """True when the flow exists and ``principal`` owns it or is a superuser. Callers
    answer "not found" either way, so a flow id's existence is never revealed."""
    with engine.connect() as conn:
        owner = conn.execute(select(Flow.id, Flow.user_id).where(Flow.id == flow_id)).first()
    if owner is None:
        return False
    return principal.is_superuser or owner.user_id == principal.user_id
