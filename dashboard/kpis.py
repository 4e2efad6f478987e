"""KPI tiles for the Overview: values and deltas against the previous equal period."""

from __future__ import annotations

import streamlit as st

from dashboard.formatting import count, delta, human_duration, percent
from data.models import FlowRunStatus
from data.queries import RunStats


def _signed_duration(ms: float | None) -> str | None:
    if ms is None:
        return None
    return ("+" if ms >= 0 else "-") + human_duration(abs(ms))


def _signed_points(points: float | None) -> str | None:
    return None if points is None else f"{points * 100:+.1f} pp"


def tiles(stats: RunStats) -> list[tuple[str, str, str | None, str]]:
    """(label, value, delta text, delta colour) per tile; pure, so tests can read it."""
    prev = stats.previous
    failure = FlowRunStatus.FAILURE
    rows = [
        ("Runs", count(stats.total), prev and f"{stats.total - prev.total:+,}", "normal"),
        (
            "Success rate",
            percent(stats.success_rate),
            prev and _signed_points(delta(stats.success_rate, prev.success_rate)),
            "normal",
        ),
        (
            "Failures",
            count(stats.count(failure)),
            prev and f"{stats.count(failure) - prev.count(failure):+,}",
            "inverse",
        ),
        (
            "p50 duration",
            human_duration(stats.p50_duration_ms),
            prev and _signed_duration(delta(stats.p50_duration_ms, prev.p50_duration_ms)),
            "inverse",
        ),
        (
            "p95 duration",
            human_duration(stats.p95_duration_ms),
            prev and _signed_duration(delta(stats.p95_duration_ms, prev.p95_duration_ms)),
            "inverse",
        ),
        ("In progress", count(stats.active), prev and f"{stats.active - prev.active:+,}", "off"),
    ]
    return [(label, value, change or None, colour) for label, value, change, colour in rows]


def render(stats: RunStats) -> None:
    columns = st.columns(6)
    for column, (label, value, change, colour) in zip(columns, tiles(stats), strict=True):
        column.metric(label, value, change, delta_color=colour, border=True)  # type: ignore[arg-type]
    if stats.previous is None:
        st.caption("Deltas need a bounded time range (choose a preset or custom dates).")
    else:
        st.caption("Deltas compare with the previous period of the same length.")
