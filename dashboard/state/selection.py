"""The one place where a chart selection becomes a filter change.

The pure functions take the selection dict Streamlit hands back for a Plotly chart
(``{"points": [{"customdata": [...], ...}], "box": [{"x": [x0, x1], ...}], ...}``) and
the sidebar's ``FilterState`` and return the new state (or ``None``: nothing usable was
selected). The builders in ``dashboard.charts`` put what a click needs into
``customdata``: time buckets ``[from, to, group, ...]`` (wall clock of the chosen zone,
``YYYY-MM-DDTHH:MM``), flows ``[flow_id, ...]``, grid cells ``[flow_id, from, to, ...]``,
runs ``[run_id, ...]``. The callbacks at the bottom are the thin Streamlit glue.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from dashboard.state import filters as s
from dashboard.state import history as hs
from dashboard.state.filters import FilterState, span_dates

HISTORY = "views/history.py"
K_JUMP = "_chart_jump"  # (page, run id or None): followed by the next page run
K_PICKED = "_chart_picked"  # what the last click chose, for the "Open in History" button
K_RERUN = "_chart_rerun"  # a pick inside a fragment must still redraw the whole app
FAILURE = "failure"
Selection = dict[str, Any]


# Pure: selection -> FilterState ------------------------------------------------------
def _first_custom(selection: Selection) -> list[Any] | None:
    for point in selection.get("points") or []:
        custom = point.get("customdata")
        if isinstance(custom, list | tuple) and custom:
            return list(custom)
    return None


def _moment(raw: Any) -> datetime | None:
    """A Plotly date (``2026-11-20 05:12:33.5``) or a customdata key -> naive wall time."""
    try:
        value = pd.Timestamp(str(raw))
    except ValueError:
        return None
    if pd.isna(value):
        return None
    return value.tz_localize(None).to_pydatetime() if value.tzinfo else value.to_pydatetime()


def box_span(selection: Selection) -> tuple[datetime, datetime] | None:
    """A dragged box's x extent, widened to whole minutes (the URL's precision)."""
    for box in selection.get("box") or []:
        xs = [m for m in map(_moment, box.get("x") or []) if m is not None]
        if len(xs) < 2:
            continue
        start = min(xs).replace(second=0, microsecond=0)
        end = max(xs)
        if end.second or end.microsecond:
            end = end.replace(second=0, microsecond=0) + timedelta(minutes=1)
        if end > start:
            return start, end
    return None


def _bucket(custom: list[Any], first: int = 0) -> tuple[datetime, datetime] | None:
    if len(custom) < first + 2:
        return None
    start, end = _moment(custom[first]), _moment(custom[first + 1])
    if start is None or end is None or end <= start:
        return None
    return start, end


def with_span(state: FilterState, start: datetime, end: datetime) -> FilterState:
    return replace(state, range="custom", from_ts=start, to_ts=end, dates=span_dates(start, end))


def time_pick(selection: Selection, state: FilterState) -> FilterState | None:
    """A drag on a time chart -> that span; a click on a bucket -> that bucket, and a
    click on a status segment also -> that status."""
    dragged = box_span(selection)
    if dragged:
        return with_span(state, *dragged)
    custom = _first_custom(selection)
    span = _bucket(custom) if custom else None
    if custom is None or span is None:
        return None
    picked = with_span(state, *span)
    status = str(custom[2]) if len(custom) > 2 else ""
    return replace(picked, statuses=(status,)) if status in s.STATUSES else picked


def error_group(state: FilterState, error_type: Any, signature: Any = "") -> FilterState:
    """Failures of one error group (a type, and a message signature when given)."""
    kind = error_type if isinstance(error_type, str) and error_type else ""
    sig = signature if isinstance(signature, str) else ""
    return replace(state, statuses=(FAILURE,), error_types=(kind,) if kind else (), error_sig=sig)


def error_pick(selection: Selection, state: FilterState) -> FilterState | None:
    """A click on an error-type series -> failures of that type; a drag -> that span."""
    dragged = box_span(selection)
    if dragged:
        return with_span(state, *dragged)
    custom = _first_custom(selection)
    if custom is None or len(custom) < 3:
        return None
    return error_group(state, custom[2])


def picked_row(selection: Selection, keys: list[Any]) -> Any | None:
    """The key of the row clicked in a table (``keys`` in the table's data order)."""
    rows = selection.get("rows") or []
    return keys[rows[0]] if rows and 0 <= rows[0] < len(keys) else None


def error_row_pick(
    selection: Selection, state: FilterState, groups: list[tuple[Any, Any]]
) -> FilterState | None:
    """A row of the error groups table ((type, signature) per row) -> that group."""
    group = picked_row(selection, groups)
    return None if group is None else error_group(state, *group)


def flow_row_pick(
    selection: Selection, state: FilterState, flow_ids: list[str]
) -> FilterState | None:
    flow_id = _uuid(picked_row(selection, flow_ids))
    return replace(state, flows=(flow_id,)) if flow_id else None


def _uuid(raw: Any) -> str | None:
    try:
        return str(uuid.UUID(str(raw)))
    except ValueError:
        return None


def flow_pick(selection: Selection, state: FilterState) -> FilterState | None:
    custom = _first_custom(selection)
    flow_id = _uuid(custom[0]) if custom else None
    return replace(state, flows=(flow_id,)) if flow_id else None


def grid_pick(selection: Selection, state: FilterState) -> FilterState | None:
    """A grid cell -> that flow and that bucket; a drag -> that span (all flows)."""
    dragged = box_span(selection)
    if dragged:
        return with_span(state, *dragged)
    custom = _first_custom(selection)
    flow_id = _uuid(custom[0]) if custom else None
    span = _bucket(custom, first=1) if custom else None
    if flow_id is None or span is None:
        return None
    return replace(with_span(state, *span), flows=(flow_id,))


def run_pick(selection: Selection) -> str | None:
    custom = _first_custom(selection)
    return _uuid(custom[0]) if custom else None


def describe(state: FilterState, labels: dict[str, str] | None = None) -> str:
    """One line for what a pick selected (shown as plain text)."""
    parts = []
    if state.from_ts and state.to_ts:
        parts.append(f"{state.from_ts:%Y-%m-%d %H:%M} to {state.to_ts:%Y-%m-%d %H:%M} ({state.tz})")
    if state.statuses:
        parts.append("status " + ", ".join(state.statuses))
    if state.error_types:
        parts.append("error type " + ", ".join(state.error_types))
    if state.flows:
        parts.append("flow " + ", ".join((labels or {}).get(f, f) for f in state.flows))
    return " · ".join(parts)


# Streamlit glue: on_select callbacks run before the script, so they may set widget keys.
Pick = Callable[[Selection, FilterState], FilterState | None]


def _apply(key: str, pick: Pick, jump: bool) -> None:
    event = st.session_state.get(key)
    selection = dict(getattr(event, "selection", None) or {})
    new = pick(selection, s.current_state())
    if new is None:
        return
    s.apply(new)
    st.session_state[K_PICKED] = (key.split("_", 1)[0], describe(new))  # (page prefix, text)
    st.session_state[K_RERUN] = True
    if jump and not box_span(selection):  # a drag picks a span; it never leaves the page
        st.session_state[K_JUMP] = (HISTORY, None)


def _run_selected(key: str) -> None:
    """A run clicked in the scatter -> its detail on History; a drag -> that span."""
    event = st.session_state.get(key)
    selection = dict(getattr(event, "selection", None) or {})
    if box_span(selection):
        _apply(key, time_pick, False)
        return
    run_id = run_pick(selection)
    if run_id:
        s.apply(s.current_state())  # re-stored: a page switch drops unrendered widget values
        hs.select_run(run_id)  # History opens that run's detail
        st.session_state[K_JUMP] = (HISTORY, run_id)
        st.session_state[K_RERUN] = True


def time_chart(key: str) -> Callable[[], None]:
    return functools.partial(_apply, key, time_pick, False)


def error_chart(key: str) -> Callable[[], None]:
    return functools.partial(_apply, key, error_pick, True)


def flow_chart(key: str) -> Callable[[], None]:
    return functools.partial(_apply, key, flow_pick, False)


def grid_chart(key: str) -> Callable[[], None]:
    return functools.partial(_apply, key, grid_pick, True)


def error_table(key: str, groups: list[tuple[Any, Any]]) -> Callable[[], None]:
    pick = functools.partial(error_row_pick, groups=groups)
    return functools.partial(_apply, key, pick, True)


def flow_table(key: str, flow_ids: list[str]) -> Callable[[], None]:
    pick = functools.partial(flow_row_pick, flow_ids=flow_ids)
    return functools.partial(_apply, key, pick, False)


def run_chart(key: str) -> Callable[[], None]:
    return functools.partial(_run_selected, key)


CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "toImage"]}


