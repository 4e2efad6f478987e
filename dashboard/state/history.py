"""History page state <-> URL: sort, direction, page size, page (keyset cursor) and the
selected run, so a History view (or one run: ``/history?run=<id>``) can be shared.

The link is read once per session, with the sidebar filters (``state.init_from_url``).
The values then live in plain session keys (widget keys are dropped while History is
not shown) and the page writes them back into the URL after every run.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import streamlit as st

from data.queries import SORT_KEYS

PARAMS = ("sort", "dir", "size", "cursor", "run")
PAGE_SIZES = (25, 50, 100, 200)
DIRECTIONS = ("desc", "asc")
# Keyset cursors are URL-safe base64 text of a few dozen bytes.
CURSOR_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,10000}")

K_STATE = "_history"  # the HistoryState, kept across page switches
K_SORT, K_DIR, K_SIZE = "h_sort", "h_dir", "h_size"  # the widgets
K_CURSORS, K_ORDER_SIG, K_LINKED = "h_cursors", "h_sig", "h_linked"
K_RUN = "h_run"  # the run shown in the detail pane (str id) or None
LINKED = "from-link"  # order signature of a page restored from a link


@dataclass(frozen=True)
class HistoryState:
    sort: str = "started_at"
    direction: str = "desc"
    size: int = 50
    cursor: str | None = None
    run: str | None = None


def parse_history_params(params: Mapping[str, list[str]]) -> tuple[HistoryState, list[str]]:
    """Validate the History parameters; bad values are reported and replaced by defaults."""
    errors: list[str] = []
    state = HistoryState()

    def first(name: str) -> str | None:
        values = params.get(name) or []
        return values[-1] if values else None

    if (sort := first("sort")) is not None:
        if sort in SORT_KEYS:
            state = replace(state, sort=sort)
        else:
            errors.append(f"sort: unknown column '{sort}' (use {', '.join(SORT_KEYS)})")
    if (direction := first("dir")) is not None:
        if direction in DIRECTIONS:
            state = replace(state, direction=direction)
        else:
            errors.append(f"dir: '{direction}' is not a direction (use desc or asc)")
    if (size := first("size")) is not None:
        if size.isdigit() and int(size) in PAGE_SIZES:
            state = replace(state, size=int(size))
        else:
            sizes = ", ".join(map(str, PAGE_SIZES))
            errors.append(f"size: '{size}' is not a page size (use {sizes})")
    if (cursor := first("cursor")) is not None:
        if CURSOR_PATTERN.fullmatch(cursor):
            state = replace(state, cursor=cursor)
        else:
            errors.append("cursor: not a page cursor of this dashboard (first page shown)")
    if (run := first("run")) is not None:
        try:
            state = replace(state, run=str(uuid.UUID(run)))
        except ValueError:
            errors.append(f"run: '{run}' is not a run id (UUID)")
    return state, errors


def history_to_params(state: HistoryState) -> dict[str, list[str]]:
    """The canonical parameters; defaults are left out to keep links short."""
    default = HistoryState()
    params: dict[str, list[str]] = {}
    if state.sort != default.sort:
        params["sort"] = [state.sort]
    if state.direction != default.direction:
        params["dir"] = [state.direction]
    if state.size != default.size:
        params["size"] = [str(state.size)]
    if state.cursor:
        params["cursor"] = [state.cursor]
    if state.run:
        params["run"] = [state.run]
    return params


def init_from_params(params: Mapping[str, list[str]]) -> list[str]:
    """First run of a session: a shared link's History state -> session keys."""
    state, errors = parse_history_params(params)
    ss = st.session_state
    ss[K_STATE] = state
    ss[K_RUN] = state.run
    if state.cursor:
        # A later page: its cursor is known, the pages before it are not.
        ss[K_CURSORS], ss[K_ORDER_SIG], ss[K_LINKED] = [None, state.cursor], LINKED, True
    return errors


def seed_widgets() -> HistoryState:
    """Give the page's widgets their values back after a page switch (their keys were
    dropped while History was not shown)."""
    ss = st.session_state
    state: HistoryState = ss.get(K_STATE) or HistoryState()
    for key, value in ((K_SORT, state.sort), (K_DIR, state.direction), (K_SIZE, state.size)):
        if key not in ss:
            ss[key] = value
    return state


def current_cursor(signature: Any) -> str | None:
    """The cursor of the page on screen; back to page 1 when the filter or the order
    changed (a page restored from a link keeps its cursor once)."""
    ss = st.session_state
    if ss.get(K_ORDER_SIG) == LINKED:
        ss[K_ORDER_SIG] = signature
    elif ss.get(K_ORDER_SIG) != signature:
        ss[K_ORDER_SIG], ss[K_CURSORS], ss[K_LINKED] = signature, [None], False
    cursors: list[str | None] = ss[K_CURSORS]
    return cursors[-1]


def reset_to_first_page() -> None:
    st.session_state[K_CURSORS], st.session_state[K_LINKED] = [None], False


def page_label(pages: int) -> str:
    """``page 3 of 12``; a page opened from a link does not know its number."""
    cursors = st.session_state.get(K_CURSORS) or [None]
    if st.session_state.get(K_LINKED) and len(cursors) > 1:
        return f"page ? of {pages:,} (opened from a link)"
    return f"page {len(cursors)} of {pages:,}"


def is_first_page() -> bool:
    return len(st.session_state.get(K_CURSORS) or [None]) == 1


def next_page(cursor: str) -> None:
    st.session_state[K_CURSORS].append(cursor)


def previous_page() -> None:
    cursors = st.session_state[K_CURSORS]
    if len(cursors) > 1:
        cursors.pop()
    if len(cursors) == 1:
        st.session_state[K_LINKED] = False


def select_run(run_id: str | None) -> None:
    st.session_state[K_RUN] = run_id


def selected_run() -> str | None:
    value = st.session_state.get(K_RUN)
    return str(value) if value else None


def remember(sort: str, direction: str, size: int) -> HistoryState:
    """Keep the page's state (across page switches) and put it in the URL."""
    cursors = st.session_state.get(K_CURSORS) or [None]
    state = HistoryState(sort, direction, size, cursors[-1], selected_run())
    st.session_state[K_STATE] = state
    wanted = history_to_params(state)
    for name in PARAMS:
        values = wanted.get(name)
        if values is None and name in st.query_params:
            del st.query_params[name]
        elif values is not None and st.query_params.get_all(name) != values:
            st.query_params[name] = values[0]
    return state
