"""Errors: failures grouped by type and message signature, trend, links into History."""

from datetime import UTC, datetime

import streamlit as st

from dashboard import data_access as da
from dashboard import selection as sel
from dashboard import state as s
from dashboard.charts.errors import error_trend
from dashboard.formatting import local_time
from data.models import FlowRunStatus

TOP_GROUPS = 15
FAILURE = FlowRunStatus.FAILURE.value

sel.follow_jump()
st.title("Errors")
flt, tz = s.current_filter(), s.current_tz()
groups = da.error_breakdown(flt)
if groups.empty:
    st.info("No failures match these filters.")
    st.stop()

st.markdown(f"**{int(groups['count'].sum()):,} failures** in **{len(groups):,} groups**")
# The trend covers the same failures the table groups.
trend = da.count_timeseries(flt.replace(statuses=(FAILURE,)), "error_type", tz)
bounds, now = (flt.started_after, flt.started_before), datetime.now(UTC)
sel.plot(error_trend(trend, tz, bounds, now), "err_trend", sel.error_chart("err_trend"))
st.caption(
    "Click an error type's bars to open that group in History; drag across the chart to "
    "narrow every page to that span. Hatched bars are buckets still in progress."
)

view = groups.assign(
    first_seen=groups["first_seen"].map(lambda t: local_time(t, tz)),
    last_seen=groups["last_seen"].map(lambda t: local_time(t, tz)),
).rename(
    columns={
        "error_type": "error type",
        "sample_message": "sample message",
        "first_seen": f"first seen ({tz})",
        "last_seen": f"last seen ({tz})",
    }
)
st.dataframe(view, hide_index=True, width="stretch")

st.subheader("Open a group in History")
for index, group in groups.head(TOP_GROUPS).iterrows():
    label, button = st.columns([5, 1])
    kind = group["error_type"] or "-"
    label.markdown(f"`{kind}` · {group['signature']} · **{group['count']:,}**")
    if button.button(
        "History →",
        key=f"err_open_{index}",
        on_click=s.focus_error_group,
        args=(group["error_type"], group["signature"]),
    ):
        st.switch_page("views/history.py")