def plot(
    fig: Any,
    key: str,
    on_select: Callable[[], None] | None = None,
    modes: Iterable[str] = ("points", "box"),
) -> None:
    """Every chart goes through here: interactive when it has a selection handler."""
    _after_pick()
    if on_select is None:
        st.plotly_chart(fig, width="stretch", key=key, config=CONFIG)
    else:
        st.plotly_chart(
            fig,
            width="stretch",
            key=key,
            config=CONFIG,
            on_select=on_select,
            selection_mode=tuple(modes),
        )


def _after_pick() -> None:
    """A pick made inside a fragment (Overview) reruns only the fragment: follow a
    pending jump, or rerun the whole app so the sidebar and the URL show the new filter."""
    if not st.session_state.pop(K_RERUN, False):
        return
    follow_jump()
    ctx = get_script_run_ctx()
    if ctx is not None and ctx.fragment_ids_this_run:
        st.rerun(scope="app")


def follow_jump() -> None:
    """A click that leads to History (error group, grid cell, run) switches page here."""
    target = st.session_state.pop(K_JUMP, None)
    if not target:
        return
    page, run_id = target
    params = s.to_params(s.current_state())
    if run_id:
        params["run"] = [run_id]
    st.switch_page(page, query_params=params)


def history_button(key: str) -> None:
    """After a click or drag on this page's charts or tables (their keys share the
    prefix of ``key``): what it selected, and one click on to History."""
    prefix, picked = st.session_state.get(K_PICKED) or ("", "")
    if not picked or prefix != key.split("_", 1)[0]:
        return
    text, button = st.columns([5, 1])
    text.text(f"Chart selection: {picked}")
    # The callback re-stores the filter: a page switch drops unrendered widget values.
    restore = functools.partial(s.apply, s.current_state())
    if button.button("Open in History →", key=key, icon=":material/list:", on_click=restore):
        st.session_state.pop(K_PICKED, None)
        st.switch_page(HISTORY, query_params=s.to_params(s.current_state()))
