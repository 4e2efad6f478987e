"""Query parameters shared by every route, turned into one ``FlowRunFilter``.

Parameter names follow the kozmoai frontend (``flow_id``, ``status``, ``trigger_type``...).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Query
from pydantic import BeforeValidator
from sqlalchemy import Engine

from api.deps import EngineDep, PrincipalDep, scope_user_id, scoped
from data.accounts import Principal
from data.errors import InvalidQuery
from data.filters import MAX_FILTER_VALUES, FlowRunFilter
from data.models import utcnow
from data.statuses import check_statuses

MAX_INT32 = 2**31 - 1
DEFAULT_DAYS = 7
# Outside this range datetimes overflow in UTC conversion, period arithmetic or pandas.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
# Filter fields holding text -> the query parameter they come from (errors name that).
TEXT_FIELDS = {
    "session_id": "session_id",
    "error_contains": "q",
    "trigger_types": "trigger_type",
    "error_types": "error_type",
}

FlowIds = Annotated[
    list[uuid.UUID] | None,
    Query(max_length=MAX_FILTER_VALUES, description="Flow id; repeat for several flows"),
]
Statuses = Annotated[
    list[Annotated[str, Query(max_length=100)]] | None,
    Query(
        max_length=MAX_FILTER_VALUES,
        description="Run status, any case (pending, running, success, failure, cancelled), "
        "or another status your runs have; repeat for several",
    ),
]
Names = Annotated[list[Annotated[str, Query(max_length=100)]] | None, Query(max_length=50)]
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _not_a_number(value: Any) -> Any:
    # Pydantic reads a bare number as a Unix timestamp ("-1" = 1969-12-31T23:59:59):
    # for a time filter that is almost always a mistake, so only ISO-8601 is accepted.
    if isinstance(value, str) and NUMBER.fullmatch(value.strip()):
        raise ValueError("expected an ISO-8601 date or time (2024-05-01T12:00:00Z), not a number")
    return value


Moment = Annotated[
    datetime | None,
    BeforeValidator(_not_a_number),
    Query(description="ISO-8601; without a zone it is UTC"),
]
Duration = Annotated[int | None, Query(ge=0, le=MAX_INT32)]
Days = Annotated[
    int | None,
    Query(ge=1, le=3650, description="Window ending now (default 7); or give a time range"),
]


def _check_text(values: dict[str, Any]) -> None:
    for name, parameter in TEXT_FIELDS.items():
        raw = values.get(name)
        items = raw if isinstance(raw, tuple | list) else (raw,)
        if any(isinstance(item, str) and "\x00" in item for item in items):
            raise InvalidQuery(f"{parameter}: must not contain NUL characters")


def _check_moment(name: str, value: datetime | None) -> None:
    if value is None:
        return
    try:
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        in_range = EARLIEST <= aware.astimezone(UTC) < LATEST
    except OverflowError:
        in_range = False
    if not in_range:
        raise InvalidQuery(f"{name}: must be between 1900-01-01 and 2200-01-01")


def build_filter(**values: Any) -> FlowRunFilter:
    """``FlowRunFilter.build`` plus the limits HTTP input needs (no NULs, sane years)."""
    _check_text(values)
    _check_moment("started_after", values.get("started_after"))
    _check_moment("started_before", values.get("started_before"))
    return FlowRunFilter.build(**values)


def request_filter(
    engine: EngineDep,
    principal: PrincipalDep,
    flow_id: FlowIds = None,
    status: Statuses = None,
    trigger_type: Annotated[Names, Query(description="Trigger type; repeatable")] = None,
    session_id: Annotated[str | None, Query(max_length=500)] = None,
    started_after: Annotated[Moment, Query(description="Inclusive lower bound")] = None,
    started_before: Annotated[Moment, Query(description="Exclusive upper bound")] = None,
    q: Annotated[
        str | None, Query(max_length=500, description="Case-insensitive error text search")
    ] = None,
    min_duration_ms: Duration = None,
    max_duration_ms: Duration = None,
    error_type: Annotated[Names, Query(description="Error type; repeatable")] = None,
) -> FlowRunFilter:
    """The filter the query string asks for, before the caller's scope is applied."""
    return build_filter(
        flow_ids=tuple(flow_id or ()),
        statuses=_known_or_present(engine, principal, status or []),
        trigger_types=tuple(trigger_type or ()),
        session_id=session_id,
        started_after=started_after,
        started_before=started_before,
        error_contains=q,
        min_duration_ms=min_duration_ms,
        max_duration_ms=max_duration_ms,
        error_types=tuple(error_type or ()),
    )


def _known_or_present(engine: Engine, principal: Principal, values: list[str]) -> tuple[str, ...]:
    """The status rule of ``data.statuses``: known statuses, or values the caller's runs have."""
    user_id = scope_user_id(principal)
    scope = None if user_id is None else FlowRunFilter(user_id=user_id).where()
    return check_statuses(engine, values, scope)


RequestFilter = Annotated[FlowRunFilter, Depends(request_filter)]


def scoped_filter(flt: RequestFilter, principal: PrincipalDep) -> FlowRunFilter:
    return scoped(flt, principal)


ScopedFilter = Annotated[FlowRunFilter, Depends(scoped_filter)]


def with_window(flt: FlowRunFilter, days: int | None, now: datetime | None = None) -> FlowRunFilter:
    """Bound the filter in time: an explicit range, or the ``days`` (default 7) ending now.

    With only ``started_before``, the window is the ``days`` before it; with only
    ``started_after``, it runs until now.
    """
    after, before = flt.started_after, flt.started_before
    if days is not None and (after or before):
        raise InvalidQuery("days: give either days or started_after/started_before, not both")
    length = timedelta(days=days or DEFAULT_DAYS)
    if after and before:
        return flt
    if before:
        return flt.replace(started_after=before - length)
    end = now or utcnow()
    return flt.replace(started_after=after or end - length, started_before=end)


def period_days(flt: FlowRunFilter) -> float:
    period = flt.period
    return period.total_seconds() / 86400 if period else 0.0
