"""The sidebar's "more filters": user, session id, run id and a duration range.

Part of the one sidebar state (``state.FilterState.extra``): in the URL as ``user``,
``session``, ``run_id``, ``min_s`` and ``max_s`` (durations in seconds), validated with
errors that name the parameter, and compiled into ``FlowRunFilter`` like every filter.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st

from dashboard.formatting import md_escape

K_USER, K_SESSION, K_RUN_ID = "f_user", "f_session", "f_run_id"
K_MIN_S, K_MAX_S = "f_min_s", "f_max_s"
PARAMS = ("user", "session", "run_id", "min_s", "max_s")
MAX_TEXT = 500
# 100 years. A duration filter is in milliseconds in SQL: 1e300 s (a crafted link) once
# overflowed the query and crashed the page.
MAX_SECONDS = 36_500 * 86_400


@dataclass(frozen=True)
class ExtraFilters:
    user: str = ""  # a user id (UUID text)
    session: str = ""
    run_id: str = ""  # a run id (UUID text)
    min_s: float | None = None
    max_s: float | None = None


def as_uuid(text: str) -> str | None:
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        return None


def _seconds(name: str, raw: str | None, errors: list[str]) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        errors.append(f"{name}: '{raw}' is not a duration in seconds (a number, 0 or more)")
        return None
    if value > MAX_SECONDS:
        errors.append(f"{name}: '{raw[:40]}' is too long (at most {MAX_SECONDS:,} seconds)")
        return None
    return value


def unsendable(text: str) -> bool:
    """Text no database query can carry: NUL (PostgreSQL refuses it) or lone surrogates
    (cannot be encoded). A link holding either would crash the page's query."""
    return any(char == "\x00" or "\ud800" <= char <= "\udfff" for char in text)


def parse_extra(first: Any, known_users: set[str] | None, errors: list[str]) -> ExtraFilters:
    """``first(name)`` gives a URL parameter's last value; bad values are reported and
    dropped. ``known_users`` (when given) must contain the user id."""
    user = ""
    if raw_user := first("user"):
        user = as_uuid(raw_user) or ""
        if not user:
            errors.append(f"user: '{raw_user}' is not a user id (UUID)")
        elif known_users is not None and user not in known_users:
            errors.append(f"user: no user with id {user}")
            user = ""
    run_id = ""
    if raw_run := first("run_id"):
        run_id = as_uuid(raw_run) or ""
        if not run_id:
            errors.append(f"run_id: '{raw_run}' is not a run id (UUID)")
    session = first("session") or ""
    if len(session) > MAX_TEXT:
        errors.append(f"session: longer than {MAX_TEXT} characters")
        session = ""
    elif unsendable(session):
        errors.append("session: must not contain NUL characters or invalid (surrogate) text")
        session = ""
    low, high = _seconds("min_s", first("min_s"), errors), _seconds("max_s", first("max_s"), errors)
    if low is not None and high is not None and low > high:
        errors.append("min_s: must not exceed max_s (max_s ignored)")
        high = None
    return ExtraFilters(user, session, run_id, low, high)


def extra_to_params(extra: ExtraFilters) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for name, value in (("user", extra.user), ("session", extra.session)):
        if value:
            params[name] = [value]
    if extra.run_id:
        params["run_id"] = [extra.run_id]
    for name, seconds in (("min_s", extra.min_s), ("max_s", extra.max_s)):
        if seconds is not None:
            params[name] = [f"{seconds:g}"]
    return params


def store_extra(extra: ExtraFilters) -> None:
    ss = st.session_state
    ss[K_USER] = extra.user or None
    ss[K_SESSION], ss[K_RUN_ID] = extra.session, extra.run_id
    ss[K_MIN_S], ss[K_MAX_S] = extra.min_s, extra.max_s


def current_extra() -> ExtraFilters:
    ss = st.session_state
    low, high = ss.get(K_MIN_S), ss.get(K_MAX_S)
    return ExtraFilters(
        user=ss.get(K_USER) or "",
        session=(ss.get(K_SESSION) or "").strip(),
        run_id=(ss.get(K_RUN_ID) or "").strip(),
        min_s=None if low is None else float(low),
        max_s=None if high is None else float(high),
    )


def filter_values(extra: ExtraFilters) -> dict[str, Any]:
    """The ``FlowRunFilter`` fields; a malformed run id or an inverted range is left out
    (the sidebar says so)."""
    low, high = extra.min_s, extra.max_s
    if low is not None and high is not None and low > high:
        high = None
    return {
        "user_id": extra.user or None,
        "session_id": extra.session or None,
        "run_id": as_uuid(extra.run_id) if extra.run_id else None,
        "min_duration_ms": None if low is None else round(low * 1000),
        "max_duration_ms": None if high is None else round(high * 1000),
    }


def render_widgets(users: Mapping[str, str]) -> None:
    """User picker (ids; labels are usernames), session id, run id, duration range."""
    extra = current_extra()
    active = extra != ExtraFilters()
    with st.expander("More filters", expanded=active):
        st.selectbox(
            "User", list(users), index=None, key=K_USER, format_func=lambda i: users.get(i, i),
            placeholder="Any user",
        )  # fmt: skip
        st.text_input("Session id", key=K_SESSION, max_chars=MAX_TEXT)
        st.text_input("Run id", key=K_RUN_ID, max_chars=64, placeholder="full run id (UUID)")
        if extra.run_id and not as_uuid(extra.run_id):
            st.error(f"Run id: '{md_escape(extra.run_id)}' is not a run id (UUID); ignored.")
        low, high = st.columns(2)
        low.number_input("Min duration (s)", min_value=0.0, value=None, step=1.0, key=K_MIN_S)
        high.number_input("Max duration (s)", min_value=0.0, value=None, step=1.0, key=K_MAX_S)
        if extra.min_s is not None and extra.max_s is not None and extra.min_s > extra.max_s:
            st.error("Duration: the minimum is above the maximum; the maximum is ignored.")
