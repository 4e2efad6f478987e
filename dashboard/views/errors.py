"""Errors: failures grouped by type and message signature, trend, links into History.
Groups first seen inside the range are flagged "new"."""

import hashlib
from datetime import UTC, datetime

import streamlit as st

from dashboard import data_access as da
from dashboard.charts.errors import error_trend
from dashboard.formatting import error_type_label, local_time, md_escape, plural, unplaced_note
from dashboard.state import filters as s
from dashboard.state import selection as sel
from data import queries as q
from data.models import FlowRunStatus

TOP_GROUPS = 15
FAILURE = FlowRunStatus.FAILURE.value

sel.follow_jump()
st.title("Errors")
sel.history_button("err_open_history")  # after a drag on the trend below
flt, tz = s.current_filter(), s.current_tz()
groups = da.error_breakdown(flt)
if groups.empty:
    st.info("No failures match these filters.")
    st.stop()
before = q.earlier_filter(flt)
groups = q.mark_new_groups(groups, None if before is None else da.error_breakdown(before))


def group_key(error_type: str | None, signature: str | None) -> str:
    """A widget key from the group's identity: keys by row position point at another
    group once the list is re-filtered (the click then misses its button)."""
    return hashlib.sha256(repr((error_type, signature)).encode()).hexdigest()[:16]


failures, new = int(groups["count"].sum()), int(groups["new"].sum())
st.markdown(
    f"**{plural(failures, 'failure')}** in **{plural(len(groups), 'group')}**"
    + (f", **{new:,} new**" if before is not None else "")
)
if before is not None:
    st.caption("New: first seen inside this range (no failure of that group before it).")
# The trend covers the same failures the table groups.
trend = da.count_timeseries(flt.replace(statuses=(FAILURE,)), "error_type", tz)
bounds, now = (flt.started_after, flt.started_before), datetime.now(UTC)
sel.plot(error_trend(trend, tz, bounds, now), "err_trend", sel.error_chart("err_trend"))
if unplaced := unplaced_note(trend, "this chart"):
    st.caption(unplaced)
st.caption(
    "Click an error type's bars to open that group in History; with the box-select tool, "
    "drag across the chart to narrow every page to that span. Hatched bars are buckets "
    "still in progress."
)

view = groups.assign(
    error_type=groups["error_type"].map(error_type_label),
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
keys = list(zip(groups["error_type"], groups["signature"], strict=True))
st.dataframe(
    view,
    hide_index=True,
    width="stretch",
    key="err_table",
    on_select=sel.error_table("err_table", keys),
    selection_mode="single-row",
)
st.caption("Click a row (its box on the left) to open that group in History.")

st.subheader("Open a group in History")
for _, group in groups.head(TOP_GROUPS).iterrows():
    label, button = st.columns([5, 1])
    # Stored text: escaped, so a message cannot become a link, an image or formatting.
    kind = md_escape(error_type_label(group["error_type"]))
    signature = md_escape(group["signature"])
    tag = " · **new**" if group["new"] else ""
    label.markdown(f"**{kind}** · {signature} · **{group['count']:,}**{tag}")
    if button.button(
        "History →",
        key=f"err_open_{group_key(group['error_type'], group['signature'])}",
        on_click=s.focus_error_group,
        args=(group["error_type"], group["signature"]),
    ):
        st.switch_page("views/history.py")
