"""Reading a stored time never fails (issue 18.1).

Rows come from other programs (Langflow, raw SQL): SQLite keeps whatever it is given in
a time column (``'yesterday'``, ``''``, an integer, a blob) and PostgreSQL's
``timestamptz`` holds ``'infinity'``, which no Python ``datetime`` can. The drivers
raise on such a value, and one row used to fail a whole page, a walk or a command.

The decoding happens here, at the SQL boundary: ``UTCDateTime`` (data.types) reads such a
value as an ``UnreadableTime`` that carries the stored value as safe text, and on
PostgreSQL the connection's loaders hand ``infinity`` over as text instead of raising.
Readers then show the text and flag the row (``RunRecord.unreadable``); SQL filters and
ordering are untouched, so they keep working on the good rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeGuard

import pandas as pd

MAX_SHOWN_CHARS = 120


def shown(value: Any) -> str:
    """A stored value as text safe to print and to put in JSON: bytes as ``x'hex'``,
    surrogates escaped, NUL and control characters escaped, cut to ``MAX_SHOWN_CHARS``."""
    if isinstance(value, bytes | bytearray | memoryview):
        text = f"x'{bytes(value)[: MAX_SHOWN_CHARS // 2].hex()}'"
    elif isinstance(value, str):
        text = value.encode("utf-8", "backslashreplace").decode("utf-8")
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    else:
        text = repr(value)
    return text if len(text) <= MAX_SHOWN_CHARS else text[: MAX_SHOWN_CHARS - 1] + "…"


@dataclass(frozen=True)
class UnreadableTime:
    """A stored time that is no time a reader can hold; ``raw`` is it as safe text.

    It never compares with a ``datetime`` (a ``TypeError`` would be a bug: callers
    check ``is_time`` first)."""

    raw: str

    def __str__(self) -> str:
        return self.raw


def is_time(value: object) -> TypeGuard[datetime]:
    return isinstance(value, datetime)


def unreadable_fields(values: dict[str, Any]) -> dict[str, str]:
    """Column -> stored text, for the values of a row that are ``UnreadableTime``."""
    return {k: v.raw for k, v in values.items() if isinstance(v, UnreadableTime)}


def register_lenient_time_loaders(dbapi_connection: Any) -> None:
    """psycopg: ``infinity`` and other times it cannot load come back as their text
    (UTCDateTime then reads an ``UnreadableTime``) instead of raising on the fetch."""
    from psycopg import DataError
    from psycopg.types import datetime as pg_datetime

    def lenient(base: Any) -> Any:
        class Lenient(base):  # type: ignore[misc]
            def load(self, data: Any) -> Any:
                try:
                    return super().load(data)
                except (DataError, ValueError, OverflowError):
                    return bytes(data).decode("utf-8", "replace")

        return Lenient

    # SQLAlchemy's psycopg dialect fetches text; binary results are never asked for.
    adapters = dbapi_connection.adapters
    adapters.register_loader("timestamptz", lenient(pg_datetime.TimestamptzLoader))
    adapters.register_loader("timestamp", lenient(pg_datetime.TimestampLoader))
    adapters.register_loader("date", lenient(pg_datetime.DateLoader))


UNREADABLE_ROWS = "unreadable_rows"  # frame.attrs key: rows dropped by ``without_unreadable``


def without_unreadable(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """``frame`` without the rows whose ``column`` is no time (a chart cannot place them);
    how many were dropped is in ``frame.attrs[UNREADABLE_ROWS]`` for the page's note."""
    readable = frame[column].map(lambda v: v is None or is_time(v)).astype(bool)
    kept = frame[readable].copy() if not readable.all() else frame
    kept.attrs[UNREADABLE_ROWS] = int((~readable).sum())
    return kept


def as_times(values: pd.Series) -> pd.Series:
    """``values`` as UTC datetimes, NaT where a value is no time (an aggregate such as
    max(started_at) over text another program stored)."""
    return pd.to_datetime(values.map(lambda v: v if is_time(v) else None), utc=True)
