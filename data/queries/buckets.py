"""Time buckets in a chosen time zone: local hours, local days, local weeks (Monday).

PostgreSQL truncates in the zone itself (``date_trunc(unit, ts, zone)``). SQLite has no
time zone database, so the zone's UTC offsets over the queried range (its DST
transitions) are turned into a CASE expression and applied as strftime modifiers.
Either way every bucket comes back as the aware UTC instant where it starts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import pandas as pd
from sqlalchemy import case, func, literal
from sqlalchemy.sql.elements import ColumnElement

from data.errors import InvalidQuery
from data.models import FlowRun
from data.sql_functions import Bucket, time_bucket, whole_seconds
from data.types import UTCDateTime

ToUtc = Callable[[pd.Series], pd.Series]
LOCAL_FORMATS = {
    "hour": "%Y-%m-%d %H:00:00",
    "day": "%Y-%m-%d 00:00:00",
    "week": "%Y-%m-%d 00:00:00",
}


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def zone(name: str) -> tzinfo:
    """The IANA zone called ``name`` (``InvalidQuery`` naming the parameter otherwise).

    Checked against the zone list first: ZoneInfo() alone turns some names into file
    system errors (a folder such as "America").
    """
    if name.upper() == "UTC":
        return UTC
    if name not in _zone_names():
        raise InvalidQuery(f"tz: unknown time zone {name!r}")
    return ZoneInfo(name)


def _offset_minutes(tz: tzinfo, moment: datetime) -> int:
    # astimezone first: tzinfo.utcoffset() would read the UTC wall time as local time.
    offset = moment.astimezone(tz).utcoffset() or timedelta(0)
    return int(offset.total_seconds() // 60)


def offset_segments(tz: tzinfo, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """[(from, minutes)]: the zone's UTC offset from each instant on, over [start, end].

    Scans day by day and pins each change to the hour (DST changes happen on the hour
    or half hour; a half-hour change is attributed to its hour).
    """
    moment = start.replace(minute=0, second=0, microsecond=0)
    segments = [(moment, _offset_minutes(tz, moment))]
    while moment < end:
        following = moment + timedelta(days=1)
        if _offset_minutes(tz, following) != segments[-1][1]:
            hour = moment
            while _offset_minutes(tz, hour) == segments[-1][1]:
                hour += timedelta(hours=1)
            segments.append((hour, _offset_minutes(tz, hour)))
        moment = following
    return segments


def _sqlite_offset(segments: list[tuple[datetime, int]]) -> ColumnElement[int]:
    if len(segments) == 1:
        return literal(segments[0][1])
    whens = [
        (FlowRun.started_at < segments[i + 1][0], literal(minutes))
        for i, (_, minutes) in enumerate(segments[:-1])
    ]
    return case(*whens, else_=literal(segments[-1][1]))


def _sqlite_bucket(unit: Bucket, segments: list[tuple[datetime, int]]) -> ColumnElement[Any]:
    offset = _sqlite_offset(segments)
    forward = func.printf("%+d minutes", offset)
    local = [whole_seconds(FlowRun.started_at), forward]
    if unit == "week":
        # weekday 0 moves forward to Sunday; six days back is that week's Monday.
        local += [literal("weekday 0"), literal("-6 days")]
    local_start = func.strftime(LOCAL_FORMATS[unit], *local)
    if unit != "hour":
        return local_start  # a local date: converted in Python (DST-correct midnights)
    # A local hour start back to UTC with the row's own offset (unambiguous in fall-back).
    return func.strftime("%Y-%m-%d %H:%M:%S", local_start, func.printf("%+d minutes", -offset))


def _localise_dates(tz: tzinfo) -> ToUtc:
    def convert(keys: pd.Series) -> pd.Series:
        local = pd.to_datetime(keys)
        aware = local.dt.tz_localize(tz, ambiguous=True, nonexistent="shift_forward")
        return aware.dt.tz_convert(UTC)

    return convert


def _utc(keys: pd.Series) -> pd.Series:
    return pd.to_datetime(keys, utc=True)


def bucket_expression(
    dialect: str, unit: Bucket, tz: tzinfo, time_range: tuple[datetime, datetime] | None
) -> tuple[ColumnElement[Any], ToUtc]:
    """(SQL bucket key, how to turn fetched keys into aware UTC bucket starts)."""
    if tz is UTC:
        return time_bucket(unit, FlowRun.started_at), _utc
    if dialect == "postgresql":
        name = getattr(tz, "key", str(tz))
        truncated = func.date_trunc(unit, FlowRun.started_at, name, type_=UTCDateTime())
        return truncated, _utc
    start, end = time_range or (datetime.now(UTC), datetime.now(UTC))
    segments = offset_segments(tz, start - timedelta(days=1), end + timedelta(days=1))
    expression = _sqlite_bucket(unit, segments)
    return expression, _utc if unit == "hour" else _localise_dates(tz)


def bucket_index(
    unit: Bucket, tz: tzinfo, time_range: tuple[datetime, datetime]
) -> pd.DatetimeIndex:
    """Every bucket start (aware UTC) in the range, for filling empty buckets."""
    start, end = pd.Timestamp(time_range[0]), pd.Timestamp(time_range[1])
    if unit == "hour":
        # Local hours are UTC hours shifted by the sub-hour part of the offset.
        shift = pd.Timedelta(minutes=_offset_minutes(tz, time_range[0]) % 60)
        first = (start + shift).floor("h") - shift
        index = pd.date_range(first, end, freq="h", inclusive="left")
    else:
        local_start = start.tz_convert(tz).normalize()
        if unit == "week":
            local_start = (local_start - pd.Timedelta(days=local_start.weekday())).normalize()
        freq = "D" if unit == "day" else "W-MON"
        index = pd.date_range(local_start, end.tz_convert(tz), freq=freq, inclusive="left")
        index = index.tz_convert(UTC)
    return pd.DatetimeIndex(index, name="bucket")
