"""Overview charts: volume and success rate, duration percentiles, status mix, triggers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.colours import (
    ACCENT,
    OTHER,
    STATUS_COLOURS,
    VOLUME_COLOUR,
    ordered_statuses,
    status_colour,
)
from dashboard.charts.labels import plain, rate_text
from dashboard.charts.time import (
    Bounds,
    base_layout,
    bucket_bars,
    bucket_customdata,
    bucket_unit,
    buckets,
    line_traces,
    stacked_layout,
    time_axis,
)

FINISHED = ("success", "failure", "cancelled")
RATE_HOVER = (
    "%{customdata[3]}<br>Runs: %{customdata[4]:,}<br>Failures: %{customdata[5]:,}"
    "<br>Success rate: %{customdata[6]}<extra></extra>"
)


def rate_axis(rates: pd.Series) -> dict[str, Any]:
    """A success-rate axis zoomed to the data (94-98% must not look flat) that always
    spans at least two points, so it never collapses to one tick."""
    valid = rates.dropna()
    low, high = (float(valid.min()), float(valid.max())) if len(valid) else (0.0, 1.0)
    pad = max((high - low) * 0.15, 0.01)
    low, high = max(0.0, low - pad), min(1.0, high + pad)
    if high - low < 0.02:
        low, high = (high - 0.02, high) if high >= 1.0 else (low, low + 0.02)
    return {
        "title": {"text": "Success rate (%)"},
        "range": [low, high],
        "tickformat": ".1%" if high - low < 0.1 else ".0%",
        "nticks": 6,
        "automargin": True,
    }


def _outcome_columns(frame: pd.DataFrame) -> Any:
    """customdata per bucket: [from, to, "", span, runs, failures, rate text]."""
    rates = frame["success_rate"].map(rate_text)
    return bucket_customdata(frame, "", frame["runs"], frame["failure"], rates)


def success_and_volume(series: pd.DataFrame, tz: str, bounds: Bounds, now: datetime) -> go.Figure:
    """Bars: runs per bucket (left axis); line: success rate (right axis, zoomed)."""
    frame = buckets(series, tz, bounds, now)
    custom = _outcome_columns(frame)
    fig = go.Figure()
    fig.add_trace(
        bucket_bars(
            frame,
            frame["runs"],
            name="Runs",
            colour=VOLUME_COLOUR,
            customdata=custom,
            hover=RATE_HOVER,
        )
    )
    for trace in line_traces(
        frame,
        frame["success_rate"],
        name="Success rate",
        colour=STATUS_COLOURS["success"],
        customdata=custom,
        hovertemplate=RATE_HOVER,
        yaxis="y2",
    ):
        fig.add_trace(trace)
    fig.update_layout(
        **base_layout(),
        xaxis=time_axis(bucket_unit(frame), tz, bounds),
        yaxis={"title": {"text": "Runs"}, "tickformat": ",d", "rangemode": "tozero"},
        yaxis2={**rate_axis(frame["success_rate"]), "overlaying": "y", "side": "right"},
    )
    fig.update_yaxes(showgrid=False, selector={"overlaying": "y"})
    return fig


def duration_percentiles(series: pd.DataFrame, tz: str, bounds: Bounds, now: datetime) -> go.Figure:
    """p50 and p95 duration per bucket, in seconds."""
    frame = buckets(series, tz, bounds, now)
    seconds = {name: frame[f"{name}_ms"].astype("float64") / 1000 for name in ("p50", "p95")}
    custom = bucket_customdata(frame, "", frame["runs"], seconds["p50"], seconds["p95"])
    hover = (
        "%{customdata[3]}<br>Runs: %{customdata[4]:,}<br>p50: %{customdata[5]:,.2f} s"
        "<br>p95: %{customdata[6]:,.2f} s<extra></extra>"
    )
    fig = go.Figure()
    for name, colour in (("p50", ACCENT), ("p95", STATUS_COLOURS["pending"])):
        for trace in line_traces(
            frame, seconds[name], name=name, colour=colour, customdata=custom, hovertemplate=hover
        ):
            fig.add_trace(trace)
    fig.update_layout(
        **base_layout(),
        xaxis=time_axis(bucket_unit(frame), tz, bounds),
        yaxis={"title": {"text": "Duration (s)"}, "rangemode": "tozero", "automargin": True},
    )
    return fig


def status_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Runs per status and bucket; statuses we do not know are counted as "other"."""
    known = [s for s in STATUS_COLOURS if s in frame.columns]
    counts = frame[known].astype(int).copy()
    other = frame["runs"].astype(int) - counts.sum(axis=1)
    if (other > 0).any():
        counts[OTHER] = other
    return counts


def status_mix(series: pd.DataFrame, tz: str, bounds: Bounds, now: datetime) -> go.Figure:
    """Stacked runs per status and bucket; a segment click carries its status."""
    frame = buckets(series, tz, bounds, now)
    counts = status_counts(frame)
    fig = go.Figure()
    for status in ordered_statuses(c for c in counts.columns if counts[c].sum() > 0):
        shown = plain(status)
        custom = bucket_customdata(frame, status, counts[status], frame["runs"], shown)
        hover = (
            "%{customdata[3]}<br>%{customdata[6]}: %{customdata[4]:,} of %{customdata[5]:,} runs"
        )
        fig.add_trace(
            bucket_bars(
                frame,
                counts[status],
                name=shown,
                colour=status_colour(status),
                customdata=custom,
                hover=hover + "<extra></extra>",
            )
        )
    fig.update_layout(**stacked_layout(frame, tz, bounds, "Runs"))
    return fig


def by_trigger(trigger_counts: Mapping[str, int]) -> go.Figure:
    """Horizontal bars, every one labelled with its count and share."""
    frame = pd.DataFrame({"trigger": list(trigger_counts), "runs": list(trigger_counts.values())})
    frame = frame.sort_values("runs", ascending=True)  # Plotly draws the first bar lowest
    total = max(int(frame["runs"].sum()), 1)
    labels = [f"{n:,} ({n / total:.0%})" for n in frame["runs"]]
    fig = go.Figure(
        go.Bar(
            x=frame["runs"],
            y=frame["trigger"].map(plain),
            orientation="h",
            marker={"color": ACCENT},
            text=labels,
            textposition="outside",
            cliponaxis=False,
            customdata=frame["trigger"].map(plain),
            hovertemplate="%{y}: %{text} of runs<extra></extra>",
        )
    )
    top = int(frame["runs"].max()) if len(frame) else 1
    fig.update_layout(
        **base_layout(height=80 + 40 * max(len(frame), 1), dragmode=False),
        xaxis={"title": {"text": "Runs"}, "range": [0, top * 1.35], "tickformat": ",d"},
        yaxis={"title": {"text": "Trigger type"}, "automargin": True, "type": "category"},
        showlegend=False,
    )
    return fig
