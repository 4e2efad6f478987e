"""The one filter object. Every query (list, count, aggregates, export, delete)
compiles it here; no other module writes WHERE clauses for flow runs.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import and_, literal, or_, true
from sqlalchemy.sql.elements import ColumnElement

from data.errors import InvalidQuery
from data.models import FlowRun
from data.sql_functions import error_signature, lower_text
from data.statuses import canonical, status_in
from data.types import UTCRangeBound, as_utc

MAX_FILTER_VALUES = 200


class FlowRunFilter(BaseModel):
    """Immutable and hashable, so Streamlit can cache on it and it can be shared safely.

    Empty tuples and ``None`` mean "no constraint". ``started_after`` is inclusive,
    ``started_before`` exclusive.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    flow_ids: tuple[uuid.UUID, ...] = Field(default=(), max_length=MAX_FILTER_VALUES)
    statuses: tuple[str, ...] = Field(default=(), max_length=MAX_FILTER_VALUES)
    exclude_statuses: tuple[str, ...] = Field(default=(), max_length=MAX_FILTER_VALUES)
    trigger_types: tuple[str, ...] = Field(default=(), max_length=MAX_FILTER_VALUES)
    user_id: uuid.UUID | None = None
    run_id: uuid.UUID | None = None
    session_id: str | None = Field(default=None, max_length=500)
    started_after: datetime | None = None
    started_before: datetime | None = None
    min_duration_ms: int | None = Field(default=None, ge=0)
    max_duration_ms: int | None = Field(default=None, ge=0)
    error_contains: str | None = Field(default=None, max_length=500)
    error_types: tuple[str, ...] = Field(default=(), max_length=MAX_FILTER_VALUES)
    error_signature: str | None = Field(default=None, max_length=500)

    @field_validator("trigger_types", "error_types", mode="after")
    @classmethod
    def _normalise_names(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(sorted({v.strip() for v in values if v and v.strip()}))
        return cleaned

    @field_validator("statuses", "exclude_statuses", mode="after")
    @classmethod
    def _normalise_statuses(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted({canonical(v.strip()) for v in values if v and v.strip()}))

    @field_validator(
        "statuses",
        "exclude_statuses",
        "trigger_types",
        "error_types",
        "session_id",
        "error_contains",
        "error_signature",
        mode="after",
    )
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        # NUL cannot be sent to PostgreSQL and lone surrogates cannot be encoded at all:
        # refuse them here rather than fail in the driver.
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, str) and ("\x00" in item or _has_surrogate(item)):
                raise ValueError("must not contain NUL characters or invalid (surrogate) text")
        return value

    @field_validator("flow_ids", mode="after")
    @classmethod
    def _dedupe_ids(cls, values: tuple[uuid.UUID, ...]) -> tuple[uuid.UUID, ...]:
        return tuple(sorted(set(values), key=str))

    @field_validator("started_after", "started_before", mode="after")
    @classmethod
    def _to_utc(cls, value: datetime | None) -> datetime | None:
        try:
            return None if value is None else as_utc(value)
        except OverflowError:  # e.g. 0001-01-01T00:00+14:00 is before year 1 in UTC
            raise ValueError("out of range once converted to UTC") from None

    @field_validator("error_contains", "session_id", "error_signature", mode="after")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value if value and value.strip() else None

    @model_validator(mode="after")
    def _check_ranges(self) -> Self:
        if self.started_after and self.started_before and self.started_after >= self.started_before:
            raise ValueError("started_after must be earlier than started_before")
        low, high = self.min_duration_ms, self.max_duration_ms
        if low is not None and high is not None and low > high:
            raise ValueError("min_duration_ms must not exceed max_duration_ms")
        return self

    @classmethod
    def build(cls, **values: Any) -> FlowRunFilter:
        """Validate user input; errors become ``InvalidQuery`` with one readable line."""
        try:
            return cls.model_validate(values)
        except ValueError as exc:
            raise InvalidQuery(describe_validation_error(exc)) from None

    def replace(self, **changes: Any) -> FlowRunFilter:
        """A validated copy with some fields changed."""
        return type(self).build(**{**self.model_dump(), **changes})

    @property
    def is_empty(self) -> bool:
        return self == type(self)()

    @property
    def period(self) -> timedelta | None:
        if self.started_after and self.started_before:
            return self.started_before - self.started_after
        return None

    def previous_period(self) -> FlowRunFilter | None:
        """The same filter over the equally long period just before this one."""
        length = self.period
        if length is None or self.started_after is None:
            return None
        try:
            start = self.started_after - length
        except OverflowError:  # a range reaching back near year 1 has no previous period
            return None
        return self.replace(started_after=start, started_before=self.started_after)

    def clauses(self) -> list[ColumnElement[bool]]:
        run = FlowRun
        found: list[ColumnElement[bool]] = []
        if self.flow_ids:
            found.append(run.flow_id.in_(self.flow_ids))
        if self.statuses:
            found.append(status_in(self.statuses))
        if self.exclude_statuses:
            found.append(~status_in(self.exclude_statuses))
        if self.trigger_types:
            found.append(run.trigger_type.in_(self.trigger_types))
        if self.user_id is not None:
            found.append(run.user_id == self.user_id)
        if self.session_id is not None:
            found.append(run.session_id == self.session_id)
        if self.run_id is not None:
            found.append(run.id == self.run_id)
        if self.started_after is not None:
            found.append(run.started_at >= literal(self.started_after, UTCRangeBound()))
        if self.started_before is not None:
            found.append(run.started_at < literal(self.started_before, UTCRangeBound()))
        if self.min_duration_ms is not None:
            found.append(run.duration_ms >= self.min_duration_ms)
        if self.max_duration_ms is not None:
            found.append(run.duration_ms <= self.max_duration_ms)
        if self.error_contains is not None:
            # The message or the type: "timeout" finds TimeoutError runs whatever the text.
            needle = self.error_contains.lower()
            found.append(
                or_(
                    lower_text(run.error_message).contains(needle, autoescape=True),
                    lower_text(run.error_type).contains(needle, autoescape=True),
                )
            )
        if self.error_types:
            found.append(run.error_type.in_(self.error_types))
        if self.error_signature is not None:
            found.append(error_signature(run.error_message) == self.error_signature)
        return found

    def where(self) -> ColumnElement[bool]:
        """All clauses AND-ed (``TRUE`` when the filter is empty)."""

        clauses = self.clauses()
        return and_(*clauses) if clauses else true()


def _has_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(char) <= 0xDFFF for char in text)


def describe_validation_error(exc: Exception) -> str:
    """One line per problem, naming the field: ``started_after: invalid datetime``."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    parts = []
    for error in errors():
        location = ".".join(str(part) for part in error.get("loc", ()) if part != "__root__")
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts)
