"""Flows page charts: failure rate per flow (labelled, zoomed) and per-flow trends."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.colours import STATUS_COLOURS
from dashboard.charts.labels import plain
from dashboard.charts.time import Bounds, base_layout, buckets

MAX_BARS = 30
FINISHED = ("success", "failure", "cancelled")


def failure_rates(table: pd.DataFrame) -> pd.DataFrame:
    """Per flow: failures over finished runs, highest first (flows with none finished
    are left out: they have no rate)."""
    finished = table[list(FINISHED)].sum(axis=1)
    rates = table.assign(
        flow_id=table["flow_id"].astype(str),
        finished=finished,
        failure_rate=table["failure"] / finished.where(finished > 0),
    )
    rates = rates[rates["finished"] > 0]
    return rates.sort_values(["failure_rate", "runs"], ascending=[False, False], kind="stable")


def failure_rate_bars(table: pd.DataFrame, labels: dict[str, str]) -> go.Figure:
    """Horizontal bars, each labelled "4.2% (12 of 285)", on an axis zoomed to the
    highest rate: 2% and 9% look different, unlike 98% and 91% success on 0-100%."""
    rates = failure_rates(table).head(MAX_BARS).iloc[::-1]  # Plotly draws the first lowest
    pairs = zip(rates["flow_id"], rates["flow_name"], strict=True)
    names = [plain(labels.get(f, n)) for f, n in pairs]
    text = [
        f"{r:.1%} ({int(f):,} of {int(n):,})"
        for r, f, n in zip(rates["failure_rate"], rates["failure"], rates["finished"], strict=True)
    ]
    custom = np.column_stack(
        [rates["flow_id"].to_numpy(dtype=object), np.asarray(names, dtype=object)]
    )
    top = float(rates["failure_rate"].max()) if len(rates) else 0.0
    fig = go.Figure(
        go.Bar(
            x=rates["failure_rate"],
            y=names,
            orientation="h",
            marker={"color": STATUS_COLOURS["failure"]},
            text=text,
            textposition="outside",
            cliponaxis=False,
            customdata=custom,
            hovertemplate="%{customdata[1]}<br>Failure rate %{text}<extra></extra>",
        )
    )
    fig.update_layout(
        **base_layout(height=90 + 28 * max(len(rates), 1), dragmode=False),
        xaxis={
            "title": {"text": "Failure rate (failures / finished runs)"},
            "range": [0, max(top * 1.45, 0.01)],
            "tickformat": ".1%" if top < 0.1 else ".0%",
        },
        yaxis={"title": {"text": "Flow"}, "type": "category", "automargin": True},
        showlegend=False,
    )
    return fig


def sparklines(
    trend: pd.DataFrame, flow_ids: list[str], tz: str, bounds: Bounds, now: datetime
) -> tuple[list[list[int]], int]:
    """Runs per finished bucket for each flow (for a table's line column) and how many
    unfinished buckets were left out: an hour or day in progress would end every line
    in a false drop."""
    if trend.empty:
        return [[] for _ in flow_ids], 0
    per_bucket = trend.assign(flow_id=trend["flow_id"].astype(str)).pivot_table(
        index="bucket", columns="flow_id", values="runs", aggfunc="sum", fill_value=0
    )
    index = per_bucket.reset_index()[["bucket"]]
    index.attrs = dict(trend.attrs)
    done = ~buckets(index, tz, bounds, now)["partial"].to_numpy()
    complete = per_bucket[done]
    lines = [
        complete[f].astype(int).tolist() if f in complete else [0] * len(complete) for f in flow_ids
    ]
    return lines, int((~done).sum())
