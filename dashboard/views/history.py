"""History: the runs table (one sort, done by the database; keyset pages), the run detail
beside it, and CSV export. Sort, page size, page and the selected run are in the URL."""

import uuid

import streamlit as st

from dashboard import data_access as da
from dashboard.components import run_detail
from dashboard.components import runs_table as rt
from dashboard.formatting import md_escape
from dashboard.state import filters as s
from dashboard.state import history as hs
from data import queries as q
from data.errors import InvalidQuery
from data.export import EXPORT_COLUMNS
from data.filters import FlowRunFilter
from data.settings import get_settings

DEFAULT_EXPORT = (
    "id", "flow_name", "status", "trigger_type", "started_at", "ended_at", "duration_ms",
    "components_executed", "username", "session_id", "error_type", "error_message",
)  # fmt: skip
LIVE_SECONDS = 10
K_CHOOSER, K_LIVE = "h_selected", "history_live"

st.title("History")
if flash := st.session_state.pop(run_detail.K_FLASH, None):
    st.success(flash)  # our own sentence around a run id
live = st.toggle(
    f"Live: refresh every {LIVE_SECONDS} s",
    key=K_LIVE,
    help="Reads the database on every refresh, bypassing the query cache.",
)


def _order_controls() -> tuple[str, str, int]:
    hs.seed_widgets()
    rt.apply_header_sort()  # a header click from the last run becomes the sort widgets' value
    sort_col, dir_col, size_col = st.columns([2, 2, 1])
    sort = sort_col.selectbox(
        "Sort by", list(q.SORT_KEYS), format_func=rt.SORT_LABELS.get, key=hs.K_SORT
    )
    direction = dir_col.radio(
        "Direction", list(hs.DIRECTIONS), horizontal=True, key=hs.K_DIR,
        format_func={"desc": "Descending", "asc": "Ascending"}.get,
    )  # fmt: skip
    size = size_col.selectbox("Rows per page", hs.PAGE_SIZES, key=hs.K_SIZE)
    return sort, direction, size


def _count(flt: FlowRunFilter) -> int:
    return da.read_call(q.count_runs, flt) if live else da.count_runs(flt)


def _page(flt: FlowRunFilter, sort: str, direction: str, size: int) -> q.RunPage:
    # Keyed on the sidebar state, not the filter: a rolling range moves with the clock.
    cursor = hs.current_cursor((s.current_state(), sort, direction, size))
    order = {"sort": sort, "direction": direction, "limit": size}
    try:
        if live:
            return da.read_call(q.list_runs, flt, cursor=cursor, **order)
        return da.list_runs(flt, cursor=cursor, **order)
    except InvalidQuery as exc:  # a link's cursor that is not one, or is for another order
        if cursor is None:
            raise
        st.error(f"Ignored the link's page ({md_escape(exc)}); showing the first page.")
        hs.reset_to_first_page()
        return da.list_runs(flt, cursor=None, **order)


def _existing_selection() -> str | None:
    run_id = hs.selected_run()
    if run_id and da.get_run(uuid.UUID(run_id)) is None:
        st.error(f"run: no run with id {md_escape(run_id)} (deleted, or never recorded).")
        hs.select_run(None)
        return None
    return run_id


def _choose_from_chooser() -> None:
    hs.select_run(st.session_state.get(K_CHOOSER))


def _run_chooser(page: q.RunPage, selected: str | None, tz: str) -> None:
    labels = rt.chooser_labels(page, tz, da.flow_labels())
    if selected and selected not in labels:
        labels = {selected: f"{selected} (not on this page)", **labels}
    st.session_state[K_CHOOSER] = selected
    st.selectbox(
        "Run detail",
        list(labels),
        index=None,
        key=K_CHOOSER,
        format_func=labels.get,
        on_change=_choose_from_chooser,
        placeholder="Click a row, or choose a run on this page…",
    )


def _table(
    flt: FlowRunFilter, tz: str, sort: str, direction: str, size: int
) -> tuple[q.RunPage, int]:
    total = _count(flt)
    page = _page(flt, sort, direction, size)
    st.markdown(f"**{total:,} runs** match · {hs.page_label(rt.page_count(total, size))}")
    if page.runs:
        rt.render(page, tz, sort, direction, da.flow_labels())
    else:
        st.info("No runs match these filters.")
    prev_col, next_col, _ = st.columns([1, 1, 3])
    prev_col.button("← Previous", on_click=hs.previous_page, disabled=hs.is_first_page())
    next_col.button(
        "Next →", on_click=hs.next_page, args=(page.next_cursor,), disabled=not page.next_cursor
    )
    return page, total


def _detail(flt: FlowRunFilter, page: q.RunPage, run_id: str, tz: str) -> None:
    on_page = run_id in {str(r.id) for r in page.runs}
    in_filter = on_page or _count(flt.replace(run_id=run_id)) > 0
    run_detail.render(run_id, tz, get_settings().read_only, in_filter)


def _export(flt: FlowRunFilter, total: int) -> None:
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
                f"Over {rt.LARGE_EXPORT:,} runs: `flowruns export` or the API's `/export.csv` "
                "stream the same CSV with constant memory."
            )


def body() -> None:
    flt, tz = s.current_filter(), s.current_tz()
    sort, direction, size = _order_controls()
    run_id = _existing_selection()
    # The detail opens beside the table; with no run chosen the table has the full width.
    table_col, detail_col = st.columns([3, 2], gap="medium") if run_id else (st.container(), None)
    with table_col:
        page, total = _table(flt, tz, sort, direction, size)
        _run_chooser(page, hs.selected_run(), tz)
    if detail_col is not None:
        with detail_col:
            _detail(flt, page, run_id, tz)
    hs.remember(sort, direction, size)
    _export(flt, total)


# Live: only this part reruns, on a timer. Otherwise a plain run (a fragment run would
# not carry the URL change of a click in the table to the browser).
(st.fragment(run_every=LIVE_SECONDS)(body) if live else body)()
