"""The runs scatter (as Prefect's run chart): start time x duration (log), by status."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.colours import ordered_statuses, status_colour
from dashboard.charts.labels import plain
from dashboard.charts.time import SHOWN, base_layout, local_naive

WEBGL_FROM = 2000  # SVG markers get slow to draw and to hover beyond a few thousand
MIN_SECONDS = 0.001  # a log axis cannot show 0 ms: such runs sit on the 1 ms line
HOVER = (
    "%{customdata[1]}<br>%{customdata[2]} · %{customdata[3]}<br>started %{customdata[4]}"
    "<br>run %{customdata[0]}<extra></extra>"
)


def _duration_text(ms: float) -> str:
    return f"{ms / 1000:,.2f} s" if ms >= 1000 else f"{ms:,.0f} ms"


def runs_scatter(points: pd.DataFrame, tz: str) -> go.Figure:
    """One trace per status; WebGL (``Scattergl``) beyond ``WEBGL_FROM`` points.
    Runs without a duration (still active) cannot be placed and are left out."""
    timed = points[points["duration_ms"].notna()]
    kind = go.Scattergl if len(timed) > WEBGL_FROM else go.Scatter
    fig = go.Figure()
    for status in ordered_statuses(timed["status"].astype(str)):
        rows = timed[timed["status"].astype(str) == status]
        started = local_naive(rows["started_at"], tz)
        custom = np.column_stack(
            [
                rows["id"].to_numpy(dtype=object),
                rows["flow_name"].fillna("(unknown flow)").map(plain).to_numpy(dtype=object),
                np.full(len(rows), plain(status), dtype=object),
                rows["duration_ms"].map(_duration_text).to_numpy(dtype=object),
                started.dt.strftime(SHOWN).to_numpy(dtype=object) + f" ({tz})",
            ]
        )
        fig.add_trace(
            kind(
                x=started,
                y=(rows["duration_ms"] / 1000).clip(lower=MIN_SECONDS),
                mode="markers",
                name=plain(status),
                marker={"color": status_colour(status), "size": 6, "opacity": 0.75},
                customdata=custom,
                hovertemplate=HOVER,
            )
        )
    fig.update_layout(
        **base_layout(height=320, dragmode="zoom"),
        xaxis={
            "title": {"text": f"Started ({tz})"},
            "type": "date",
            "tickformat": "%H:%M<br>%Y-%m-%d",
            "automargin": True,
        },
        yaxis={"title": {"text": "Duration (s, log)"}, "type": "log", "automargin": True},
    )
    return fig
