"""Tokens over time (from the rollup's token sums, so the chart costs the same at any
history size) and tokens per model (from the steps)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.colours import ACCENT
from dashboard.charts.labels import plain
from dashboard.charts.time import Bounds, bucket_bars, bucket_customdata, buckets, stacked_layout

HOVER = (
    "%{customdata[3]}<br>Tokens: %{customdata[4]:,}<br>"
    "Runs with a token count: %{customdata[5]:,} of %{customdata[6]:,}<extra></extra>"
)


def tokens_over_time(series: pd.DataFrame, tz: str, bounds: Bounds, now: datetime) -> go.Figure:
    frame = buckets(series, tz, bounds, now)
    tokens = frame["total_tokens"].astype("int64")
    custom = bucket_customdata(frame, "", tokens, frame["token_runs"], frame["runs"])
    fig = go.Figure(
        bucket_bars(frame, tokens, name="Tokens", colour=ACCENT, customdata=custom, hover=HOVER)
    )
    fig.update_layout(**stacked_layout(frame, tz, bounds, "Tokens"))
    return fig


def tokens_by_model_bars(by_model: pd.DataFrame) -> go.Figure:
    """Input and output tokens per model, stacked, largest total on top."""
    frame = by_model.assign(total=by_model["input_tokens"] + by_model["output_tokens"])
    frame = frame.sort_values("total", ascending=True)
    names = frame["model"].map(plain)
    fig = go.Figure()
    for column, label, colour in (
        ("input_tokens", "input", ACCENT),
        ("output_tokens", "output", "#E69F00"),
    ):
        fig.add_trace(
            go.Bar(
                y=names,
                x=frame[column],
                name=label,
                orientation="h",
                marker_color=colour,
                hovertemplate="%{y}<br>" + label + ": %{x:,} tokens<extra></extra>",
            )
        )
    fig.update_layout(
        barmode="stack",
        height=120 + 30 * max(len(frame), 1),
        margin={"l": 10, "r": 10, "t": 30, "b": 40},
        xaxis={"title": {"text": "Tokens"}, "tickformat": ",d"},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
    )
    return fig
