"""Altair charts with readable units and tooltips. Inputs are the data layer's frames."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import altair as alt
import pandas as pd

from dashboard.formatting import STATUS_COLOURS, to_local_naive

# Counts are whole runs: no 0.5 ticks on small ranges.
COUNT_AXIS = alt.Axis(tickMinStep=1, format=",d")
STATUS_ORDER = ["success", "failure", "cancelled", "running", "pending"]
BUCKET_LABELS = {"hour": "Hour", "day": "Day", "week": "Week"}
TIME_FORMATS = {"hour": "%Y-%m-%d %H:%M", "day": "%Y-%m-%d", "week": "week of %Y-%m-%d"}


def _time_axis(frame: pd.DataFrame) -> tuple[alt.X, alt.Tooltip]:
    bucket = frame.attrs.get("bucket", "day")
    title = f"{BUCKET_LABELS.get(bucket, 'Time')} (start)"
    return (
        alt.X("time:T", title=title),
        alt.Tooltip("time:T", title=title, format=TIME_FORMATS.get(bucket, "%Y-%m-%d %H:%M")),
    )


BUCKET_LENGTHS = {
    "hour": pd.Timedelta(hours=1),
    "day": pd.Timedelta(days=1),
    "week": pd.Timedelta(weeks=1),
}


def _with_local_time(frame: pd.DataFrame, tz: str) -> pd.DataFrame:
    local = frame.copy()
    local["time"] = to_local_naive(local["bucket"], tz)
    # Bars span their whole bucket (x to x2) instead of a hairline at its start.
    length = BUCKET_LENGTHS.get(frame.attrs.get("bucket", "day"), pd.Timedelta(days=1))
    local["end"] = local["time"] + length * 0.9
    local.attrs = dict(frame.attrs)
    return local


def _stacked(frame: pd.DataFrame, groups: list[str], name: str, value: str) -> pd.DataFrame:
    """Wide counts -> long rows with explicit bar bottoms/tops (bars span x..x2, so
    Vega-Lite's own stacking does not apply)."""
    long = frame.melt(id_vars=["time", "end"], value_vars=groups, var_name=name, value_name=value)
    long = long[long[value] > 0].copy()
    long["order"] = long[name].map(groups.index)
    long = long.sort_values(["time", "order"])
    long["top"] = long.groupby("time")[value].cumsum()
    long["bottom"] = long["top"] - long[value]
    return long


def success_and_volume(series: pd.DataFrame, tz: str) -> alt.LayerChart:
    """Bars: runs per bucket; line: success rate (right axis)."""
    frame = _with_local_time(series, tz)
    x, when = _time_axis(frame)
    bars = (
        alt.Chart(frame)
        .mark_bar(opacity=0.35, color="#64748b")
        .encode(
            x=x,
            x2="end:T",
            y=alt.Y("runs:Q", title="Runs", axis=COUNT_AXIS),
            y2=alt.datum(0),
            tooltip=[when, alt.Tooltip("runs:Q", title="Runs", format=",")],
        )
    )
    line = (
        alt.Chart(frame)
        .mark_line(point=True, color=STATUS_COLOURS["success"])
        .encode(
            x=x,
            y=alt.Y("success_rate:Q", title="Success rate", axis=alt.Axis(format="%")),
            tooltip=[when, alt.Tooltip("success_rate:Q", title="Success rate", format=".1%")],
        )
    )
    return alt.layer(bars, line).resolve_scale(y="independent").properties(height=260)


def duration_percentiles(series: pd.DataFrame, tz: str) -> alt.Chart:
    frame = _with_local_time(series, tz)
    x, when = _time_axis(frame)
    frame["p50"] = frame["p50_ms"] / 1000
    frame["p95"] = frame["p95_ms"] / 1000
    long = frame.melt(id_vars=["time"], value_vars=["p50", "p95"], var_name="percentile")
    return (
        alt.Chart(long.dropna())
        .mark_line(point=True)
        .encode(
            x=x,
            y=alt.Y("value:Q", title="Duration (seconds)"),
            color=alt.Color("percentile:N", title="Percentile"),
            tooltip=[
                when,
                alt.Tooltip("percentile:N", title="Percentile"),
                alt.Tooltip("value:Q", title="Seconds", format=",.2f"),
            ],
        )
        .properties(height=260)
    )


def status_mix(series: pd.DataFrame, tz: str) -> alt.Chart:
    frame = _with_local_time(series, tz)
    x, when = _time_axis(frame)
    present = [s for s in STATUS_ORDER if s in frame.columns]
    long = _stacked(frame, present, "status", "n")
    colour = alt.Color(
        "status:N",
        scale=alt.Scale(domain=present, range=[STATUS_COLOURS[s] for s in present]),
        title="Status",
    )
    tooltip = [when, "status:N", alt.Tooltip("n:Q", title="Runs", format=",")]
    return _stacked_bars(long, x, colour, tooltip)


def by_trigger(trigger_counts: Mapping[str, int]) -> alt.Chart:
    frame = pd.DataFrame(
        {"trigger": list(trigger_counts), "runs": list(trigger_counts.values())}
    ).sort_values("runs", ascending=False)
    total = max(int(frame["runs"].sum()), 1)
    frame["share"] = frame["runs"] / total
    return (
        alt.Chart(frame)
        .mark_bar(color="#6366f1")
        .encode(
            x=alt.X("runs:Q", title="Runs"),
            y=alt.Y("trigger:N", sort="-x", title="Trigger type"),
            tooltip=[
                alt.Tooltip("trigger:N", title="Trigger"),
                alt.Tooltip("runs:Q", title="Runs", format=","),
                alt.Tooltip("share:Q", title="Share", format=".1%"),
            ],
        )
        .properties(height=max(120, 36 * len(frame)))
    )


def grouped_counts(series: pd.DataFrame, by: str, tz: str, title: str) -> alt.Chart:
    """Stacked runs per bucket and group (error types on the Errors page)."""
    frame = _with_local_time(series, tz)
    frame[by] = frame[by].fillna("(none)").astype(str)
    x, when = _time_axis(frame)
    frame = frame.sort_values(["time", by])
    frame["top"] = frame.groupby("time")["runs"].cumsum()
    frame["bottom"] = frame["top"] - frame["runs"]
    tooltip = [when, alt.Tooltip(f"{by}:N", title=title), alt.Tooltip("runs:Q", format=",")]
    return _stacked_bars(frame, x, alt.Color(f"{by}:N", title=title), tooltip)


def _stacked_bars(frame: pd.DataFrame, x: Any, colour: Any, tooltip: list[Any]) -> alt.Chart:
    """Bars per time bucket stacked from precomputed ``bottom``/``top`` run counts."""
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=x,
            x2="end:T",
            y=alt.Y("top:Q", title="Runs", axis=COUNT_AXIS),
            y2="bottom:Q",
            color=colour,
            tooltip=tooltip,
        )
        .properties(height=260)
    )
