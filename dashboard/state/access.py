"""Who may reach the dashboard: the bind guard and the sign-in gate (docs/access.md).

- Bind guard (the rule is dashboard.state.exposure's): served beyond localhost with no sign-in
  and no authenticating proxy declared, every page run is refused: one line on stderr and
  on the page, no data read, and the server process exits. Streamlit runs an app's code
  only when a browser connects, so a plain ``streamlit run`` refuses at the first
  request; `make run` checks before it starts Streamlit (``python -m dashboard.state.exposure``).
- Sign-in (``FLOWRUNS_DASHBOARD_AUTH=local``): a form over data.signin; the signed-in
  user (a ``Principal``) lives in this browser session's state and scopes every query
  through ``data_access.scope``.
"""

from __future__ import annotations

import os
import sys
import threading

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError
from streamlit.navigation.page import StreamlitPage
from streamlit.runtime import Runtime

from dashboard import data_access as da
from dashboard.formatting import md_escape
from dashboard.state.exposure import EXIT_REFUSED, exposure_refusal
from data import signin
from data.accounts import Principal
from data.settings import Settings

EXIT_DELAY_SECONDS = 2.0  # long enough for the refusal to reach the browser


def _under_real_server() -> bool:
    # AppTest installs a mock Runtime: no socket is open there, so nothing is exposed.
    return Runtime.exists() and type(Runtime.instance()) is Runtime


def _exit_refused() -> None:
    os._exit(EXIT_REFUSED)  # the script thread cannot stop Streamlit's event loop itself


def enforce_bind(settings: Settings) -> None:
    """Stops the page (and ends the server) when it listens beyond localhost unguarded."""
    if not _under_real_server():
        return
    refusal = exposure_refusal(st.get_option("server.address"), settings)
    if refusal is None:
        return
    print(f"flowruns dashboard: {refusal}", file=sys.stderr, flush=True)
    st.error(refusal, icon=":material/block:")
    threading.Timer(EXIT_DELAY_SECONDS, _exit_refused).start()
    st.stop()


def _client() -> str:
    # The connection's address; None for localhost. Behind a proxy every client shares the
    # proxy's address, so the per-client limit then applies to all of them together.
    return st.context.ip_address or "local"


def _attempt(settings: Settings, username: str, password: str) -> None:
    limits = signin.Limits.from_settings(settings)
    try:
        who = signin.sign_in(da.engine(), username, password, _client(), limits)
    except signin.SignInRefused as exc:
        st.error(str(exc), icon=":material/lock:")
        return
    except SQLAlchemyError:
        st.error(
            "Sign-in needs the current schema: run `flowruns init-db` (with the same"
            " `FLOWRUNS_DATABASE_URL`), then reload.",
            icon=":material/error:",
        )
        return
    st.session_state[da.K_PRINCIPAL] = who
    st.rerun()


def require_sign_in(settings: Settings, pages: list[StreamlitPage]) -> Principal | None:
    """The signed-in user; without sign-in configured, None (everything is visible, as
    on a laptop). Otherwise shows the form and stops the page until someone signs in.

    ``pages`` are declared (hidden) while the form shows: Streamlit then keeps the page
    the link asked for, and the run after sign-in opens it instead of the default."""
    if settings.dashboard_auth == "none":
        return None
    who = da.principal()
    if who is not None:
        # Checked on every page run: disabling an account ends its sessions at once.
        current = signin.still_signed_in(da.engine(), who)
        if current is not None:
            st.session_state[da.K_PRINCIPAL] = current
            return current
        sign_out()
    st.navigation(pages, position="hidden")
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        st.subheader("FlowRun History: sign in")
        # Cleared on submit: the password does not linger in the session's state.
        with st.form("sign_in", clear_on_submit=True):
            # Named for password managers: they fill a sign-in, not a new password.
            username = st.text_input("Username", max_chars=150, autocomplete="username")
            password = st.text_input("Password", type="password", autocomplete="current-password")
            submitted = st.form_submit_button("Sign in", type="primary")
        if submitted:
            _attempt(settings, username, password)
    st.stop()
    return None  # not reached: st.stop ends the script run


def sign_out() -> None:
    """Forget the user and everything this session chose (the next person starts clean)."""
    st.session_state.clear()


def sign_out_button(who: Principal | None) -> None:
    if who is None:
        return
    with st.sidebar:
        role = "admin" if who.is_superuser else "user"
        st.caption(f"Signed in as **{md_escape(who.username)}** ({role})")
        st.button("Sign out", on_click=sign_out, icon=":material/logout:", key="sign_out")
