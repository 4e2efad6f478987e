"""Entry point (`streamlit run dashboard/app.py`): the frame around every page.

Page config, first-start bootstrap, the shared sidebar, then the page navigation.
"""

from __future__ import annotations

import streamlit as st

from dashboard import bootstrap, sidebar
from dashboard import data_access as da
from dashboard import state as s
from data.errors import InvalidQuery
from data.filters import FlowRunFilter
from data.settings import get_settings

st.set_page_config(page_title="FlowRun History", page_icon="📈", layout="wide")
settings = get_settings()
bootstrap.prepare_database(settings)

flows = da.list_flows()
problems = s.init_from_url({str(flow_id) for flow_id, _ in flows})
if problems:
    st.error("Ignored invalid link parameters (defaults used): " + "; ".join(problems))

pages = [
    st.Page("views/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("views/history.py", title="History", icon=":material/list:", url_path="history"),
    st.Page("views/flows.py", title="Flows", icon=":material/account_tree:", url_path="flows"),
    st.Page("views/errors.py", title="Errors", icon=":material/error:", url_path="errors"),
    st.Page(
        "views/retention.py", title="Retention", icon=":material/delete:", url_path="retention"
    ),
]
page = st.navigation(pages)
sidebar.render(flows, settings)
s.sync_url()

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
    st.error(f"Invalid filter: {exc}")
