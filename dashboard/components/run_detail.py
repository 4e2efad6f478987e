"""One run in full, its comparison with the flow's last successful run, and deleting it
with an explicit confirmation step.

Stored text (flow names, error messages, JSON) goes into text, code and table elements
only: never into Markdown, where it could become links or images.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import data_access as da
from dashboard.components import run_steps
from dashboard.components.payload_diff import SECTIONS, as_text, diff_payloads
from dashboard.formatting import (
    UNREADABLE_MARK,
    human_duration,
    local_time,
    md_escape,
    status_label,
    stored_time,
    unreadable_time,
)
from dashboard.state import history as hs
from data.deletion import delete_run
from data.filters import FlowRunFilter
from data.models import FlowRunStatus
from data.queries import RunRecord, last_successful_run

K_CONFIRM, K_FLASH = "h_confirm_delete", "h_flash"
K_COMPARE, K_ONLY_DIFF = "h_compare", "h_compare_only_diff"
CHANGE_COLOURS = {
    "changed": "background-color: rgba(230, 159, 0, 0.25)",
    "added": "background-color: rgba(0, 114, 178, 0.18)",
    "removed": "background-color: rgba(213, 94, 0, 0.18)",
}
CHANGE_LABELS = {
    "changed": "changed",
    "added": "only in this run",
    "removed": "only in the last success",
    "same": "same",
}


def _fields(run: RunRecord, tz: str) -> pd.DataFrame:
    bad = run.unreadable  # stored values no reader can hold, as text (data.stored_time)
    rows = {
        "Status": status_label(run.status),
        "Flow": f"{run.flow_name} ({run.flow_id})",
        "Trigger": run.trigger_type,
        f"Started ({tz})": stored_time(run.started_at, bad.get("started_at"), tz),
        f"Ended ({tz})": stored_time(run.ended_at, bad.get("ended_at"), tz),
        "Started (UTC, ISO 8601)": run.started_at.isoformat() if run.started_at else "-",
        "Duration": (
            unreadable_time(bad["duration_ms"])
            if "duration_ms" in bad
            else human_duration(run.duration_ms)
        ),
        "Components executed": str(run.components_executed),
        "User": f"{run.username} ({run.user_id})" if run.user_id else "-",
        "Session": run.session_id or "-",
        "Error type": run.error_type or "-",
        "Tokens": "-" if run.total_tokens is None else f"{run.total_tokens:,}",
    }
    return pd.DataFrame({"field": list(rows), "value": list(rows.values())})


def _delete(run_id: str) -> None:
    scope = da.scope(FlowRunFilter())  # checked again where the row is deleted
    deleted = da.call(delete_run, uuid.UUID(run_id), scope, audit=da.audit_context())
    da.clear_caches()
    st.session_state[K_CONFIRM] = None
    hs.select_run(None)
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
    st.warning(f"Delete run {run_id} permanently? This cannot be undone.")
    yes, no = st.columns(2)
    yes.button(
        "Yes, delete this run",
        type="primary",
        key="h_delete_confirm",
        on_click=_delete,
        args=(run_id,),
    )
    no.button("Cancel", key="h_delete_cancel", on_click=_ask, args=(None,))


def _payload(tab: Any, value: Any) -> None:
    text = as_text(value if value is not None else {})
    try:
        json.loads(text)
    except ValueError:  # not JSON any more (e.g. nested too deeply): show it as text
        tab.code(text, language=None, wrap_lines=True)
    else:
        tab.json(text, expanded=2)


def payloads(run: RunRecord) -> dict[str, Any]:
    return {"inputs": run.inputs, "outputs": run.outputs, "metadata": run.metadata}


def diff_frame(run: RunRecord, baseline: RunRecord) -> pd.DataFrame:
    rows = diff_payloads(payloads(run), payloads(baseline))
    return pd.DataFrame(
        {
            "section": [r.section for r in rows],
            "field": [r.path for r in rows],
            "this run": [r.this_run for r in rows],
            "last success": [r.baseline for r in rows],
            "change": [CHANGE_LABELS[r.change] for r in rows],
        }
    )


def _highlight(frame: pd.DataFrame) -> Any:
    colour_of = {label: CHANGE_COLOURS.get(change, "") for change, label in CHANGE_LABELS.items()}
    return frame.style.apply(lambda row: [colour_of[row["change"]]] * len(row), axis=1)


def _compare(run: RunRecord, tz: str) -> None:
    if run.started_at is None:
        st.info("This run's start time is unreadable: no run can be said to come before it.")
        return
    baseline = da.call(last_successful_run, run.flow_id, run.started_at, da.scope(FlowRunFilter()))
    if baseline is None:
        st.info("No successful run of this flow started before this one.")
        return
    st.text(f"Last successful run before this one, started {local_time(baseline.started_at, tz)}")
    st.code(str(baseline.id), language=None)
    frame = diff_frame(run, baseline)
    counts = frame["change"].value_counts()
    summary = [f"{int(counts.get(label, 0))} {label}" for label in CHANGE_LABELS.values()]
    st.text(" · ".join(summary) + f" (fields of {', '.join(SECTIONS)})")
    if st.checkbox("Only differences", value=True, key=K_ONLY_DIFF):
        frame = frame[frame["change"] != CHANGE_LABELS["same"]]
    if frame.empty:
        st.text("Inputs, outputs and metadata are identical.")
        return
    st.dataframe(_highlight(frame.reset_index(drop=True)), hide_index=True, width="stretch")


def render(run_id: str, tz: str, read_only: bool, in_filter: bool) -> None:
    run = da.get_run(uuid.UUID(run_id))
    if run is None:
        st.warning("This run no longer exists. Press Refresh data.")
        return
    st.subheader("Run detail")
    if not in_filter:
        st.info("This run is outside the current filters (opened by its id).")
    st.text(f"{status_label(run.status)} · {run.flow_name}")
    st.code(run_id, language=None)  # the full id, with a copy button
    if run.unreadable:
        named = "; ".join(f"{column} = {raw!r}" for column, raw in run.unreadable.items())
        st.warning(
            f"{UNREADABLE_MARK} stored value(s), shown as stored: {md_escape(named)}. Another "
            "program wrote them; `flowruns doctor` lists every such row."
        )
    fields = _fields(run, tz)
    # Tall enough for every field: no inner scrolling in the detail view.
    st.dataframe(fields, hide_index=True, width="stretch", height=35 * (len(fields) + 1) + 3)
    if run.error_type or run.error_message:
        st.text(f"Error · {run.error_type or 'unknown type'}")
        st.code(run.error_message or "(no message)", language=None, wrap_lines=True)
    run_steps.render(run, tz)
    inputs, outputs, metadata = st.tabs(["Inputs", "Outputs", "Metadata"])
    for tab, value in ((inputs, run.inputs), (outputs, run.outputs), (metadata, run.metadata)):
        _payload(tab, value)
    if st.toggle("Compare with the last successful run of the same flow", key=K_COMPARE):
        _compare(run, tz)
    if not read_only:
        _delete_controls(run)
