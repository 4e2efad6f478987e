"""Time buckets as spans in the chosen zone, partial buckets, and the shared time axis.

The data layer returns each bucket as the aware UTC instant where it starts. Charts draw
wall-clock times of the chosen zone without an offset (Plotly has no time zones), name
the zone on the axis and use 24-hour times, as the tables do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from data.local_time import bucket_end

MINUTE = "%Y-%m-%dT%H:%M"  # the URL's from/to format (wall clock in the chosen zone)
SHOWN = "%Y-%m-%d %H:%M"
BUCKET_STEPS = {
    "hour": pd.Timedelta(hours=1),
    "day": pd.DateOffset(days=1),
    "week": pd.DateOffset(weeks=1),
}
BUCKET_NAMES = {"hour": "Hour", "day": "Day", "week": "Week"}
TICK_FORMATS = {"hour": "%H:%M<br>%Y-%m-%d", "day": "%Y-%m-%d", "week": "%Y-%m-%d"}
IN_PROGRESS, FUTURE, CUT = "in progress", "not started yet", "partly outside the range"
Bounds = tuple[datetime | None, datetime | None] | None


def bucket_unit(frame: pd.DataFrame) -> str:
    return str(frame.attrs.get("bucket", "day"))


def local_naive(values: Any, tz: str) -> pd.Series:
    """Aware instants -> wall-clock times in ``tz`` without offset."""
    return pd.to_datetime(pd.Series(values), utc=True).dt.tz_convert(tz).dt.tz_localize(None)


def _bucket_ends(starts: pd.Series, unit: str, tz: str) -> pd.Series:
    """Each bucket's end (aware UTC): where the next local bucket starts, from instants
    (``data.local_time``), so DST days are 23 or 25 h and the day before a skipped
    midnight ends at the change."""
    zone = ZoneInfo(tz)
    unit = unit if unit in BUCKET_STEPS else "day"
    ends = [bucket_end(start.to_pydatetime(), unit, zone) for start in starts]
    return pd.Series(pd.DatetimeIndex(ends, tz="UTC"), index=starts.index)


def _notes(start: pd.Series, end: pd.Series, bounds: Bounds, now: datetime) -> list[str]:
    """Why a bucket holds less than a full span of runs ("" when it is complete)."""
    low, high = bounds or (None, None)
    moment = pd.Timestamp(now)
    notes = []
    for first, last in zip(start, end, strict=True):
        if first > moment:
            notes.append(FUTURE)
        elif last > moment:
            notes.append(IN_PROGRESS)
        elif (low is not None and first < low) or (high is not None and last > high):
            notes.append(CUT)
        else:
            notes.append("")
    return notes


def buckets(series: pd.DataFrame, tz: str, bounds: Bounds, now: datetime) -> pd.DataFrame:
    """``series`` plus where and what each bucket is.

    Added columns: ``x`` (local start), ``mid`` (local middle), ``width_ms``, ``from_key``/
    ``to_key`` (local wall clock, minute precision: a bucket becomes a time filter),
    ``span`` (hover text), ``note`` ("in progress", ... or "") and ``partial``.
    """
    unit = bucket_unit(series)
    frame = series.reset_index(drop=True).copy()
    start = pd.to_datetime(frame["bucket"], utc=True)
    x = local_naive(start, tz)
    end = _bucket_ends(start, unit, tz)
    x_end = local_naive(end, tz)
    frame["x"] = x
    frame["width_ms"] = (end - start).dt.total_seconds() * 1000
    frame["mid"] = x + (end - start) / 2
    frame["from_key"] = x.dt.strftime(MINUTE)
    frame["to_key"] = x_end.dt.strftime(MINUTE)
    frame["span"] = x.dt.strftime(SHOWN) + " to " + x_end.dt.strftime(SHOWN) + f" ({tz})"
    frame["note"] = _notes(start, end, bounds, now)
    frame["partial"] = frame["note"] != ""
    pairs = zip(frame["span"], frame["note"], strict=True)
    frame["span"] = [span + (f" · {note}" if note else "") for span, note in pairs]
    frame.attrs = dict(series.attrs)
    return frame


def time_axis(unit: str, tz: str, bounds: Bounds = None) -> dict[str, Any]:
    """The x axis of every time chart: zone in the title, 24-hour ticks, and the whole
    time range (empty buckets stay visible as empty, not squeezed out)."""
    axis: dict[str, Any] = {
        "title": {"text": f"{BUCKET_NAMES.get(unit, 'Time')} ({tz})"},
        "type": "date",
        "tickformat": TICK_FORMATS.get(unit, SHOWN),
        "hoverformat": SHOWN,
        "automargin": True,
    }
    low, high = bounds or (None, None)
    if low is not None and high is not None:
        axis["range"] = [t.strftime("%Y-%m-%d %H:%M:%S") for t in local_naive([low, high], tz)]
    return axis


def base_layout(height: int = 300, **extra: Any) -> dict[str, Any]:
    """Shared look: compact margins, legend on top. Drag and click modes are left to
    Streamlit: a preset dragmode "select" would make it ignore clicks on points."""
    layout: dict[str, Any] = {
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 30, "b": 10},
        "legend": {
            "orientation": "h",
            "yanchor": "bottom",
            "y": 1.02,
            "x": 0,
            "traceorder": "normal",  # stacked bars would list their series bottom-up reversed
        },
        "hovermode": "closest",
        "selectdirection": "h",
    }
    layout.update(extra)
    return layout


def line_traces(
    frame: pd.DataFrame,
    y: pd.Series,
    *,
    name: str,
    colour: str,
    customdata: Any,
    hovertemplate: str,
    yaxis: str = "y",
) -> list[go.Scatter]:
    """A line over the buckets of ``frame`` (from ``buckets``) whose segments into a
    partial bucket are dotted and whose partial points are open circles, so an
    unfinished hour or day never reads as a drop. Hover and clicks live on the markers."""
    partial = frame["partial"].to_numpy()
    solid = y.where(~frame["partial"])
    # A dotted segment joins each partial point to its neighbours.
    near = frame["partial"] | frame["partial"].shift(1, fill_value=False)
    near = near | frame["partial"].shift(-1, fill_value=False)
    dotted = y.where(near)
    line = {"color": colour, "width": 2}
    common = {"x": frame["mid"], "legendgroup": name, "yaxis": yaxis}
    return [
        go.Scatter(y=solid, mode="lines", line=line, hoverinfo="skip", showlegend=False, **common),
        go.Scatter(
            y=dotted,
            mode="lines",
            line={**line, "dash": "dot"},
            hoverinfo="skip",
            showlegend=False,
            **common,
        ),
        go.Scatter(
            y=y,
            mode="markers",
            name=name,
            marker={
                "color": colour,
                "size": 7,
                "symbol": ["circle-open" if p else "circle" for p in partial],
            },
            customdata=customdata,
            hovertemplate=hovertemplate,
            cliponaxis=False,  # a point at 100% sits on the axis edge: draw it whole
            **common,
        ),
    ]


def bucket_bars(
    frame: pd.DataFrame, y: pd.Series, *, name: str, colour: str, customdata: Any, hover: str
) -> go.Bar:
    """Bars over the buckets of ``frame`` (from ``buckets``), each as wide as its bucket
    (DST days too), partial ones hatched."""
    return go.Bar(
        x=frame["mid"],
        y=y,
        width=frame["width_ms"] * 0.9,
        name=name,
        marker=partial_bar_marker(frame, colour),
        customdata=customdata,
        hovertemplate=hover,
    )


def stacked_layout(frame: pd.DataFrame, tz: str, bounds: Bounds, y_title: str) -> dict[str, Any]:
    return {
        **base_layout(),
        "barmode": "stack",
        "xaxis": time_axis(bucket_unit(frame), tz, bounds),
        "yaxis": {"title": {"text": y_title}, "tickformat": ",d", "automargin": True},
    }


def partial_bar_marker(frame: pd.DataFrame, colour: str | list[str]) -> dict[str, Any]:
    """Bars of partial buckets are hatched and lighter ("in progress", not a drop)."""
    return {
        "color": colour,
        "opacity": [0.45 if p else 0.9 for p in frame["partial"]],
        "pattern": {"shape": ["/" if p else "" for p in frame["partial"]], "solidity": 0.3},
    }


def bucket_customdata(frame: pd.DataFrame, group: str | pd.Series, *extra: Any) -> Any:
    """Per bucket: [from, to, group, span, *extra]. The first three are what a click turns
    into a filter (``dashboard.state.selection``); the rest feeds the hover."""
    columns = [frame["from_key"], frame["to_key"], group, frame["span"], *extra]
    # Scalars (one group, one label) repeat on every bucket.
    return np.column_stack(
        [
            np.asarray(c, dtype=object)
            if isinstance(c, pd.Series | np.ndarray | list)
            else np.full(len(frame), c, dtype=object)
            for c in columns
        ]
    )
