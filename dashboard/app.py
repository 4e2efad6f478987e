"""Entry point (`streamlit run dashboard/app.py`): the frame around every page.

Page config, first-start bootstrap, the shared sidebar, then the page navigation.
"""

from __future__ import annotations

import uuid

import streamlit as st
from streamlit.navigation.page import StreamlitPage
from streamlit.runtime.scriptrunner import get_script_run_ctx

from dashboard import bootstrap
from dashboard import data_access as da
from dashboard.components import sidebar, source_badge
from dashboard.formatting import md_escape
from dashboard.state import access
from dashboard.state import filters as s
from data.errors import InvalidQuery
from data.filters import FlowRunFilter
from data.settings import SettingsError, get_settings


def unknown_page_path(pages: list[StreamlitPage]) -> str | None:
    """The URL path the browser asked for when no page has it (st.navigation then runs
    the default page without a word)."""
    ctx = get_script_run_ctx()
    wanted = (ctx.pages_manager.intended_page_name if ctx else None) or ""
    known = {page.url_path for page in pages}
    return wanted if wanted.strip("/") and wanted.strip("/") not in known else None


st.set_page_config(page_title="FlowRun History", page_icon="📈", layout="wide")
try:
    settings = get_settings()
except SettingsError as exc:  # an invalid FLOWRUNS_* value: say which, as text
    st.error(f"Invalid configuration: {md_escape(exc)}")
    st.stop()
access.enforce_bind(settings)  # before anything is read
bootstrap.prepare_database(settings)
pages = [
    st.Page("views/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("views/history.py", title="History", icon=":material/list:", url_path="history"),
    st.Page("views/flows.py", title="Flows", icon=":material/account_tree:", url_path="flows"),
    st.Page("views/errors.py", title="Errors", icon=":material/error:", url_path="errors"),
    st.Page(
        "views/retention.py", title="Retention", icon=":material/delete:", url_path="retention"
    ),
]
# The pages go to the sign-in gate: a link to /history is still /history once signed in.
who = access.require_sign_in(settings, pages)
if who is not None and not who.is_superuser:
    # Retention acts on every user's runs (the policy, prune, the audit log of all
    # deletes): with sign-in, only a superuser gets the page.
    pages = pages[:-1]

flow_labels = da.flow_labels()
problems = s.init_from_url(set(flow_labels))
if problems:
    # The problems quote the link's values: shown as text, never as Markdown.
    st.error("Ignored invalid link parameters (defaults used): " + md_escape("; ".join(problems)))

page = st.navigation(pages)
if unknown := unknown_page_path(pages):
    st.error(f"No page at /{md_escape(unknown)}: showing {page.title} instead.")
# Labels, not names: two flows may share a name, and pickers match options by label.
sidebar.render([(uuid.UUID(i), label) for i, label in flow_labels.items()], settings)
access.sign_out_button(who)
s.sync_url()

source_badge.render()
if da.is_demo():
    st.caption(
        ":material/science: **Demo data**: generated on the first start of the embedded database."
    )
if da.count_runs(FlowRunFilter()) == 0:
    bootstrap.empty_state()
    st.stop()
try:
    page.run()
except InvalidQuery as exc:
    st.error(f"Invalid filter: {md_escape(exc)}")
