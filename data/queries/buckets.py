"""Time buckets in a chosen time zone: local hours, local days, local weeks (Monday).

PostgreSQL converts each run to the zone itself (``timezone(zone, ts)``). SQLite has no
time zone database, so the zone's UTC offsets over the queried range (its DST
transitions) are turned into a CASE expression and applied as strftime modifiers.
Either way every bucket comes back as the aware UTC instant where it starts, by the
rule of ``data.local_time``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import pandas as pd
from sqlalchemy import DateTime, case, func, literal
from sqlalchemy.sql.elements import ColumnElement

from data.errors import InvalidQuery
from data.local_time import bucket_range, day_start, hour_key_start, offset_change
from data.models import FlowRun
from data.sql_functions import Bucket, time_bucket, whole_seconds
from data.types import UTCRangeBound

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

    Scans day by day; a change is found to the second (Lord Howe's half-hour changes
    happen at half past a UTC hour, and a day bucket must not move them to the hour).
    """
    moment = start.replace(minute=0, second=0, microsecond=0)
    segments = [(moment, _offset_minutes(tz, moment))]
    while moment < end:
        following = moment + timedelta(days=1)
        if _offset_minutes(tz, following) != segments[-1][1]:
            moment = offset_change(moment, following, tz)
            segments.append((moment, _offset_minutes(tz, moment)))
            continue
        moment = following
    return segments


def _sqlite_offset(segments: list[tuple[datetime, int]]) -> ColumnElement[int]:
    if len(segments) == 1:
        return literal(segments[0][1])
    whens = [
        (FlowRun.started_at < literal(segments[i + 1][0], UTCRangeBound()), literal(minutes))
        for i, (_, minutes) in enumerate(segments[:-1])
    ]
    return case(*whens, else_=literal(segments[-1][1]))


def _sqlite_bucket(unit: Bucket, segments: list[tuple[datetime, int]]) -> ColumnElement[Any]:
    offset = _sqlite_offset(segments)
    forward = func.printf("%+d minutes", offset)
    local: list[ColumnElement[Any]] = [whole_seconds(FlowRun.started_at), forward]
    if unit == "week":
        # weekday 0 moves forward to Sunday; six days back is that week's Monday.
        local += [literal("weekday 0"), literal("-6 days")]
    local_start = func.strftime(LOCAL_FORMATS[unit], *local)
    if unit != "hour":
        return local_start  # a local date: converted in Python (DST-correct midnights)
    # A local hour start back to UTC with the row's own offset (unambiguous in fall-back).
    return func.strftime("%Y-%m-%d %H:%M:%S", local_start, func.printf("%+d minutes", -offset))


def _local_dates(tz: tzinfo) -> ToUtc:
    """Local dates (a day's or a week's; text or naive) -> where each starts (aware UTC)."""

    def convert(keys: pd.Series) -> pd.Series:
        dates = pd.to_datetime(keys)
        starts = {d: day_start(d.date(), tz) for d in dates.dropna().unique()}
        return pd.Series(
            pd.DatetimeIndex([starts.get(d, pd.NaT) for d in dates], tz=UTC), index=keys.index
        )

    return convert


def _local_hours(tz: tzinfo) -> ToUtc:
    """Local hour starts read with their runs' own offset (aware) -> where each starts."""

    def convert(keys: pd.Series) -> pd.Series:
        moments = pd.to_datetime(keys, utc=True)
        distinct = moments.dropna().unique()
        starts = {m: hour_key_start(m.to_pydatetime(), None, tz) for m in distinct}
        return pd.Series(
            pd.DatetimeIndex([starts.get(m, pd.NaT) for m in moments]), index=keys.index
        )

    return convert


def _utc(keys: pd.Series) -> pd.Series:
    return pd.to_datetime(keys, utc=True)


def bucket_expression(
    dialect: str, unit: Bucket, tz: tzinfo, time_range: tuple[datetime, datetime] | None
) -> tuple[ColumnElement[Any], ToUtc]:
    """(SQL bucket key, how to turn fetched keys into aware UTC bucket starts).

    Days and weeks are keyed by their local date, computed from each run's instant in
    SQL; where that date starts is worked out in Python (``data.local_time``: a midnight
    DST skips or repeats). Hours are keyed by their wall-clock start read with the run's
    own offset (distinct for the two hours a fall-back change repeats)."""
    if tz is UTC:
        return time_bucket(unit, FlowRun.started_at), _utc
    to_utc = _local_hours(tz) if unit == "hour" else _local_dates(tz)
    if dialect == "postgresql":
        name = getattr(tz, "key", str(tz))
        # The local wall clock of each run's instant (exact), truncated in it.
        local = func.timezone(name, FlowRun.started_at, type_=DateTime())
        truncated = func.date_trunc(unit, local, type_=DateTime())
        if unit == "hour":  # back by the minutes into the local hour: the run's own offset
            return FlowRun.started_at - (local - truncated), to_utc
        return truncated, to_utc
    start, end = time_range or (datetime.now(UTC), datetime.now(UTC))
    segments = offset_segments(tz, start - timedelta(days=1), end + timedelta(days=1))
    return _sqlite_bucket(unit, segments), to_utc


def bucket_index(
    unit: Bucket, tz: tzinfo, time_range: tuple[datetime, datetime]
) -> pd.DatetimeIndex:
    """Every bucket start (aware UTC) in the range, for filling empty buckets."""
    return bucket_range(unit, tz, *time_range)


# frame.attrs key: runs whose bucket key is no time (``placed``), which a chart cannot draw.
UNPLACED_RUNS = "unplaced_runs"


def _is_key(value: Any) -> bool:
    if isinstance(value, datetime):
        return True
    if not isinstance(value, str):  # None (strftime of text that is no time), a marker
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def placed(frame: pd.DataFrame, to_utc: ToUtc) -> tuple[pd.DataFrame, int]:
    """``frame`` with its ``bucket`` keys as UTC bucket starts, without the rows whose key
    is no time: runs another program stored with a start that is no time
    (data.stored_time) fall in such a bucket. Returns (frame, how many runs were dropped)."""
    readable = frame["bucket"].map(_is_key).astype(bool)
    starts = to_utc(frame["bucket"].where(readable, None))
    kept = readable & starts.notna()
    dropped = int(frame.loc[~kept, "runs"].sum())
    frame = frame[kept].copy()
    frame["bucket"] = starts[kept]
    return frame, dropped
