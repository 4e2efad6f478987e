"""Overview: KPI tiles with deltas, and the trends behind them."""

import streamlit as st

from dashboard import charts, kpis
from dashboard import data_access as da
from dashboard import state as s

st.title("Overview")
auto = st.toggle("Auto-refresh every 60 s", value=False, key="overview_auto_refresh")


@st.fragment(run_every=60 if auto else None)
def body() -> None:
    # No cache clearing here: the TTL (30 s by default) is shorter than the refresh period.
    flt, tz = s.current_filter(), s.current_tz()
    stats = da.run_stats(flt)
    kpis.render(stats)
    if stats.total == 0:
        st.info("No runs match these filters. Widen the time range or clear a filter.")
        return
    series = da.run_timeseries(flt, tz)
    left, right = st.columns(2)
    left.subheader("Success rate and volume")
    left.altair_chart(charts.success_and_volume(series, tz), width="stretch")
    right.subheader("Duration p50 / p95")
    right.altair_chart(charts.duration_percentiles(series, tz), width="stretch")
    left, right = st.columns(2)
    left.subheader("Status mix")
    left.altair_chart(charts.status_mix(series, tz), width="stretch")
    right.subheader("Runs by trigger type")
    right.altair_chart(charts.by_trigger(stats.trigger_counts), width="stretch")


body()
