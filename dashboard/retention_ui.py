"""Retention page parts: bulk delete by criteria and the retention policy (prune).

Both follow preview -> typed confirmation -> re-count -> batched delete with progress.
The cutoff time is fixed at preview, so the delete applies exactly the previewed
criteria; if the re-count differs (runs recorded or deleted meanwhile), the user must
preview again.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import data_access as da
from dashboard.formatting import local_time
from data.deletion import delete_runs
from data.filters import FlowRunFilter
from data.models import FlowRunStatus
from data.retention import RetentionPolicy, prune

K_PREVIEW, K_PRUNE = "r_preview", "r_prune_preview"
FINISHED = tuple(FlowRunStatus.finished())
PROTECTED_NOTE = (
    "Pending and running runs are protected: they are never deleted or pruned here, "
    "so a run still in progress cannot lose its record. Stuck runs can be failed with "
    "`flowruns sweep-stuck` and then cleaned up."
)


def _progress_bar(label: str) -> Any:
    bar = st.progress(0.0, text=label)

    def report(done: int, total: int) -> None:
        bar.progress(min(done / max(total, 1), 1.0), text=f"{label} {done:,} / {total:,}")

    return report


def criteria_filter(
    days: int, flows: list[str], statuses: list[str], now: datetime
) -> FlowRunFilter:
    return FlowRunFilter.build(
        flow_ids=[uuid.UUID(f) for f in flows],
        statuses=statuses,
        started_before=now - timedelta(days=days),
    )


def bulk_delete_section(flows: dict[str, str], tz: str, read_only: bool) -> None:
    st.subheader("Delete runs by criteria")
    st.caption("These criteria are explicit: the sidebar filters do not apply here.")
    left, middle, right = st.columns([1, 2, 2])
    days = int(left.number_input("Started more than N days ago", 0, 36500, 30, key="r_days"))
    chosen_flows = middle.multiselect(
        "Flows (empty: every flow)", list(flows), format_func=flows.get, key="r_flows"
    )
    statuses = right.multiselect(
        "Statuses (empty: every finished status)", FINISHED, key="r_status"
    )
    criteria = (days, tuple(chosen_flows), tuple(statuses))
    if st.button("Preview: count matching runs", key="r_preview_btn"):
        flt = criteria_filter(days, chosen_flows, statuses, datetime.now(UTC))
        st.session_state[K_PREVIEW] = {
            "criteria": criteria,
            "filter": flt,
            "count": da.call(delete_runs, flt, dry_run=True),
        }
    preview = st.session_state.get(K_PREVIEW)
    if not preview:
        return
    if preview["criteria"] != criteria:
        st.caption("The criteria changed since the preview: preview again.")
        return
    count, flt = preview["count"], preview["filter"]
    cutoff = local_time(flt.started_before, tz, "%Y-%m-%d %H:%M")
    st.info(f"**{count:,} runs** would be deleted (finished runs started before {cutoff} {tz}).")
    if read_only or count == 0:
        return
    phrase = f"DELETE {count}"
    typed = st.text_input(f"Type **{phrase}** to confirm", key="r_confirm")
    if st.button(
        f"Delete {count:,} runs", type="primary", disabled=typed.strip() != phrase, key="r_go"
    ):
        _run_bulk_delete(flt, count)


def _run_bulk_delete(flt: FlowRunFilter, previewed: int) -> None:
    st.session_state[K_PREVIEW] = None
    recount = da.call(delete_runs, flt, dry_run=True)
    if recount != previewed:
        st.warning(f"The count changed from {previewed:,} to {recount:,}: preview again.")
        return
    deleted = da.call(delete_runs, flt, progress=_progress_bar("Deleting"))
    da.clear_caches()
    st.success(f"Deleted {deleted:,} runs.")


def _policy_table(policy: RetentionPolicy) -> pd.DataFrame:
    rows = {
        "Max age (days), all finished runs": policy.max_age_days,
        "Max runs kept per flow": policy.max_runs_per_flow,
        **{f"Max age (days), {k} runs": v for k, v in policy.status_max_age_days.items()},
    }
    return pd.DataFrame(
        {"rule": list(rows), "value": ["-" if v is None else str(v) for v in rows.values()]}
    )


def policy_section(policy: RetentionPolicy, read_only: bool) -> None:
    st.subheader("Retention policy")
    st.dataframe(_policy_table(policy), hide_index=True)
    if policy.is_empty:
        st.info(
            "No policy configured. Set `FLOWRUNS_RETENTION_MAX_AGE_DAYS`, "
            "`FLOWRUNS_RETENTION_MAX_RUNS_PER_FLOW` or `FLOWRUNS_RETENTION_FAILURE_MAX_AGE_DAYS` "
            "and restart the dashboard (or run `flowruns prune` from cron)."
        )
        return
    if st.button("Preview prune (dry run)", key="p_preview_btn"):
        now = datetime.now(UTC)
        result = da.call(prune, policy, dry_run=True, now=now)
        st.session_state[K_PRUNE] = {"now": now, "result": result}
    preview = st.session_state.get(K_PRUNE)
    if not preview:
        return
    result = preview["result"]
    by_rule = pd.DataFrame({"rule": list(result.by_rule), "runs": list(result.by_rule.values())})
    st.dataframe(by_rule, hide_index=True)
    st.info(f"**{result.total:,} runs** would be pruned (rules can overlap).")
    if read_only or result.total == 0:
        return
    phrase = f"PRUNE {result.total}"
    typed = st.text_input(f"Type **{phrase}** to confirm", key="p_confirm")
    if st.button("Run prune", type="primary", disabled=typed.strip() != phrase, key="p_go"):
        _run_prune(policy, preview["now"], result.total)


def _run_prune(policy: RetentionPolicy, now: datetime, previewed: int) -> None:
    st.session_state[K_PRUNE] = None
    recount = da.call(prune, policy, dry_run=True, now=now).total
    if recount != previewed:
        st.warning(f"The count changed from {previewed:,} to {recount:,}: preview again.")
        return
    result = da.call(prune, policy, now=now, progress=_progress_bar("Pruning"))
    da.clear_caches()
    st.success(f"Pruned {result.total:,} runs.")
