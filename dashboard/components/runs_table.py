"""History table: the display frame, and what a click in it means.

One sort, done by the database: the table allows column selection, which turns off the
grid's own header sort (it would reorder only the rows on screen), and a click on a
sortable header becomes the server sort instead (a second click flips the direction).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.formatting import (
    human_duration,
    md_escape,
    status_colour,
    status_label,
    stored_time,
    unreadable_time,
)
from dashboard.state import history as hs
from data.queries import RunPage, RunRecord

K_PAGE_IDS, K_TABLE, K_NOTICE = "h_page_ids", "h_table", "h_sort_notice"
K_SEEN_COLUMNS = "h_seen_columns"  # the column selection already turned into a sort
SORT_LABELS = {
    "started_at": "Started",
    "duration_ms": "Duration",
    "status": "Status",
    "flow_name": "Flow",
    "trigger_type": "Trigger",
}
# Table column (its first word) -> server sort key.
HEADER_SORTS = {
    "status": "status",
    "flow": "flow_name",
    "trigger": "trigger_type",
    "started": "started_at",
    "duration": "duration_ms",
}
# A new sort column starts with its natural order: newest/longest first, names A-Z.
FIRST_DIRECTION = {"started_at": "desc", "duration_ms": "desc"}
# Fixed widths for the sortable columns (pixels), left to right: a stable layout, and
# the browser test knows where each header is.
SORTABLE_WIDTHS = {"status": 110, "flow": 170, "trigger": 90, "started": 170, "duration": 100}
MESSAGE_CHARS = 300  # the table shows the start of a message; the detail shows it all

# Above this many runs the History page points to the streaming exports (CLI, API).
LARGE_EXPORT = 200_000
CHOOSER_TIME = "%Y-%m-%d %H:%M"


def page_count(total: int, size: int) -> int:
    return max(1, -(-total // size))


def _short(message: Any) -> Any:
    if not isinstance(message, str) or len(message) <= MESSAGE_CHARS:
        return message
    return message[:MESSAGE_CHARS] + "…"


def flow_column(page: RunPage, labels: Mapping[str, str]) -> list[str]:
    """Each run's flow by its unique label (two flows may share a name), else its name."""
    return [labels.get(str(run.flow_id), run.flow_name) for run in page.runs]


def chooser_labels(page: RunPage, tz: str, labels: Mapping[str, str]) -> dict[str, str]:
    """Run id -> "start · flow label · status": the run chooser's options."""
    flows = flow_column(page, labels)
    return {
        str(run.id): f"{_started(run, tz, CHOOSER_TIME)} · {flow} · {status_label(run.status)}"
        for run, flow in zip(page.runs, flows, strict=True)
    }


def _started(run: RunRecord, tz: str, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return stored_time(run.started_at, run.unreadable.get("started_at"), tz, fmt)


def _duration(run: RunRecord) -> str:
    raw = run.unreadable.get("duration_ms")
    return unreadable_time(raw) if raw is not None else human_duration(run.duration_ms)


def display_frame(page: RunPage, tz: str, labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    raw, runs = page.to_frame(), page.runs
    frame = pd.DataFrame(
        {
            "status": raw["status"].map(status_label),
            "flow": pd.Series(flow_column(page, labels or {}), index=raw.index, dtype=object),
            "trigger": raw["trigger_type"],
            f"started ({tz})": pd.Series(
                [_started(r, tz) for r in runs],
                index=raw.index,
                dtype=object,
            ),
            "duration": pd.Series([_duration(r) for r in runs], index=raw.index, dtype=object),
            "run id": raw["id"].astype(str),
            "error type": raw["error_type"],
            "error message": raw["error_message"].map(_short),
            "user": raw["username"],
            "session": raw["session_id"],
            "components": raw["components_executed"],
        }
    )
    if "total_tokens" in raw and raw["total_tokens"].notna().any():
        frame["tokens"] = raw["total_tokens"].astype("Int64")
    return frame


def sort_key_of(column: str) -> str | None:
    return HEADER_SORTS.get(column.split(" ", 1)[0])


def styled(frame: pd.DataFrame) -> Any:
    def colour(label: str) -> str:
        status = str(label).split(" ", 1)[-1]
        # The charts' colour map, "other" colour for statuses no engine of ours writes.
        return f"color: {status_colour(status)}; font-weight: 600"

    return frame.style.map(colour, subset=["status"])


def apply_header_sort() -> None:
    """A header clicked in the last run -> the server sort (before the sort widgets are
    drawn, so they show it). The grid reports the selected column: a click on another
    header selects that one, a second click on the same header deselects it."""
    ss = st.session_state
    if K_TABLE not in ss:  # a new table (first visit, or back from another page)
        ss[K_SEEN_COLUMNS] = []
        return
    selection = ss[K_TABLE].get("selection") or {}
    columns, seen = list(selection.get("columns") or []), ss.get(K_SEEN_COLUMNS) or []
    if columns == seen:
        return
    ss[K_SEEN_COLUMNS] = columns
    clicked = columns[0] if columns else seen[0]
    key = sort_key_of(clicked)
    if key is None:
        sortable = ", ".join(SORT_LABELS.values())
        ss[K_NOTICE] = f"Column '{clicked}' can't be sorted; sortable: {sortable}."
    elif ss.get(hs.K_SORT) == key:
        ss[hs.K_DIR] = "asc" if ss.get(hs.K_DIR) == "desc" else "desc"
    else:
        ss[hs.K_SORT], ss[hs.K_DIR] = key, FIRST_DIRECTION.get(key, "asc")


def select_from_table() -> None:
    """Row clicked in the table -> the run in the detail pane (runs before the script)."""
    selection = st.session_state[K_TABLE].selection
    ids: list[str] = st.session_state.get(K_PAGE_IDS, [])
    rows = selection.get("rows", [])
    if rows and rows[0] < len(ids):
        hs.select_run(ids[rows[0]])


# The grid's column menu would sort only the rows on screen: its two sort items (right
# after the menu's title) are hidden. The browser test checks they stay hidden.
HIDE_MENU_SORT = (
    "<style>[data-testid='stDataFrameColumnMenu'] [role='menu'] > "
    "[role='menuitem']:nth-child(-n+3) {display: none}</style>"
)


def render(page: RunPage, tz: str, sort: str, direction: str, labels: Mapping[str, str]) -> None:
    st.session_state[K_PAGE_IDS] = [str(run.id) for run in page.runs]
    st.html(HIDE_MENU_SORT)
    if notice := st.session_state.pop(K_NOTICE, None):
        st.info(md_escape(notice))
    frame = display_frame(page, tz, labels)
    widths = {c: SORTABLE_WIDTHS.get(str(c).split(" ", 1)[0]) for c in frame.columns}
    st.dataframe(
        styled(frame),
        column_config={c: st.column_config.Column(width=w) for c, w in widths.items() if w},
        hide_index=True,
        width="stretch",
        on_select=select_from_table,
        selection_mode=["single-row", "single-column"],
        key=K_TABLE,
    )
    st.caption("Click a row for its detail; click a sortable header to sort all matching runs.")
