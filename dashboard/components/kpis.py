"""KPI tiles for the Overview: values and deltas against the previous equal period."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from dashboard.formatting import count, delta, human_duration, percent
from data.models import FlowRunStatus
from data.queries import RunStats
from data.rollup.histogram import RELATIVE_ERROR

NO_EARLIER = "no earlier data"
NO_CHANGE = "no change"
APPROXIMATE_NOTE = (
    f"≈ approximate: percentiles from the rollup's duration histograms, within "
    f"{RELATIVE_ERROR:.0%} of the exact values."
)


@dataclass(frozen=True)
class Tile:
    label: str
    value: str
    delta: str | None  # None: no delta shown
    colour: str  # "normal" (up is good), "inverse" (up is bad) or "off"
    arrow: str  # "auto" or "off" (zero changes and "no earlier data" get no arrow)


def _signed_count(change: float) -> str:
    return f"{int(change):+,}"


def _signed_points(change: float) -> str:
    return f"{change * 100:+.1f} pp"


def _signed_duration(change: float) -> str:
    return ("+" if change >= 0 else "-") + human_duration(abs(change))


def _is_zero(text: str) -> bool:
    """Zero as displayed (a +0.04 pp change prints as +0.0 pp: no change either)."""
    digits = [c for c in text if c.isdigit()]
    return not digits or set(digits) == {"0"}


def _tile(
    label: str, value: str, change: float | None, fmt: object, colour: str, stats: RunStats
) -> Tile:
    prev = stats.previous
    if prev is None:
        return Tile(label, value, None, colour, "auto")
    if prev.total == 0:
        return Tile(label, value, NO_EARLIER, "off", "off")
    if change is None:
        return Tile(label, value, None, colour, "auto")
    text = fmt(change)  # type: ignore[operator]
    if _is_zero(text):
        return Tile(label, value, NO_CHANGE, "off", "off")
    return Tile(label, value, text, colour, "auto")


def approximately(stats: RunStats, value: str) -> str:
    """ "≈ 1.2 s" when the percentiles came from the rollup's histograms (within 2 %)."""
    return f"≈ {value}" if stats.approximate and value != "-" else value


def tiles(stats: RunStats) -> list[Tile]:
    """The six tiles; pure, so tests can read them. "In progress" has no delta: runs
    still active in a past period mean nothing for now."""
    prev = stats.previous
    failure = FlowRunStatus.FAILURE

    def diff(now: float | None, then: float | None) -> float | None:
        return delta(now, then) if prev is not None else None

    return [
        _tile(
            "Runs",
            count(stats.total),
            diff(stats.total, prev and prev.total),
            _signed_count,
            "normal",
            stats,
        ),
        _tile(
            "Success rate",
            percent(stats.success_rate),
            diff(stats.success_rate, prev and prev.success_rate),
            _signed_points,
            "normal",
            stats,
        ),
        _tile(
            "Failures",
            count(stats.count(failure)),
            diff(stats.count(failure), prev and prev.count(failure)),
            _signed_count,
            "inverse",
            stats,
        ),
        _tile(
            "p50 duration",
            approximately(stats, human_duration(stats.p50_duration_ms)),
            diff(stats.p50_duration_ms, prev and prev.p50_duration_ms),
            _signed_duration,
            "inverse",
            stats,
        ),
        _tile(
            "p95 duration",
            approximately(stats, human_duration(stats.p95_duration_ms)),
            diff(stats.p95_duration_ms, prev and prev.p95_duration_ms),
            _signed_duration,
            "inverse",
            stats,
        ),
        Tile("In progress", count(stats.active), None, "off", "off"),
    ]


def render(stats: RunStats) -> None:
    columns = st.columns(6)
    for column, tile in zip(columns, tiles(stats), strict=True):
        column.metric(
            tile.label,
            tile.value,
            tile.delta,
            delta_color=tile.colour,  # type: ignore[arg-type]
            delta_arrow=tile.arrow,  # type: ignore[arg-type]
            border=True,
        )
    if stats.approximate:
        st.caption(APPROXIMATE_NOTE)
    if stats.previous is None:
        st.caption("Deltas need a bounded time range (choose a preset or custom dates).")
    else:
        st.caption(
            "Deltas compare with the previous period of the same length "
            "(the current one may include an hour or day in progress)."
        )
