"""The sidebar's filter in session_state: URL -> widget keys once per session, widget keys
-> ``FilterState`` -> URL on every run, and the callbacks that change it.

The URL is read once per session (a shared link), validated, and copied into the
widget keys; from then on the widgets are the truth and the URL is rewritten from
them on every run, so it survives page switches and can be shared at any moment.
Parsing, serialising and the translation into the data layer's filter are pure
functions in ``dashboard.state.url_filters`` (re-exported here for the pages).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import streamlit as st

from dashboard import data_access as da
from dashboard.state import extra_filters as xf
from dashboard.state import history as history_state
from dashboard.state.url_filters import (
    DEFAULT_RANGE,
    DEFAULT_TZ,
    KNOWN_PARAMS,
    PRESET_LABELS,
    PRESETS,
    STATUSES,
    TRIGGERS,
    FilterState,
    filter_for,
    parse_params,
    span_dates,
    time_bounds,
    to_params,
)
from data.filters import FlowRunFilter
from data.models import FlowRunStatus

__all__ = [
    "PRESETS",
    "PRESET_LABELS",
    "STATUSES",
    "TRIGGERS",
    "FilterState",
    "filter_for",
    "parse_params",
    "span_dates",
    "time_bounds",
    "to_params",
]

K_RANGE, K_DATES, K_TZ = "f_range", "f_dates", "f_tz"
K_FLOWS, K_STATUSES, K_TRIGGERS, K_TEXT = "f_flows", "f_statuses", "f_triggers", "f_text"
K_ERROR_TYPES, K_ERROR_SIG = "f_error_types", "f_error_sig"
# A minute-precise custom range (a clicked bucket, a dragged span): not a widget.
K_FROM_TS, K_TO_TS = "f_from_ts", "f_to_ts"
K_READY, K_PARAM_ERRORS = "_filters_ready", "_param_errors"


def _store(state: FilterState) -> None:
    ss = st.session_state
    ss[K_RANGE], ss[K_TZ], ss[K_TEXT] = state.range, state.tz, state.text
    ss[K_DATES] = state.dates or default_dates(state.tz)
    ss[K_FLOWS], ss[K_STATUSES] = list(state.flows), list(state.statuses)
    ss[K_TRIGGERS], ss[K_ERROR_TYPES] = list(state.triggers), list(state.error_types)
    ss[K_ERROR_SIG] = state.error_sig
    ss[K_FROM_TS], ss[K_TO_TS] = state.from_ts, state.to_ts
    xf.store_extra(state.extra)


def default_dates(tz: str) -> tuple[date, date]:
    today = datetime.now(ZoneInfo(tz)).date()
    return (today - timedelta(days=6), today)


def init_from_url(known_flows: set[str]) -> list[str]:
    """First run of a session: URL -> widget keys. Returns the problems found."""
    if st.session_state.get(K_READY):
        return []
    params = {key: st.query_params.get_all(key) for key in st.query_params}
    users = {str(user_id) for user_id, _ in da.list_users()}
    today = datetime.now(UTC).date()
    state, errors = parse_params(params, known_flows, today, users, da.check_status)
    errors += [f"{name}: unknown parameter" for name in params if name not in KNOWN_PARAMS]
    _store(state)
    errors += history_state.init_from_params(params)
    st.session_state[K_READY] = True
    return errors


def status_options() -> list[str]:
    """The status picker's values: the known statuses, those runs have (``weird``), and
    any already chosen (a widget must offer its value)."""
    chosen = st.session_state.get(K_STATUSES) or []
    return list(dict.fromkeys([*STATUSES, *da.status_values(), *chosen]))


def current_state() -> FilterState:
    ss = st.session_state
    dates = ss.get(K_DATES)
    # A date range picker holds one date while the user is still choosing the second.
    if isinstance(dates, list | tuple) and len(dates) == 1:
        dates = (dates[0], dates[0])
    return FilterState(
        range=ss.get(K_RANGE, DEFAULT_RANGE),
        dates=tuple(dates) if dates else None,  # type: ignore[arg-type]
        tz=ss.get(K_TZ, DEFAULT_TZ),
        flows=tuple(ss.get(K_FLOWS, ())),
        statuses=tuple(ss.get(K_STATUSES, ())),
        triggers=tuple(ss.get(K_TRIGGERS, ())),
        text=ss.get(K_TEXT, "") or "",
        error_types=tuple(ss.get(K_ERROR_TYPES, ())),
        error_sig=ss.get(K_ERROR_SIG, "") or "",
        from_ts=ss.get(K_FROM_TS) if ss.get(K_RANGE) == "custom" else None,
        to_ts=ss.get(K_TO_TS) if ss.get(K_RANGE) == "custom" else None,
        extra=xf.current_extra(),
    )


def sync_url() -> None:
    """Rewrite the URL from the widgets (Streamlit clears it on page switches)."""
    present = {key: st.query_params.get_all(key) for key in st.query_params}
    # The History page writes its own parameters (sort, page, run) after it has run.
    kept = {key: present[key] for key in history_state.PARAMS if key in present}
    wanted = to_params(current_state()) | kept
    if present != wanted:
        st.query_params.from_dict(wanted)


def current_filter() -> FlowRunFilter:
    """The sidebar's filter, scoped to the signed-in user's runs (data.scope)."""
    return da.scope(filter_for(current_state()))


def current_tz() -> str:
    return str(st.session_state.get(K_TZ, DEFAULT_TZ))


# Callbacks: they run before the script, so they may set widget keys.
# A page switch from a script (st.switch_page) drops the frame widgets' state unless
# it was set through session_state, so they re-store every filter value.
def focus_error_group(error_type: str | None, signature: str | None) -> None:
    _store(
        replace(
            current_state(),
            statuses=(FlowRunStatus.FAILURE.value,),
            error_types=(error_type,) if error_type else (),
            error_sig=signature or "",
        )
    )


def apply(state: FilterState) -> None:
    """Make ``state`` the sidebar's (a callback: chart selections, drill-downs)."""
    _store(state)


def clear_precise_range() -> None:
    """The date picker or the preset changed: a clicked/dragged span no longer applies."""
    st.session_state[K_FROM_TS] = st.session_state[K_TO_TS] = None


def clear_error_group() -> None:
    st.session_state[K_ERROR_TYPES] = []
    st.session_state[K_ERROR_SIG] = ""


def focus_flow(flow_id: str) -> None:
    st.session_state[K_FLOWS] = [flow_id]
