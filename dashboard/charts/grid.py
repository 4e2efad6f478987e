"""Flows x time grid (as Airflow's grid view): one square per flow and bucket, coloured
by failure rate; a click on a cell opens History for that flow and bucket."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.colours import FAILURE_SCALE
from dashboard.charts.labels import plain, rate_text
from dashboard.charts.time import Bounds, base_layout, bucket_unit, buckets, time_axis

MAX_FLOWS = 30
HOVER = (
    "%{customdata[7]}<br>%{customdata[3]}<br>Runs: %{customdata[4]:,}"
    "<br>Failures: %{customdata[5]:,}<br>Failure rate: %{customdata[6]}<extra></extra>"
)


def _worst(rates: pd.Series) -> float:
    top = rates.max()
    return 0.0 if pd.isna(top) else float(top)


def grid_cells(runs: pd.DataFrame, failures: pd.DataFrame) -> pd.DataFrame:
    """Per (bucket, flow_id) with runs: runs, failures and failure rate (failures/runs)."""
    cells = runs.groupby(["bucket", "flow_id"], as_index=False)["runs"].sum()
    failed = failures.groupby(["bucket", "flow_id"], as_index=False)["runs"].sum()
    cells = cells.merge(
        failed.rename(columns={"runs": "failures"}), on=["bucket", "flow_id"], how="left"
    )
    cells["failures"] = cells["failures"].fillna(0).astype("int64")
    cells["rate"] = cells["failures"] / cells["runs"]
    cells.attrs = dict(runs.attrs)
    return cells


def flow_grid(
    runs: pd.DataFrame,
    failures: pd.DataFrame,
    labels: dict[str, str],
    tz: str,
    bounds: Bounds,
    now: datetime,
) -> go.Figure:
    """``runs``/``failures``: ``count_timeseries(.., by="flow_id")`` of all runs and of
    the failures. The busiest ``MAX_FLOWS`` flows are rows, busiest on top."""
    runs = runs.assign(flow_id=runs["flow_id"].astype(str))
    failures = failures.assign(flow_id=failures["flow_id"].astype(str))
    cells = grid_cells(runs, failures)
    busiest = cells.groupby("flow_id")["runs"].sum().sort_values(ascending=False, kind="stable")
    rows = busiest.index[:MAX_FLOWS].tolist()
    cells = cells[cells["flow_id"].isin(rows)].reset_index(drop=True)
    frame = buckets(cells, tz, bounds, now)
    names = frame["flow_id"].map(lambda f: plain(labels.get(f, f)))
    order = [plain(labels.get(f, f)) for f in reversed(rows)]  # busiest at the top
    custom = np.column_stack(
        [
            frame["flow_id"].to_numpy(dtype=object),
            frame["from_key"].to_numpy(dtype=object),
            frame["to_key"].to_numpy(dtype=object),
            frame["span"].to_numpy(dtype=object),
            frame["runs"].to_numpy(dtype=object),
            frame["failures"].to_numpy(dtype=object),
            frame["rate"].map(rate_text).to_numpy(dtype=object),
            names.to_numpy(dtype=object),
        ]
    )
    columns = max(frame["x"].nunique(), 1)
    fig = go.Figure(
        go.Scatter(
            x=frame["mid"],
            y=names,
            mode="markers",
            marker={
                "symbol": "square",
                "size": max(6, min(22, 900 // columns)),
                "color": frame["rate"],
                "cmin": 0,
                # Zoomed to the worst cell (tenths, at least 10%) so 5% and 20% differ.
                "cmax": min(1.0, max(0.1, math.ceil(_worst(frame["rate"]) * 10) / 10)),
                "colorscale": FAILURE_SCALE,
                "line": {"width": [2 if p else 0 for p in frame["partial"]], "color": "#555"},
                "colorbar": {"title": {"text": "Failure rate"}, "tickformat": ".0%"},
            },
            customdata=custom,
            hovertemplate=HOVER,
            showlegend=False,
        )
    )
    fig.update_layout(
        **base_layout(height=120 + 26 * max(len(rows), 1), dragmode=False),
        xaxis=time_axis(bucket_unit(frame), tz, bounds),
        yaxis={
            "title": {"text": "Flow"},
            "type": "category",
            "categoryorder": "array",
            "categoryarray": order,
            "automargin": True,
        },
    )
    return fig
