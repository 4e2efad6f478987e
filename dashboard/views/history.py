"""History: the paginated, sortable runs table, run detail, and CSV export."""

import streamlit as st

from dashboard import data_access as da
from dashboard import run_detail
from dashboard import runs_table as rt
from dashboard import state as s
from dashboard.formatting import local_time, status_label
from data.export import EXPORT_COLUMNS
from data.queries import SORT_KEYS
from data.settings import get_settings

DEFAULT_EXPORT = (
    "id", "flow_name", "status", "trigger_type", "started_at", "ended_at", "duration_ms",
    "components_executed", "username", "session_id", "error_type", "error_message",
)  # fmt: skip

FMT = "%Y-%m-%d %H:%M"
st.title("History")
if flash := st.session_state.pop(run_detail.K_FLASH, None):
    st.success(flash)
flt, tz = s.current_filter(), s.current_tz()

sort_col, dir_col, size_col = st.columns([2, 2, 1])
sort = sort_col.selectbox("Sort by", list(SORT_KEYS), format_func=rt.SORT_LABELS.get, key="h_sort")
direction = dir_col.radio(
    "Direction", ["desc", "asc"], horizontal=True, key="h_dir",
    format_func={"desc": "Descending", "asc": "Ascending"}.get,
)  # fmt: skip
size = size_col.selectbox("Rows per page", rt.PAGE_SIZES, index=1, key="h_size")

total = da.count_runs(flt)
# Keyed on the sidebar state, not the filter: a rolling range moves every minute.
cursor = rt.current_cursor((s.current_state(), sort, direction, size))
page = da.list_runs(flt, sort=sort, direction=direction, limit=size, cursor=cursor)
st.session_state[rt.K_PAGE_IDS] = [str(run.id) for run in page.runs]

st.markdown(f"**{total:,} runs** match · page {rt.page_number()} of {rt.page_count(total, size)}")
if not page.runs:
    st.info("No runs match these filters.")
else:
    st.dataframe(
        rt.styled(rt.display_frame(page, tz)), hide_index=True, width="stretch",
        on_select=rt.select_from_table, selection_mode="single-row", key=rt.K_TABLE,
    )  # fmt: skip
prev_col, next_col, _ = st.columns([1, 1, 6])
prev_col.button("← Previous", on_click=rt.previous_page, disabled=rt.page_number() == 1)
next_col.button(
    "Next →", on_click=rt.next_page, args=(page.next_cursor,), disabled=not page.next_cursor
)

labels = {
    str(r.id): f"{local_time(r.started_at, tz, FMT)} · {r.flow_name} · {status_label(r.status)}"
    for r in page.runs
}
if st.session_state.get(rt.K_SELECTED) not in labels:
    st.session_state[rt.K_SELECTED] = None
selected = st.selectbox(
    "Run detail",
    list(labels),
    index=None,
    key=rt.K_SELECTED,
    format_func=labels.get,
    placeholder="Click a row above, or choose a run on this page…",
)
if selected:
    run_detail.render(selected, tz, get_settings().read_only)

with st.expander(f"Export these {total:,} runs as CSV"):
    columns = st.multiselect("Columns", EXPORT_COLUMNS, default=DEFAULT_EXPORT, key="h_export")
    st.download_button(
        "Download CSV", data=da.csv_builder(flt, tuple(columns)), file_name="flowruns.csv",
        mime="text/csv", disabled=not columns, on_click="ignore", icon=":material/download:",
    )  # fmt: skip
    st.caption("All matching runs (not only this page), streamed in chunks; times in UTC.")
    if total > rt.LARGE_EXPORT:
        # The browser download is assembled in this process before it is sent.
        st.caption(
            f"Over {rt.LARGE_EXPORT:,} runs: `flowruns export` or the API's `/export.csv` stream "
            "the same CSV with constant memory."
        )
