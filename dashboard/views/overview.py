"""Overview: KPI tiles with deltas, the trends behind them, and the newest runs.

Click a bucket (or a status segment) to narrow every page to it, drag across a time
chart to pick a span, click a run in the scatter to open it in History.
"""

from datetime import UTC, datetime
from typing import Any

import streamlit as st

from dashboard import data_access as da
from dashboard.charts import overview as charts
from dashboard.charts.runs import runs_scatter
from dashboard.charts.tokens import tokens_over_time
from dashboard.components import kpis
from dashboard.components.source_badge import TRIGGER_NOTE
from dashboard.formatting import (
    cost_text,
    md_escape,
    plural,
    unplaced_note,
    without_duration_note,
)
from dashboard.state import filters as s
from dashboard.state import selection as sel
from data.errors import InvalidQuery
from data.filters import FlowRunFilter

# How many of the newest runs the scatter draws. The default stays below WebGL's threshold
# (charts.runs.WEBGL_FROM): a WebGL context costs the page ~0.3 s on a machine without a
# GPU, more than drawing a thousand SVG markers.
SCATTER_SIZES = (1_000, 5_000, 20_000)

sel.follow_jump()
st.title("Overview")
auto = st.toggle("Auto-refresh every 60 s", value=False, key="overview_auto_refresh")


def scatter(flt: FlowRunFilter, tz: str) -> None:
    st.subheader("Newest runs")
    limit = st.segmented_control(
        "Runs drawn",
        SCATTER_SIZES,
        default=SCATTER_SIZES[0],
        key="ov_scatter_size",
        format_func=lambda n: f"{n:,}",
        help="The newest runs that match the filters.",
    )
    points = da.run_points(flt, int(limit or SCATTER_SIZES[0]))
    untimed = int(points["duration_ms"].isna().sum())
    sel.plot(runs_scatter(points, tz), "ov_runs", sel.run_chart("ov_runs"))
    note = f"The newest {len(points):,} matching runs; click one to open it in History."
    if untimed:
        note += f" {untimed:,} without a duration (still active) are not drawn."
    st.caption(note)
    if unplaced := unplaced_note(points, "this chart"):
        st.caption(unplaced)


def tokens_section(
    series: Any, stats: Any, flt: FlowRunFilter, tz: str, bounds: Any, now: datetime
) -> None:
    st.subheader("Tokens over time")
    sel.plot(tokens_over_time(series, tz, bounds, now), "ov_tokens", sel.time_chart("ov_tokens"))
    note = (
        f"{stats.total_tokens:,} tokens in {plural(stats.token_runs, 'run')} with a token count"
        f" (of {stats.total:,})."
    )
    cost = cost_text(da.model_tokens(flt))
    st.caption(md_escape(note + (f" {cost}" if cost else "")))  # model names are stored text


@st.fragment(run_every=60 if auto else None)
def body() -> None:
    # No cache clearing here: the TTL (30 s by default) is shorter than the refresh period.
    flt, tz = s.current_filter(), s.current_tz()
    stats = da.run_stats(flt)
    kpis.render(stats)
    if note := without_duration_note(stats.without_duration):
        st.caption(note)
    if stats.total == 0:
        st.info("No runs match these filters. Widen the time range or clear a filter.")
        return
    try:
        series = da.run_timeseries(flt, tz)
    except InvalidQuery as exc:
        # e.g. "all" over runs another engine dated year 1 or 9999: too many buckets to draw.
        st.warning(f"No trend charts for this range ({md_escape(exc)}): narrow the time range.")
        scatter(flt, tz)
        return
    bounds, now = (flt.started_after, flt.started_before), datetime.now(UTC)
    sel.history_button("ov_open_history")
    left, right = st.columns(2)
    with left:
        st.subheader("Success rate and volume")
        fig = charts.success_and_volume(series, tz, bounds, now)
        sel.plot(fig, "ov_volume", sel.time_chart("ov_volume"))
    with right:
        st.subheader(
            "Duration p50 / p95" + (" (≈ approximate)" if series.attrs.get("approximate") else "")
        )
        fig = charts.duration_percentiles(series, tz, bounds, now)
        sel.plot(fig, "ov_duration", sel.time_chart("ov_duration"))
    left, right = st.columns(2)
    with left:
        st.subheader("Status mix")
        fig = charts.status_mix(series, tz, bounds, now)
        sel.plot(fig, "ov_status", sel.time_chart("ov_status"))
    with right:
        st.subheader("Runs by trigger type")
        sel.plot(charts.by_trigger(stats.trigger_counts), "ov_trigger")
        if da.synced_sources():
            st.caption(TRIGGER_NOTE)
    if unplaced := unplaced_note(series):
        st.caption(unplaced)
    st.caption(
        "Click a bar to narrow every page to that time bucket (a status segment also sets "
        "the status), or choose the chart's box-select tool and drag across a span. Hatched "
        "bars and dotted lines are buckets still in progress."
    )
    if stats.token_runs:
        tokens_section(series, stats, flt, tz, bounds, now)
    scatter(flt, tz)


body()
