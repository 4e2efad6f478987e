"""Flows: per-flow health with a small trend and flags (p95 regression, success drop
against the previous period); pick a flow to filter every page to it."""

from datetime import UTC, datetime

import streamlit as st

from dashboard import data_access as da
from dashboard.charts.flows import failure_rate_bars, sparklines
from dashboard.charts.grid import flow_grid
from dashboard.components import flow_steps, price_editor
from dashboard.components.flow_table import flows_view
from dashboard.components.kpis import APPROXIMATE_NOTE
from dashboard.formatting import plural, unplaced_note, without_duration_note
from dashboard.state import filters as s
from dashboard.state import selection as sel
from data import queries as q
from data.settings import get_settings

sel.follow_jump()
st.title("Flows")
sel.history_button("flows_open_history")  # after a click on a flow below
flt, tz = s.current_filter(), s.current_tz()
table = da.flow_breakdown(flt)
if table.empty:
    st.info("No runs match these filters.")
    st.stop()
if table.attrs.get("approximate"):
    st.caption(APPROXIMATE_NOTE)
previous = flt.previous_period()
table = q.flag_flows(table, None if previous is None else da.flow_breakdown(previous))
# Labels, not names: two flows may share a name (different owners).
labels = da.flow_labels()

trend = da.count_timeseries(flt, "flow_id", tz)
trend["flow_id"] = trend["flow_id"].astype(str)
flow_ids = table["flow_id"].astype(str)
bounds, now = (flt.started_after, flt.started_before), datetime.now(UTC)
unit = trend.attrs.get("bucket", "bucket")
# Finished buckets only: an hour or day in progress would end every line in a false drop.
lines, unfinished = sparklines(trend, list(flow_ids), tz, bounds, now)
view = flows_view(table, labels, lines, tz, unit)
flagged = int((view["flags"] != "").sum())
if previous is None:
    st.caption("Flags compare with the previous period: choose a bounded time range.")
else:
    st.markdown(f"**{plural(flagged, 'flow')} flagged** of {len(view):,}")
    st.caption(q.DEFAULT_RULE.describe() + " Click a column header to sort.")
if note := without_duration_note(int(table["without_duration"].sum()), "p50 and p95"):
    st.caption(note)
if unfinished:
    st.caption(f"The trend column leaves out the {unit} in progress (it is not a drop).")
st.dataframe(
    view,
    hide_index=True,
    width="stretch",
    key="flows_table",
    on_select=sel.flow_table("flows_table", list(flow_ids)),
    selection_mode="single-row",
    column_config={
        "success rate": st.column_config.ProgressColumn(
            "success rate", min_value=0, max_value=100, format="%.1f%%"
        ),
        "flags": st.column_config.TextColumn(width="medium"),  # "p95 regression" whole
        "runs": st.column_config.NumberColumn(format="localized"),
        "success change (pp)": st.column_config.NumberColumn(format="%+.1f"),
        "p50 (s)": st.column_config.NumberColumn(format="%.2f"),
        "p95 (s)": st.column_config.NumberColumn(format="%.2f"),
        "p95 change (%)": st.column_config.NumberColumn(format="%+.0f%%"),
        view.columns[-1]: st.column_config.LineChartColumn(y_min=0),
    },
)


st.caption("Click a row (its box on the left) to filter every page to that flow.")
st.subheader("Failure rate per flow")
fig = failure_rate_bars(table, labels)
sel.plot(fig, "flows_rates", sel.flow_chart("flows_rates"), ("points",))
st.caption("Click a bar to filter every page to that flow.")
st.subheader("Flows over time")
fail_flt = flt.replace(statuses=("failure",))
failed = (
    da.count_timeseries(fail_flt, "flow_id", tz)
    if "failure" in (flt.statuses or ("failure",))
    else trend.iloc[:0]
)
fig = flow_grid(trend, failed, labels, tz, bounds, now)
sel.plot(fig, "flows_grid", sel.grid_chart("flows_grid"))
if unplaced := unplaced_note(trend, "the trends"):
    st.caption(unplaced)
st.caption(
    "Colour: failed runs / runs per cell; outlined cells are buckets still in progress. "
    "Click a cell to open that flow and bucket in History."
)

choice = st.selectbox(
    "Flow", list(flow_ids), format_func=lambda i: labels.get(i, i), key="flows_pick"
)
st.button(
    "Filter every page to this flow",
    on_click=s.focus_flow,
    args=(choice,),
    icon=":material/filter_alt:",
    key="flows_focus",
)

flow_steps.tokens(flt, table, labels)
flow_steps.components(flt)
models_seen = list(da.model_tokens(flt)["model"])
if models_seen or da.model_prices():
    # Prices apply to everyone's costs: a signed-in regular user sees them, an admin sets them.
    price_editor.render(models_seen, get_settings().read_only or not da.may_administer())
