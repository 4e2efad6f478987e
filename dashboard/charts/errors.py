"""Errors page chart: failures per bucket, stacked by error type (the top types)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.colours import OTHER_COLOUR, series_colour
from dashboard.charts.labels import plain
from dashboard.charts.time import Bounds, bucket_bars, bucket_customdata, buckets, stacked_layout

TOP_TYPES = 8
NO_TYPE, OTHER_TYPES = "(no type)", "(other types)"


def type_columns(trend: pd.DataFrame, top: int = TOP_TYPES) -> pd.DataFrame:
    """Failures per bucket (rows) and error type (columns): the ``top`` most frequent
    types, the rest summed as "(other types)"; missing types as "(no type)"."""
    named = trend.assign(error_type=trend["error_type"].fillna(NO_TYPE).astype(str))
    named.loc[named["error_type"].str.strip() == "", "error_type"] = NO_TYPE
    wide = named.pivot_table(
        index="bucket", columns="error_type", values="runs", aggfunc="sum", fill_value=0
    )
    ranked = wide.sum().sort_values(ascending=False, kind="stable").index.tolist()
    keep, rest = ranked[:top], ranked[top:]
    result = wide[keep].copy()
    if rest:
        result[OTHER_TYPES] = wide[rest].sum(axis=1)
    result = result.astype("int64").reset_index()
    result.columns.name = None
    result.attrs = dict(trend.attrs)
    return result


def error_trend(trend: pd.DataFrame, tz: str, bounds: Bounds, now: datetime) -> go.Figure:
    """Stacked failures per bucket; a click on a series carries its error type (empty
    for the "(no type)" and "(other types)" series, which no filter can name)."""
    wide = type_columns(trend)
    frame = buckets(wide, tz, bounds, now)
    types = [c for c in wide.columns if c != "bucket"]
    fig = go.Figure()
    for index, kind in enumerate(types):
        key = "" if kind in (NO_TYPE, OTHER_TYPES) else kind
        colour = OTHER_COLOUR if kind == OTHER_TYPES else series_colour(index)
        custom = bucket_customdata(frame, key, frame[kind], plain(kind))
        hover = "%{customdata[3]}<br>%{customdata[5]}: %{customdata[4]:,} failures<extra></extra>"
        fig.add_trace(
            bucket_bars(
                frame, frame[kind], name=plain(kind), colour=colour, customdata=custom, hover=hover
            )
        )
    fig.update_layout(**stacked_layout(frame, tz, bounds, "Failures"))
    return fig
