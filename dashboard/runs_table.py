"""History table: keyset pages kept in session_state, and the display frame."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.formatting import STATUS_COLOURS, human_duration, local_time, status_label
from data.queries import RunPage

K_CURSORS, K_ORDER_SIG, K_SELECTED, K_PAGE_IDS = "h_cursors", "h_sig", "h_selected", "h_page_ids"
K_TABLE = "h_table"
SORT_LABELS = {
    "started_at": "Started",
    "duration_ms": "Duration",
    "status": "Status",
    "flow_name": "Flow",
    "trigger_type": "Trigger",
}
PAGE_SIZES = (25, 50, 100, 200)

# Above this many runs the History page points to the streaming exports (CLI, API).
LARGE_EXPORT = 200_000


def current_cursor(signature: Any) -> str | None:
    """The cursor of the page on screen; back to page 1 when filter or order changed."""
    ss = st.session_state
    if ss.get(K_ORDER_SIG) != signature:
        ss[K_ORDER_SIG] = signature
        ss[K_CURSORS] = [None]
        ss[K_SELECTED] = None
    cursors: list[str | None] = ss[K_CURSORS]
    return cursors[-1]


def page_number() -> int:
    return len(st.session_state.get(K_CURSORS) or [None])


def next_page(cursor: str) -> None:
    st.session_state[K_CURSORS].append(cursor)
    st.session_state[K_SELECTED] = None


def previous_page() -> None:
    cursors = st.session_state[K_CURSORS]
    if len(cursors) > 1:
        cursors.pop()
    st.session_state[K_SELECTED] = None


def page_count(total: int, size: int) -> int:
    return max(1, math.ceil(total / size))


def display_frame(page: RunPage, tz: str) -> pd.DataFrame:
    raw = page.to_frame()
    return pd.DataFrame(
        {
            "status": raw["status"].map(status_label),
            "flow": raw["flow_name"],
            "trigger": raw["trigger_type"],
            f"started ({tz})": raw["started_at"].map(lambda t: local_time(t, tz)),
            "duration": raw["duration_ms"].map(human_duration),
            "components": raw["components_executed"],
            "user": raw["username"],
            "session": raw["session_id"],
            "error type": raw["error_type"],
            "run id": raw["id"].astype(str),
        }
    )


def styled(frame: pd.DataFrame) -> Any:
    def colour(label: str) -> str:
        status = str(label).split(" ", 1)[-1]
        return f"color: {STATUS_COLOURS.get(status, 'inherit')}; font-weight: 600"

    return frame.style.map(colour, subset=["status"])


def select_from_table() -> None:
    """Row clicked in the table -> the detail selector (runs before the script)."""
    selection = st.session_state[K_TABLE].selection
    ids: list[str] = st.session_state.get(K_PAGE_IDS, [])
    rows = selection.get("rows", [])
    if rows and rows[0] < len(ids):
        st.session_state[K_SELECTED] = ids[rows[0]]
