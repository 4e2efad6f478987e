"""Local hours, days and weeks of a time zone, computed from instants.

The bucket rule (docs/rollup.md, "Local buckets"):

- a local day is the instants whose local date is that day, and starts at the first of
  them: where DST skips midnight (Africa/Cairo, America/Santiago, America/Havana in
  spring) the day starts at the change, 01:00 local; where midnight happens twice
  (America/Havana in November) at the first 00:00;
- a local week is the local days from Monday to Sunday;
- a local hour is the instants with the same local date, hour and UTC offset: the hour
  a fall-back change repeats is two buckets, and after a 30-minute change
  (Australia/Lord_Howe) an hour starts at the change.

A naive wall-clock time is never localised here (pandas ``tz_localize``/``normalize``,
``date_range`` in a zone, arithmetic on aware local times): those raise or guess at a
midnight that does not exist or happens twice. Instants are converted to local times
(always exact) and searched for the first instant that has a given local time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache

import pandas as pd

SECOND, HOUR, DAY = timedelta(seconds=1), timedelta(hours=1), timedelta(days=1)
# Further than any UTC offset a zone has used: the wall time W is read at W - 16 h
# before it happens anywhere and at W + 16 h after it happened everywhere.
REACH = timedelta(hours=16)


def _wall(moment: datetime, zone: tzinfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None, fold=0)


def _offset(moment: datetime, zone: tzinfo) -> timedelta:
    return moment.astimezone(zone).utcoffset() or timedelta(0)


def _first(low: datetime, high: datetime, reached: Callable[[datetime], bool]) -> datetime:
    """The first whole second in (low, high] where ``reached`` holds (it holds at
    ``high``, not at ``low``, and once it holds it keeps holding in between). Offsets
    and their changes are whole seconds, so that second is the exact instant."""
    while high - low > SECOND:
        middle = low + timedelta(seconds=(high - low) // SECOND // 2)
        if reached(middle):
            high = middle
        else:
            low = middle
    return high


def offset_change(low: datetime, high: datetime, zone: tzinfo) -> datetime:
    """The instant in (low, high] where the zone's UTC offset first differs from its
    offset at ``low`` (one change in between, found to the second)."""
    before = _offset(low, zone)
    return _first(low, high, lambda m: _offset(m, zone) != before)


@lru_cache(maxsize=65_536)
def wall_start(wall: datetime, zone: tzinfo) -> datetime:
    """The first instant (aware UTC) whose local wall time in ``zone`` is ``wall`` (naive)
    or later: ``wall`` itself where it exists once, its first occurrence where it happens
    twice, the end of the gap where DST skips it."""
    moment = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)  # fold 0: the earlier one
    if _wall(moment, zone) == wall and _wall(moment - SECOND, zone) < wall:
        return moment
    low = wall.replace(tzinfo=UTC) - REACH
    return _first(low, low + 2 * REACH, lambda m: _wall(m, zone) >= wall)


def day_start(day: date, zone: tzinfo) -> datetime:
    """The first instant (aware UTC) of the local date ``day``."""
    return wall_start(datetime.combine(day, time(0)), zone)


def week_monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def hour_start(moment: datetime, zone: tzinfo) -> datetime:
    """The start (aware UTC) of the local hour holding ``moment``."""
    local = moment.astimezone(zone)
    into = timedelta(minutes=local.minute, seconds=local.second, microseconds=local.microsecond)
    return hour_key_start(moment.astimezone(UTC) - into, _offset(moment, zone), zone)


def hour_key_start(truncated: datetime, offset: timedelta | None, zone: tzinfo) -> datetime:
    """The start of a local hour from its wall-clock start read with its runs' own
    offset (``truncated``: what the SQL of ``data.queries.buckets`` keys hours by, each
    run minus its minutes into the local hour). Where the zone changed offset inside
    that hour, the hour starts at the change. ``offset``: the runs' own, or None when unknown: a
    start whose local minute is not 0 was read with another offset than the zone's own
    at that instant, so the change lies after it."""
    if offset is None:
        if _wall(truncated, zone).minute == 0:
            return truncated
    elif _offset(truncated, zone) == offset:
        return truncated
    return offset_change(truncated, truncated + HOUR, zone)


def hour_end(start: datetime, zone: tzinfo) -> datetime:
    """The end of the local hour that starts at ``start``: the next local hour, or an
    offset change inside this one."""
    local = start.astimezone(zone)
    into = timedelta(minutes=local.minute, seconds=local.second, microseconds=local.microsecond)
    next_hour = start - into + HOUR
    if _offset(next_hour - SECOND, zone) == _offset(start, zone):
        return next_hour
    return offset_change(start, next_hour, zone)


def bucket_start(moment: datetime, unit: str, zone: tzinfo) -> datetime:
    """The start (aware UTC) of the local ``unit`` (hour, day, week) holding ``moment``."""
    if unit == "hour":
        return hour_start(moment, zone)
    day = moment.astimezone(zone).date()
    return day_start(week_monday(day) if unit == "week" else day, zone)


def bucket_end(start: datetime, unit: str, zone: tzinfo) -> datetime:
    """The end of the local ``unit`` that starts at ``start``: where the next one starts."""
    if unit == "hour":
        return hour_end(start, zone)
    day = start.astimezone(zone).date()
    return day_start(day + (timedelta(weeks=1) if unit == "week" else DAY), zone)


def bucket_starts(moments: pd.DatetimeIndex, unit: str, zone: tzinfo) -> pd.DatetimeIndex:
    """``bucket_start`` of each of ``moments`` (aware), computed once per distinct local
    date (or moment, for hours)."""
    utc = pd.DatetimeIndex(moments).tz_convert(UTC)
    if unit == "hour":
        keys = pd.Index(utc)
        starts = {m: hour_start(m.to_pydatetime(), zone) for m in keys.unique()}
    else:
        # Local dates (naive, exact), then whole days back to Monday on dates, not instants.
        keys = utc.tz_convert(zone).tz_localize(None).normalize()
        if unit == "week":
            keys = keys - pd.to_timedelta(keys.day_of_week, unit="D")
        starts = {d: day_start(d.date(), zone) for d in keys.unique()}
    return pd.DatetimeIndex([starts[k] for k in keys], tz=UTC)


def bucket_range(unit: str, zone: tzinfo, start: datetime, end: datetime) -> pd.DatetimeIndex:
    """Every bucket start (aware UTC) whose bucket holds an instant of [start, end)."""
    found = []
    moment = bucket_start(start, unit, zone)
    while moment < end:
        found.append(moment)
        moment = bucket_end(moment, unit, zone)
    return pd.DatetimeIndex(found, tz=UTC, name="bucket")
