"""One run in full, and deleting it with an explicit confirmation step."""

from __future__ import annotations

import uuid

import pandas as pd
import streamlit as st

from dashboard import data_access as da
from dashboard.formatting import human_duration, local_time, md_escape, status_label
from dashboard.runs_table import K_SELECTED
from data.audit import AuditContext
from data.deletion import delete_run
from data.models import FlowRunStatus
from data.queries import RunRecord

K_CONFIRM, K_FLASH = "h_confirm_delete", "h_flash"


def _fields(run: RunRecord, tz: str) -> pd.DataFrame:
    rows = {
        "Run id": str(run.id),
        "Status": status_label(run.status),
        "Flow": f"{run.flow_name} ({run.flow_id})",
        "Trigger": run.trigger_type,
        f"Started ({tz})": local_time(run.started_at, tz),
        f"Ended ({tz})": local_time(run.ended_at, tz),
        "Started (UTC, ISO 8601)": run.started_at.isoformat(),
        "Duration": human_duration(run.duration_ms),
        "Components executed": str(run.components_executed),
        "User": f"{run.username} ({run.user_id})" if run.user_id else "-",
        "Session": run.session_id or "-",
        "Error type": run.error_type or "-",
    }
    return pd.DataFrame({"field": list(rows), "value": list(rows.values())})


def _delete(run_id: str) -> None:
    deleted = da.call(delete_run, uuid.UUID(run_id), audit=AuditContext.dashboard())
    da.clear_caches()
    st.session_state[K_CONFIRM] = None
    st.session_state[K_SELECTED] = None
    st.session_state[K_FLASH] = (
        f"Deleted run {run_id}." if deleted else f"Run {run_id} was already gone."
    )


def _ask(run_id: str | None) -> None:
    st.session_state[K_CONFIRM] = run_id


def _delete_controls(run: RunRecord) -> None:
    run_id = str(run.id)
    if run.status in FlowRunStatus.active():
        st.caption("Runs still pending or running can't be deleted; they are protected.")
        return
    if st.session_state.get(K_CONFIRM) != run_id:
        st.button("Delete this run…", key="h_delete_start", on_click=_ask, args=(run_id,))
        return
    st.warning(f"Delete run `{run_id}` permanently? This cannot be undone.")
    yes, no, _ = st.columns([1, 1, 3])
    yes.button(
        "Yes, delete this run",
        type="primary",
        key="h_delete_confirm",
        on_click=_delete,
        args=(run_id,),
    )
    no.button("Cancel", key="h_delete_cancel", on_click=_ask, args=(None,))


def render(run_id: str, tz: str, read_only: bool) -> None:
    run = da.get_run(uuid.UUID(run_id))
    if run is None:
        st.warning("This run no longer exists. Press Refresh data.")
        return
    st.subheader(f"Run detail · {md_escape(run.flow_name)}")  # stored text, not Markdown
    fields = _fields(run, tz)
    # Tall enough for every field: no inner scrolling in the detail view.
    st.dataframe(fields, hide_index=True, width="stretch", height=35 * (len(fields) + 1) + 3)
    if run.error_type or run.error_message:
        st.markdown(f"**Error** · {md_escape(run.error_type or 'unknown type')}")
        st.code(run.error_message or "(no message)", language=None, wrap_lines=True)
    inputs, outputs, metadata = st.tabs(["Inputs", "Outputs", "Metadata"])
    inputs.json(run.inputs if run.inputs is not None else {}, expanded=2)
    outputs.json(run.outputs if run.outputs is not None else {}, expanded=2)
    metadata.json(run.metadata if run.metadata is not None else {}, expanded=2)
    if not read_only:
        _delete_controls(run)
