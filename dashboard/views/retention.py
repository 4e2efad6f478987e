"""Retention: bulk delete by criteria, the retention policy (edit, preview, prune), and
the audit log of every delete. Deletes are preview-first."""

import streamlit as st

from dashboard import data_access as da
from dashboard.components import audit_log, policy_editor
from dashboard.components import retention_actions as ui
from dashboard.state import filters as s
from data import migrate
from data.errors import InvalidQuery
from data.retention import clear_policy, effective_policy
from data.settings import get_settings

settings = get_settings()
tz = s.current_tz()
st.title("Retention")
if not da.call(migrate.audit_schema_present):
    st.error(
        "This database predates the audit log and the stored retention policy: run "
        "`flowruns init-db` (with the same FLOWRUNS_DATABASE_URL), then reload. "
        "Deleting is unavailable until then."
    )
    st.stop()
if settings.read_only:
    st.info("Read-only mode (`FLOWRUNS_READ_ONLY=1`): previews only, deleting is disabled.")
st.caption(ui.PROTECTED_NOTE)
# Keyed on ids, labels unique even where two flows share a name.
flows = da.flow_labels()
ui.bulk_delete_section(flows, tz, settings.read_only)
st.divider()
st.subheader("Retention policy")
try:
    current = da.call(effective_policy, settings)
except InvalidQuery as exc:
    st.error("The stored retention policy cannot be read: nothing is pruned until it is fixed.")
    st.code(str(exc), language=None)  # may quote stored text: never rendered as Markdown
    if not settings.read_only and st.button("Forget the stored policy", key="pol_forget_bad"):
        da.call(clear_policy)
        st.rerun()
else:
    policy_editor.show_policy(current, tz)
    policy_editor.policy_editor(current, settings.read_only)
    ui.prune_section(current.policy, settings.read_only)
st.caption(
    "Schedule the policy with `flowruns prune` from cron or a systemd timer: see docs/retention.md."
)
st.divider()
audit_log.audit_section(tz)
