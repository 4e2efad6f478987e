"""The shared sidebar: filters, time zone, refresh. Widgets write straight into the
session_state keys that ``dashboard.state.filters`` turns into the one filter."""

from __future__ import annotations

import uuid

import streamlit as st

from dashboard import data_access as da
from dashboard.components import typed_range
from dashboard.formatting import md_escape, timezone_options
from dashboard.state import extra_filters as xf
from dashboard.state import filters as s
from data.settings import Settings


def _time_range() -> None:
    st.selectbox(
        "Time range",
        list(s.PRESETS),
        format_func=s.PRESET_LABELS.get,
        key=s.K_RANGE,
        on_change=s.clear_precise_range,
    )
    if st.session_state[s.K_RANGE] == "custom":
        # The picker's key is dropped while it is hidden: restore a sensible default.
        if not st.session_state.get(s.K_DATES):
            st.session_state[s.K_DATES] = s.default_dates(s.current_tz())
        typed_range.render()  # applied on Enter, not only when the field loses focus
        state = s.current_state()
        if state.from_ts and state.to_ts:  # a clicked bucket or a dragged span
            span = f"{state.from_ts:%Y-%m-%d %H:%M} to {state.to_ts:%Y-%m-%d %H:%M}"
            st.caption(f"Time span: {span} ({state.tz})")
            st.button("Use whole dates", on_click=s.clear_precise_range, key="clear_span")


def _error_group() -> None:
    types = st.session_state.get(s.K_ERROR_TYPES) or []
    signature = st.session_state.get(s.K_ERROR_SIG) or ""
    if not types and not signature:
        return
    label = ", ".join(types) or "any type"
    # From the URL (?error_type=, ?sig=): shown as text, never as Markdown.
    shown = f"Error group: **{md_escape(label)}**"
    st.caption(shown + (f" · {md_escape(signature[:80])}" if signature else ""))
    st.button("Clear error group", on_click=s.clear_error_group, key="clear_error_group")


def render(flows: list[tuple[uuid.UUID, str]], settings: Settings) -> None:
    names = {str(flow_id): name for flow_id, name in flows}
    with st.sidebar:
        st.markdown("### Filters")
        _time_range()
        st.multiselect("Flows", list(names), format_func=lambda i: names.get(i, i), key=s.K_FLOWS)
        st.multiselect("Statuses", s.status_options(), key=s.K_STATUSES)
        st.multiselect("Trigger types", s.TRIGGERS, key=s.K_TRIGGERS)
        st.text_input(
            "Error message or type contains",
            key=s.K_TEXT,
            max_chars=500,
            placeholder="e.g. timeout",
        )
        _error_group()
        xf.render_widgets({str(user_id): name for user_id, name in da.list_users()})
        st.selectbox("Time zone", timezone_options(), key=s.K_TZ)
        st.button(
            "Refresh data",
            on_click=da.clear_caches,
            icon=":material/refresh:",
            help=f"Query results are cached for {settings.cache_ttl_seconds} s.",
        )
        if settings.read_only:
            st.caption("🔒 Read-only mode: delete and prune are hidden.")
