"""Custom dates typed in the sidebar, applied on Enter.

Streamlit's date field commits a typed date only when it loses focus, so the custom
range is two text fields in a form instead: Enter (or Apply) submits both. Each takes a
date (``2026-11-05``, whole days, "to" inclusive) or a minute (``2026-11-05 14:30``,
"to" exclusive), read exactly like the ``from``/``to`` URL parameters.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import streamlit as st

from dashboard.formatting import md_escape
from dashboard.state import filters as s

K_FROM, K_TO, K_SHOWN, K_ERRORS = "f_from_text", "f_to_text", "_range_shown", "_range_errors"
DAY_FORMAT, MINUTE_TEXT = "%Y-%m-%d", "%Y-%m-%d %H:%M"


def parse_typed(start: str, end: str, today: date) -> tuple[s.FilterState, list[str]]:
    """The custom range typed by the user, through the URL parser (same rules, same
    messages naming ``from``/``to``)."""
    texts = [t.strip().replace(" ", "T", 1) for t in (start, end)]
    named = zip(("from", "to"), texts, strict=True)
    params = {"range": ["custom"]} | {name: [text] for name, text in named if text}
    state, errors = s.parse_params(params, set(), today)
    if not any(texts):
        errors.append("from: type a date (YYYY-MM-DD) or a time (YYYY-MM-DD HH:MM)")
    return state, errors


def shown_texts(state: s.FilterState) -> tuple[str, str]:
    if state.from_ts and state.to_ts:
        return state.from_ts.strftime(MINUTE_TEXT), state.to_ts.strftime(MINUTE_TEXT)
    if state.dates:
        return state.dates[0].strftime(DAY_FORMAT), state.dates[1].strftime(DAY_FORMAT)
    return "", ""


def _apply() -> None:
    """Form submitted (Enter or Apply): runs before the script, so it may set keys."""
    ss = st.session_state
    typed, errors = parse_typed(ss.get(K_FROM, ""), ss.get(K_TO, ""), datetime.now(UTC).date())
    ss[K_ERRORS] = errors
    if errors or not typed.dates:
        return
    ss[s.K_DATES] = typed.dates
    ss[s.K_FROM_TS], ss[s.K_TO_TS] = typed.from_ts, typed.to_ts


def render() -> None:
    """The two fields, kept in step with the range (set by a link or a chart selection)."""
    ss = st.session_state
    shown = shown_texts(s.current_state())
    if ss.get(K_SHOWN) != shown:
        ss[K_SHOWN], ss[K_ERRORS] = shown, []
        ss[K_FROM], ss[K_TO] = shown
    with st.form("custom_range", border=False, enter_to_submit=True):
        start, end = st.columns(2)
        start.text_input("From", key=K_FROM, max_chars=16, placeholder="YYYY-MM-DD")
        end.text_input(
            "To", key=K_TO, max_chars=16, placeholder="YYYY-MM-DD",
            help="A date is included whole; a time (YYYY-MM-DD HH:MM) is where the range ends.",
        )  # fmt: skip
        st.form_submit_button("Apply dates", on_click=_apply)
    for error in ss.get(K_ERRORS) or []:
        st.error(md_escape(error))
