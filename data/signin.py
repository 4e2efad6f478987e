"""Signing in with a local account (the ``user`` table the API and CLI use), throttled.

Throttling counts failed sign-ins over a sliding window, per account name and per client
address, in ``flowrun_login_failure`` (migration 0008) rather than in one process's
memory: dashboard processes behind a load balancer share the count, and restarting one
does not reset it. Each attempt is written before the password is checked, so parallel
guesses see one another and cannot slip past the limit together.

Nothing answers differently for a name that does not exist: the message is the same, a
missing user costs a bcrypt check against a dummy hash, and its failures are counted
(and throttled) like anyone's.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session

from data.accounts import Principal
from data.db import session_scope
from data.errors import NotFound
from data.models import LoginFailure, User, utcnow
from data.passwords import burn_time, hash_password, verify_password
from data.settings import Settings

INVALID = "Invalid username or password."
MAX_NAME = 150
MAX_PASSWORD = 1024  # longer input is refused without hashing it (bcrypt reads 72 bytes)


class SignInRefused(Exception):
    """The one-line reason a sign-in failed, safe to show: it never says whether the
    account exists."""


@dataclass(frozen=True)
class Limits:
    per_account: int
    per_client: int
    window: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            per_account=settings.login_max_failures,
            per_client=settings.login_max_failures_per_client,
            window=timedelta(minutes=settings.login_window_minutes),
        )


def _key(kind: str, value: str) -> str:
    # Hashed: what is typed as a username is sometimes the password.
    return hashlib.sha256(f"{kind}:{value}".encode("utf-8", "replace")).hexdigest()


def account_key(username: str) -> str:
    return _key("account", username.strip().casefold())


def client_key(client: str) -> str:
    return _key("client", client)


def _storable(name: str) -> bool:
    """A name a ``user`` row could hold: PostgreSQL refuses NUL, no driver sends lone
    surrogates; asking for either would be a database error, not an answer."""
    if not name or len(name) > MAX_NAME or "\x00" in name:
        return False
    try:
        name.encode()
    except UnicodeEncodeError:
        return False
    return True


def _throttled_message(retry_at: datetime, now: datetime, window: timedelta) -> str:
    # A parallel attempt's row may be stamped a moment after ``now``: never say more
    # than the window itself.
    wait = min(retry_at - now, window)
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    return f"Too many failed sign-ins. Try again in {minutes} minute(s)."


def _over_limit(session: Session, keys: dict[str, int], since: datetime) -> datetime | None:
    """The oldest counted failure of a key past its limit (it frees a slot when it leaves
    the window), or None when every key is within its limit."""
    worst: datetime | None = None
    for key, limit in keys.items():
        times = session.scalars(
            select(LoginFailure.at)
            .where(LoginFailure.key_hash == key, LoginFailure.at >= since)
            .order_by(LoginFailure.at.desc())
            .limit(limit + 1)
        ).all()
        if len(times) > limit:
            freed_by = times[limit]  # the failure whose expiry brings the count to the limit
            worst = freed_by if worst is None or freed_by > worst else worst
    return worst


def _record_attempt(engine: Engine, keys: list[str], now: datetime, window: timedelta) -> list[int]:
    with session_scope(engine) as session:
        rows = [LoginFailure(key_hash=key, at=now) for key in keys]
        session.add_all(rows)
        session.execute(delete(LoginFailure).where(LoginFailure.at < now - window))
        session.flush()
        return [row.id for row in rows]


def sign_in(engine: Engine, username: str, password: str, client: str, limits: Limits) -> Principal:
    """The user, or ``SignInRefused`` with a message that is the same for a wrong password
    and an unknown name (and for a disabled account or one without a password)."""
    name = username.strip()
    if not _storable(name) or not password or len(password) > MAX_PASSWORD:
        burn_time()  # no such name can exist: answered like any wrong password
        raise SignInRefused(INVALID)
    now = utcnow()
    by_account, by_client = account_key(name), client_key(client)
    ids = _record_attempt(engine, [by_account, by_client], now, limits.window)
    with session_scope(engine) as session:
        limits_by_key = {by_account: limits.per_account, by_client: limits.per_client}
        # Our own attempt is counted: with it, more than the limit means over it.
        blocked_since = _over_limit(session, limits_by_key, now - limits.window)
        if blocked_since is not None:
            # Not counted: refused attempts do not push the end of the wait further out.
            session.execute(delete(LoginFailure).where(LoginFailure.id.in_(ids)))
        user = session.execute(
            select(User.id, User.username, User.password, User.is_active, User.is_superuser).where(
                User.username == name
            )
        ).first()
    if blocked_since is not None:  # no password check at all while throttled
        retry_at = blocked_since + limits.window
        raise SignInRefused(_throttled_message(retry_at, now, limits.window))
    matched = verify_password(password, user.password if user else None)
    if user is None or not matched or not user.is_active:
        raise SignInRefused(INVALID)  # the attempt stays counted
    with session_scope(engine) as session:
        session.execute(
            delete(LoginFailure).where(
                (LoginFailure.key_hash == by_account) | LoginFailure.id.in_(ids)
            )
        )
        session.execute(update(User).where(User.id == user.id).values(last_login_at=now))
    return Principal(user_id=user.id, username=user.username, is_superuser=user.is_superuser)


def still_signed_in(engine: Engine, who: Principal) -> Principal | None:
    """``who`` as the ``user`` table has it now: None once the account is disabled or
    deleted, and a superuser flag taken away applies from the next page on."""
    query = select(User.username, User.is_superuser).where(
        User.id == who.user_id, User.is_active.is_(True)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    return Principal(user_id=who.user_id, username=row.username, is_superuser=row.is_superuser)


def set_password(engine: Engine, username: str, plain: str) -> None:
    """Store a new bcrypt hash for ``username`` (NotFound if there is no such user)."""
    hashed = hash_password(plain)
    with session_scope(engine) as session:
        result = session.execute(
            update(User)
            .where(User.username == username)
            .values(password=hashed, updated_at=utcnow())
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound(f"user {username!r} does not exist")


def failures_counted(engine: Engine, key: str, since: datetime) -> int:
    """How many failures of ``key`` the throttle counts since ``since`` (for status output
    and tests)."""
    with engine.connect() as conn:
        query = select(func.count()).where(LoginFailure.key_hash == key, LoginFailure.at >= since)
        return int(conn.execute(query).scalar_one())
