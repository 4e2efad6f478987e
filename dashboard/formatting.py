"""Display helpers: human durations, time zones, status colours, numbers. No Streamlit here."""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo, available_timezones

import pandas as pd

# The one status colour map (colour-blind safe), shared with the charts; tables use it too.
from dashboard.charts.colours import STATUS_COLOURS, status_colour  # noqa: F401

COMMON_TIMEZONES = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
)


def timezone_options() -> list[str]:
    """Common zones first, then every other IANA zone alphabetically."""
    rest = sorted(available_timezones() - set(COMMON_TIMEZONES))
    return [*COMMON_TIMEZONES, *rest]


def is_timezone(name: str) -> bool:
    return name in COMMON_TIMEZONES or name in available_timezones()


def human_duration(ms: float | None) -> str:
    """850 ms, 2.4 s, 3 min 12 s, 1 h 05 min; "-" when unknown."""
    if ms is None or (isinstance(ms, float) and math.isnan(ms)):
        return "-"
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min {rest:02d} s"
    hours, rest = divmod(round(seconds), 3600)
    return f"{hours} h {rest // 60:02d} min"


def percent(rate: float | None, digits: int = 1) -> str:
    return "-" if rate is None else f"{rate * 100:.{digits}f}%"


def count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def local_time(value: datetime | None, tz: str, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    if value is None or pd.isna(value):
        return "-"
    return pd.Timestamp(value).tz_convert(ZoneInfo(tz)).strftime(fmt)


def to_local_naive(series: pd.Series, tz: str) -> pd.Series:
    """UTC timestamps as wall-clock times in ``tz`` without offset.

    Vega-Lite reads offset-free times as browser-local and shows them unchanged, so
    charts show the chosen zone whatever the viewer's browser is set to.
    """
    return pd.to_datetime(series, utc=True).dt.tz_convert(ZoneInfo(tz)).dt.tz_localize(None)


def status_label(status: str) -> str:
    # A plain dot: tables colour it per status (emoji fonts are often missing on servers).
    return f"● {status}"


def delta(current: float | None, previous: float | None) -> float | None:
    if current is None or previous is None:
        return None
    return current - previous
