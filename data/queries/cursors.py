"""Keyset cursors: what ``list_runs`` hands out for the next page, and the strict check
of what comes back. A cursor is base64 JSON ``{"s": sort, "d": direction, "k": key,
"id": run id}``; anything else, or a key the sort column cannot be compared with, is an
``InvalidCursor`` naming the problem (never a database error).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from data.errors import InvalidQuery
from data.json_values import has_lone_surrogate


def encode_cursor(sort: str, direction: str, key: Any, run_id: uuid.UUID) -> str:
    if isinstance(key, datetime):
        key = {"ts": key.isoformat()}
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


def _time_key(key: Any) -> datetime:
    try:
        if not isinstance(key, dict) or set(key) != {"ts"}:
            raise TypeError("not a time key")
        moment = datetime.fromisoformat(key["ts"])
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        raise InvalidCursor(
            f"{NOT_OURS} (the started_at key must be an ISO time within years 1-9999 in UTC)"
        ) from None


def _cursor_key(sort: str, key: Any) -> Any:
    """The key checked against the sort column's type, so the database never sees a
    value it cannot compare (PostgreSQL would refuse text vs integer)."""
    if sort == "started_at":
        return _time_key(key)
    if sort == "duration_ms":
        if isinstance(key, bool) or not isinstance(key, int) or not MIN_INT64 <= key <= MAX_INT64:
            raise InvalidCursor(f"{NOT_OURS} (the duration_ms key must be a 64-bit integer)")
        return key
    if not isinstance(key, str) or "\x00" in key or has_lone_surrogate(key):
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
