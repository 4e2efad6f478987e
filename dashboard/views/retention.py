"""Retention: bulk delete by criteria and the retention policy, both preview-first."""

import streamlit as st

from dashboard import data_access as da
from dashboard import retention_ui as ui
from dashboard import state as s
from data.retention import RetentionPolicy
from data.settings import get_settings

settings = get_settings()
st.title("Retention")
if settings.read_only:
    st.info("Read-only mode (`FLOWRUNS_READ_ONLY=1`): previews only, deleting is disabled.")
st.caption(ui.PROTECTED_NOTE)
flows = {str(flow_id): name for flow_id, name in da.list_flows()}
ui.bulk_delete_section(flows, s.current_tz(), settings.read_only)
st.divider()
ui.policy_section(RetentionPolicy.from_settings(settings), settings.read_only)
