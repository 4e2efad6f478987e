"""The independent answer for time buckets in a zone, from instants only.

Every whole minute of a wide window is converted with ``zoneinfo`` (no bucket code of
ours), and each local bucket starts at the first instant that belongs to it:

- a local day is the instants whose local date is that day (a skipped midnight: the day
  starts at the first instant after the gap; a repeated midnight: at the first 00:00);
- a local week is the instants whose local date falls in that Monday-to-Sunday week;
- a local hour is the instants with the same local date, hour and UTC offset (the
  repeated hour of a fall-back change is two buckets).

Transitions and midnights of the zones tested here fall on whole minutes, so "first
minute" is "first instant". Shared by the data, API and dashboard tests.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

MINUTE = timedelta(minutes=1)
MARGIN = timedelta(days=9)  # more than a week: the first week bucket starts before a window


def local_key(moment: datetime, unit: str, zone: ZoneInfo) -> Hashable:
    local = moment.astimezone(zone)
    day = local.date()
    if unit == "day":
        return day
    if unit == "week":
        return day - timedelta(days=day.weekday())
    return (day, local.hour, local.utcoffset())


def whole_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


@lru_cache(maxsize=64)
def _firsts(zone_name: str, unit: str, start: datetime, end: datetime) -> dict[Hashable, datetime]:
    zone = ZoneInfo(zone_name)
    found: dict[Hashable, datetime] = {}
    moment = start
    while moment < end:
        found.setdefault(local_key(moment, unit, zone), moment)
        moment += MINUTE
    return found


def minutes(start: datetime, end: datetime) -> list[datetime]:
    """Every whole minute in [start, end)."""
    count = int((end - start) / MINUTE)
    return [start + i * MINUTE for i in range(count)]


def transitions(zone_name: str, start: datetime, end: datetime) -> list[datetime]:
    """The instants in [start, end) where the zone's UTC offset changes (to the minute):
    hour by hour, then minute by minute inside an hour whose offset changed."""
    zone = ZoneInfo(zone_name)

    def offset(moment: datetime) -> timedelta | None:
        return moment.astimezone(zone).utcoffset()

    found = []
    hour = whole_minute(start).replace(minute=0)
    while hour < end:
        if offset(hour) != offset(hour + timedelta(hours=1)):
            inside = minutes(hour, hour + timedelta(hours=1) + MINUTE)
            found += [m for m in inside[1:] if offset(m) != offset(m - MINUTE) and m >= start]
        hour += timedelta(hours=1)
    return [m for m in found if m < end]


def offsets(zone_name: str, start: datetime, end: datetime) -> set[timedelta]:
    zone = ZoneInfo(zone_name)
    hours = minutes(whole_minute(start), end)[::60]
    return {m.astimezone(zone).utcoffset() or timedelta(0) for m in hours}


class Oracle:
    """Buckets of ``unit`` in ``zone_name`` for a query window [start, end)."""

    def __init__(self, zone_name: str, unit: str, start: datetime, end: datetime) -> None:
        self.zone, self.unit = ZoneInfo(zone_name), unit
        self.start, self.end = start, end
        low, high = whole_minute(start) - MARGIN, whole_minute(end) + timedelta(days=1)
        self.firsts = _firsts(zone_name, unit, low.astimezone(UTC), high.astimezone(UTC))

    def bucket(self, moment: datetime) -> datetime:
        return self.firsts[local_key(moment, self.unit, self.zone)]

    def counts(self, moments: Iterable[datetime]) -> Counter[datetime]:
        """Runs per bucket start, of the moments inside the window."""
        return Counter(self.bucket(m) for m in moments if self.start <= m < self.end)

    def index(self) -> list[datetime]:
        """Every bucket that holds an instant of the window, in order (what a series
        shows, empty buckets included)."""
        inside = minutes(whole_minute(self.start), self.end)
        return sorted({self.bucket(m) for m in inside if m >= self.start})
