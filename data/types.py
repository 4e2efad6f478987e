"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from data.stored_time import UnreadableTime, shown


def as_utc(value: datetime) -> datetime:
    """Aware UTC datetime; a naive value (legacy SQLite rows) is taken to be UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """``timestamptz`` on PostgreSQL; on SQLite a naive UTC string, returned aware.

    SQLite has no time zone type: storing naive UTC keeps string comparison and
    ``strftime`` bucketing correct, and reading makes values aware again so duration
    math never mixes naive and aware datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        aware = as_utc(value)
        return aware.replace(tzinfo=None) if dialect.name == "sqlite" else aware

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        # Not the driver type's own processor (SQLite's raises on text that is not a time,
        # an integer or a blob): every stored value is decoded here, never raising.
        return lambda value: self.process_result_value(value, dialect)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        """Aware UTC, or an ``UnreadableTime`` (data.stored_time) for a stored value that
        is no time a reader can hold ('yesterday', '', 12, a blob, 'infinity')."""
        if value is None:
            return None
        try:
            if isinstance(value, str):  # rows written by other tools as ISO text
                value = datetime.fromisoformat(value)
            if isinstance(value, datetime):
                return as_utc(value)
        except (ValueError, OverflowError):
            pass
        return UnreadableTime(shown(value))


class _TextOnSQLite(TypeDecorator[Any]):
    """A time bound or key that SQLite compares as the stored text; ``timestamptz``
    elsewhere."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String())
        return dialect.type_descriptor(DateTime(timezone=True))


class UTCRangeBound(_TextOnSQLite):
    """A time-range bound (``started_at >= bound``) that also compares right with legacy
    SQLite text written without microseconds (``'2024-01-02 03:04:05'``, e.g. SQLite's
    CURRENT_TIMESTAMP). SQLite compares the stored text: the canonical bound
    ``'... 03:04:05.000000'`` sorts after ``'... 03:04:05'``, which dropped that row from
    an inclusive lower bound and kept it under an exclusive upper bound. Writing a whole
    second without the ``.000000`` sorts correctly against both stored forms.
    """

    cache_ok = True  # SQLAlchemy asks every subclass; no state

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        aware = as_utc(value)
        if dialect.name != "sqlite":
            return aware
        whole = aware.strftime("%Y-%m-%d %H:%M:%S")
        return f"{whole}.{aware.microsecond:06d}" if aware.microsecond else whole


class StoredTimeKey(_TextOnSQLite):
    """A time column as the database sorts it, for keyset cursors (see
    data.queries.cursors.stored_started_at).

    SQLite sorts the stored text, and another engine may have stored a time in a
    non-canonical form (``'2026-01-02 03:04:05'``, ``'2026-01-02T03:04:05+05:00'``): a
    cursor holding the parsed time, written back canonically, compared differently than
    the rows sorted, and a walk returned such runs twice or skipped some. On SQLite this
    type reads the stored text unchanged and binds text as given (a ``datetime`` in the
    canonical stored form), so the cursor compares exactly like ``ORDER BY``. On
    PostgreSQL it is ``timestamptz`` (text bound as the ISO time it holds).
    """

    cache_ok = True  # SQLAlchemy asks every subclass; no state

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "sqlite":
            if not isinstance(value, datetime):  # text, or a number or blob as stored
                return value
            naive = as_utc(value).replace(tzinfo=None)
            return naive.isoformat(sep=" ", timespec="microseconds")  # as UTCDateTime stores
        if isinstance(value, str):
            try:
                return as_utc(datetime.fromisoformat(value))
            except ValueError:
                return value  # 'infinity' (data.stored_time): PostgreSQL reads it as a time
        return as_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return as_utc(value) if isinstance(value, datetime) else value
