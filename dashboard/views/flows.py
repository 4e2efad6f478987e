"""Flows: per-flow health with a small trend; pick a flow to filter every page to it."""

import pandas as pd
import streamlit as st

from dashboard import data_access as da
from dashboard import state as s
from dashboard.formatting import human_duration, local_time

st.title("Flows")
flt, tz = s.current_filter(), s.current_tz()
table = da.flow_breakdown(flt)
if table.empty:
    st.info("No runs match these filters.")
    st.stop()

trend = da.count_timeseries(flt, "flow_id", tz)
trend["flow_id"] = trend["flow_id"].astype(str)
per_bucket = trend.pivot_table(index="bucket", columns="flow_id", values="runs", fill_value=0)
flow_ids = table["flow_id"].astype(str)
view = pd.DataFrame(
    {
        "flow": table["flow_name"],
        "runs": table["runs"],
        "success rate": table["success_rate"] * 100,
        "failures": table["failure"],
        "p50": table["p50_ms"].map(human_duration),
        "p95": table["p95_ms"].map(human_duration),
        f"last run ({tz})": table["last_run_at"].map(lambda t: local_time(t, tz)),
        f"last failure ({tz})": table["last_failure_at"].map(lambda t: local_time(t, tz)),
        f"runs per {trend.attrs.get('bucket', 'bucket')}": [
            per_bucket[i].astype(int).tolist() if i in per_bucket else [] for i in flow_ids
        ],
    }
)
st.dataframe(
    view,
    hide_index=True,
    width="stretch",
    column_config={
        "success rate": st.column_config.ProgressColumn(
            "success rate", min_value=0, max_value=100, format="%.1f%%"
        ),
        "runs": st.column_config.NumberColumn(format="localized"),
        view.columns[-1]: st.column_config.LineChartColumn(y_min=0),
    },
)

names = dict(zip(flow_ids, table["flow_name"], strict=True))
choice = st.selectbox("Flow", list(names), format_func=names.get, key="flows_pick")
st.button(
    "Filter every page to this flow",
    on_click=s.focus_flow,
    args=(choice,),
    icon=":material/filter_alt:",
    key="flows_focus",
)
