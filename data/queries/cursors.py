"""Keyset cursors: what ``list_runs`` hands out for the next page, and the strict check
of what comes back. A cursor is base64 JSON ``{"s": sort, "d": direction, "k": key,
"id": run id}``; anything else, or a key the sort column cannot be compared with, is an
``InvalidCursor`` naming the problem (never a database error).

A ``started_at`` key is the value the database sorts by (``stored_started_at``): on
PostgreSQL the time (``{"ts": iso}``); on SQLite the stored text (``{"stored": text}``),
which another engine may have written in a non-canonical form.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import type_coerce
from sqlalchemy.sql.elements import ColumnElement

from data.errors import InvalidQuery
from data.json_values import has_lone_surrogate
from data.types import StoredTimeKey, as_utc


def stored_started_at(column: Any) -> ColumnElement[Any]:
    """``column`` (a started_at) as the cursor key: the same SQL (indexes still apply),
    read and compared as the database sorts it (data.types.StoredTimeKey)."""
    return type_coerce(column, StoredTimeKey())


def _stored_key(key: Any) -> dict[str, Any]:
    """A started_at as stored, by its storage class: another program may have stored text
    that is no time, an integer or a blob (data.stored_time), and SQLite orders those
    numbers < text < blobs; PostgreSQL hands ``infinity`` over as text."""
    if isinstance(key, bytes):
        return {"blob": key.hex()}
    if isinstance(key, int | float) and not isinstance(key, bool):
        return {"num": key}
    try:
        datetime.fromisoformat(key)
    except (TypeError, ValueError):
        return {"raw": key}
    return {"stored": key}


def encode_cursor(sort: str, direction: str, key: Any, run_id: uuid.UUID) -> str:
    if isinstance(key, datetime):
        key = {"ts": key.isoformat()}
    elif sort == "started_at":
        key = _stored_key(key)
    elif sort == "duration_ms" and isinstance(key, str):
        key = {"text": key}  # SQLite: text another program stored as a duration
    payload = json.dumps({"s": sort, "d": direction, "k": key, "id": run_id.hex})
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


class InvalidCursor(InvalidQuery):
    """A ``cursor`` that this API did not issue for this order (tampered, truncated,
    from another ``order_by``/``order_dir``); the message names the problem."""


# Any key a page can end on is accepted back: a run another engine dated year 1 or
# 9999, or stored with a negative duration, must still be able to end a page. What is
# refused is a key that cannot be such a value (a time that overflows UTC, an integer
# beyond 64 bits) or whose type the sort column cannot be compared with.
MIN_INT64, MAX_INT64 = -(2**63), 2**63 - 1
MAX_STORED_TIME_CHARS = 64  # an ISO time with offset and microseconds takes 32
MAX_RAW_CHARS = 4096  # text that is no time is compared as stored: longer ends no page
UNREADABLE_KINDS = frozenset({"raw", "num", "blob"})
TIME_KEY_KINDS = frozenset({"ts", "stored"}) | UNREADABLE_KINDS
CURSOR_FIELDS = frozenset({"s", "d", "k", "id"})
NOT_OURS = "cursor: not a cursor returned by this API"


def _reject_constant(token: str) -> None:
    raise ValueError(f"{token} is not JSON")


def _cursor_payload(cursor: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, TypeError, binascii.Error, RecursionError):
        raise InvalidCursor(f"{NOT_OURS} (not base64-encoded JSON)") from None
    if not isinstance(payload, dict) or set(payload) != CURSOR_FIELDS:
        raise InvalidCursor(f"{NOT_OURS} (expected an object with s, d, k and id)")
    return payload


def _unreadable_key(kind: str, value: Any) -> Any:
    """A stored start that is no time, compared as the database sorts it (_stored_key)."""
    if kind == "raw" and _plain_text(value, MAX_RAW_CHARS):
        return value
    if kind == "num" and isinstance(value, int | float) and not isinstance(value, bool):
        return value if abs(value) <= MAX_INT64 else None
    if kind == "blob" and isinstance(value, str) and len(value) <= 2 * MAX_RAW_CHARS:
        with contextlib.suppress(ValueError):
            return bytes.fromhex(value)
    return None


def _time_key(key: Any) -> Any:
    """A time, or (SQLite) a time's stored text, compared as text; or a stored value that
    is no time (``_unreadable_key``)."""
    try:
        if not isinstance(key, dict) or len(key) != 1 or not set(key) <= TIME_KEY_KINDS:
            raise TypeError("not a time key")
        [(kind, value)] = key.items()
        if kind in UNREADABLE_KINDS:
            if (unreadable := _unreadable_key(kind, value)) is None:
                raise ValueError("not a stored value")
            return unreadable
        if kind == "stored" and not _plain_text(value, MAX_STORED_TIME_CHARS):
            raise ValueError("not stored time text")
        moment = as_utc(datetime.fromisoformat(value))
        return value if kind == "stored" else moment
    except (TypeError, ValueError, OverflowError):
        raise InvalidCursor(
            f"{NOT_OURS} (the started_at key must be an ISO time within years 1-9999 in UTC)"
        ) from None


def _plain_text(key: Any, max_chars: int | None = None) -> bool:
    return (
        isinstance(key, str)
        and "\x00" not in key
        and not has_lone_surrogate(key)
        and (max_chars is None or len(key) <= max_chars)
    )


def _cursor_key(sort: str, key: Any) -> Any:
    """The key checked against the sort column's type, so the database never sees a
    value it cannot compare (PostgreSQL would refuse text vs integer)."""
    if sort == "started_at":
        return _time_key(key)
    if sort == "duration_ms":
        # SQLite: text another program stored in duration_ms sorts after every number.
        if (
            isinstance(key, dict)
            and list(key) == ["text"]
            and _plain_text(key["text"], MAX_RAW_CHARS)
        ):
            return key["text"]
        if isinstance(key, bool) or not isinstance(key, int) or not MIN_INT64 <= key <= MAX_INT64:
            raise InvalidCursor(f"{NOT_OURS} (the duration_ms key must be a 64-bit integer)")
        return key
    if not _plain_text(key):
        raise InvalidCursor(f"{NOT_OURS} (the {sort} key must be text)")
    return key


def decode_cursor(cursor: str, sort: str, direction: str) -> tuple[Any, uuid.UUID]:
    payload = _cursor_payload(cursor)
    if payload["s"] != sort or payload["d"] != direction:
        raise InvalidCursor("cursor: it was issued for a different order_by/order_dir")
    try:
        run_id = uuid.UUID(payload["id"])
    except (TypeError, ValueError, AttributeError):
        raise InvalidCursor(f"{NOT_OURS} (its run id is not a UUID)") from None
    return _cursor_key(sort, payload["k"]), run_id
