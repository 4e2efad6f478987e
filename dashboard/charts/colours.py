"""One colour map for statuses, shared by every chart and table.

Okabe-Ito colours: distinguishable with the common colour-vision deficiencies. A status
no engine of ours writes (legacy upper case, other runners) gets the "other" colour.
"""

from __future__ import annotations

from collections.abc import Iterable

STATUS_ORDER = ("success", "failure", "cancelled", "running", "pending")
STATUS_COLOURS: dict[str, str] = {
    "success": "#009E73",  # bluish green
    "failure": "#D55E00",  # vermillion
    "cancelled": "#999999",  # grey
    "running": "#0072B2",  # blue
    "pending": "#E69F00",  # orange
}
OTHER = "other"
OTHER_COLOUR = "#CC79A7"  # reddish purple: unknown status values stand out
VOLUME_COLOUR = "#7F7F7F"  # runs per bucket, behind the success-rate line
ACCENT = "#0072B2"
# Categorical series that are not statuses (error types): Okabe-Ito without the
# status-loaded green/vermillion first, so a series never reads as "success".
# Then Paul Tol's wine, teal and indigo (also colour-blind safe): the Errors trend draws
# 8 types plus "(other types)", and a repeated colour would merge two types.
SERIES_COLOURS = (
    "#0072B2",
    "#E69F00",
    "#56B4E9",
    "#CC79A7",
    "#F0E442",
    "#000000",
    "#999999",
    "#882255",
    "#44AA99",
    "#332288",
)
# Failure rate 0 -> 1 for the grid: light to vermillion (sequential, one hue).
FAILURE_SCALE = [[0.0, "#F2F2F2"], [0.05, "#F9D9C4"], [0.5, "#E8894A"], [1.0, "#A33F00"]]


def status_colour(status: str) -> str:
    return STATUS_COLOURS.get(status, OTHER_COLOUR)


def ordered_statuses(present: Iterable[str]) -> list[str]:
    """Known statuses in their fixed order, then unknown ones alphabetically."""
    seen = set(present)
    return [s for s in STATUS_ORDER if s in seen] + sorted(seen - set(STATUS_ORDER))


def series_colour(index: int) -> str:
    return SERIES_COLOURS[index % len(SERIES_COLOURS)]
