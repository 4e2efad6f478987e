"""Retention page parts: bulk delete by criteria and applying the retention policy (prune).

Both follow preview -> typed confirmation -> re-count -> batched delete with progress.
The cutoff time is fixed at preview, so the delete applies exactly the previewed
criteria; if the re-count differs (runs recorded or deleted meanwhile), the user must
preview again. Every preview and delete is written to the audit log as "dashboard",
except in read-only mode, where a preview is a plain count and nothing is written.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import data_access as da
from dashboard.formatting import local_time
from data.delete_guard import matches_every_deletable, require_all_for_everything
from data.deletion import bulk_delete_filter, count_deletable, delete_runs
from data.errors import InvalidQuery
from data.filters import FlowRunFilter
from data.models import FlowRunStatus
from data.retention import PruneResult, RetentionPolicy, preview_prune, prune
from data.settings import get_settings

K_PREVIEW, K_PRUNE = "r_preview", "r_prune_preview"
K_EVERYTHING = "r_everything"
EVERYTHING_LABEL = "delete every finished run"
FINISHED = tuple(FlowRunStatus.finished())
MAX_DAYS = 36_500
# The progress bar should move about this many times, whatever the batch size setting.
PROGRESS_STEPS, MIN_BATCH = 20, 50
PROTECTED_NOTE = (
    "Pending and running runs are protected: they are never deleted or pruned here, "
    "so a run still in progress cannot lose its record. Stuck runs can be failed with "
    "`flowruns sweep-stuck` and then cleaned up."
)


def progress_bar(label: str) -> Any:
    bar = st.progress(0.0, text=label)

    def report(done: int, total: int) -> None:
        bar.progress(min(done / max(total, 1), 1.0), text=f"{label} {done:,} / {total:,}")

    return report


def batch_size_for(total: int) -> int:
    """Batches small enough for the bar to move about ``PROGRESS_STEPS`` times, never
    larger than the configured batch size."""
    steps = max(MIN_BATCH, math.ceil(total / PROGRESS_STEPS))
    return min(get_settings().delete_batch_size, steps)


def days_error(days: float) -> str | None:
    if days != int(days) or not 0 <= days <= MAX_DAYS:
        return (
            f"Days: {days:g} is not valid; enter a whole number from 0 to {MAX_DAYS:,}. "
            "Preview and delete are blocked until it is fixed."
        )
    return None


def criteria_filter(
    days: int, flows: list[str], statuses: list[str], now: datetime
) -> FlowRunFilter:
    return FlowRunFilter.build(
        flow_ids=[uuid.UUID(f) for f in flows],
        statuses=statuses,
        started_before=now - timedelta(days=days),
    )


def criteria_table(flt: FlowRunFilter, days: int, flows: dict[str, str], tz: str) -> pd.DataFrame:
    """What the count really covered, from the filter that was applied (protections
    included), as plain text cells."""
    applied = bulk_delete_filter(flt)
    before = local_time(applied.started_before, tz, "%Y-%m-%d %H:%M:%S")
    names = [flows.get(str(f), str(f)) for f in applied.flow_ids]
    statuses = (
        ", ".join(applied.statuses)
        if applied.statuses
        else f"any except {', '.join(sorted(applied.exclude_statuses))} (protected)"
    )
    rows = {
        "started before": f"{before} {tz} ({days} days before the preview)",
        "flows": ", ".join(names) if names else "every flow",
        "statuses": statuses,
    }
    return pd.DataFrame({"criterion": list(rows), "value": list(rows.values())})


def bulk_delete_section(flows: dict[str, str], tz: str, read_only: bool) -> None:
    st.subheader("Delete runs by criteria")
    st.caption("These criteria are explicit: the sidebar filters do not apply here.")
    left, middle, right = st.columns([1, 2, 2])
    # No min/max on the widget: the browser would show an out-of-range value while the
    # widget kept the previous one. We take what is typed and refuse it explicitly.
    days_value = left.number_input("Started more than N days ago", value=30, step=1, key="r_days")
    chosen_flows = middle.multiselect(
        "Flows (empty: every flow)",
        list(flows),
        format_func=lambda flow_id: flows.get(flow_id, flow_id),
        key="r_flows",
    )
    statuses = right.multiselect(
        "Statuses (empty: every finished status)", FINISHED, key="r_status"
    )
    problem = days_error(days_value)
    if problem:
        st.error(problem)
        st.button("Preview: count matching runs", key="r_preview_btn", disabled=True)
        return
    days = int(days_value)
    criteria = (days, tuple(chosen_flows), tuple(statuses))
    if st.button("Preview: count matching runs", key="r_preview_btn"):
        flt = criteria_filter(days, chosen_flows, statuses, datetime.now(UTC))
        # Read-only writes nothing, not even the audit entry of a dry run: a plain count.
        count = (
            da.call(count_deletable, flt)
            if read_only
            else da.call(delete_runs, flt, dry_run=True, audit=da.audit_context())
        )
        everything = bool(da.call(matches_every_deletable, bulk_delete_filter(flt)))
        st.session_state.pop(K_EVERYTHING, None)  # each preview is confirmed afresh
        st.session_state[K_PREVIEW] = {
            "criteria": criteria,
            "filter": flt,
            "count": count,
            "everything": everything,
        }
    preview = st.session_state.get(K_PREVIEW)
    if not preview:
        return
    if preview["criteria"] != criteria:
        st.caption("The criteria changed since the preview: preview again.")
        return
    count, flt = preview["count"], preview["filter"]
    st.info(f"**{count:,} runs** would be deleted: those matching exactly these criteria.")
    st.dataframe(criteria_table(flt, days, flows, tz), hide_index=True)
    if preview["everything"]:
        st.warning(
            "These criteria match every deletable run: every finished run would be deleted. "
            f"Tick “{EVERYTHING_LABEL}” below to confirm that this is what you want."
        )
    if read_only or count == 0:
        return
    everything_confirmed = preview["everything"] and st.checkbox(EVERYTHING_LABEL, key=K_EVERYTHING)
    phrase = f"DELETE {count}"
    typed = st.text_input(f"Type **{phrase}** to confirm", key="r_confirm")
    blocked = typed.strip() != phrase or (preview["everything"] and not everything_confirmed)
    if st.button(f"Delete {count:,} runs", type="primary", disabled=blocked, key="r_go"):
        _run_bulk_delete(flt, count, everything_confirmed)


def _run_bulk_delete(flt: FlowRunFilter, previewed: int, everything_confirmed: bool) -> None:
    st.session_state[K_PREVIEW] = None
    recount = da.call(count_deletable, flt)
    if recount != previewed:
        st.warning(f"The count changed from {previewed:,} to {recount:,}: preview again.")
        return
    try:  # the API's and the CLI's guard: the data may have changed since the preview
        da.call(require_all_for_everything, flt, delete_all=everything_confirmed)
    except InvalidQuery:
        st.error(
            "These criteria now match every deletable run; nothing was deleted. "
            f"Preview again and tick “{EVERYTHING_LABEL}” to delete them all."
        )
        return
    deleted = da.call(
        delete_runs,
        flt,
        delete_all=everything_confirmed,
        batch_size=batch_size_for(previewed),
        progress=progress_bar("Deleting"),
        audit=da.audit_context(),
    )
    da.clear_caches()
    st.success(f"Deleted {deleted:,} runs.")


def rules_table(result: PruneResult) -> pd.DataFrame:
    return pd.DataFrame({"rule": list(result.by_rule), "runs": list(result.by_rule.values())})


def prune_section(policy: RetentionPolicy, read_only: bool) -> None:
    """Apply the policy in force now: preview (a dry run), confirm, prune."""
    if policy.is_empty:
        st.info("No retention policy in force: nothing to prune.")
        return
    if st.button("Preview prune (dry run)", key="p_preview_btn"):
        now = datetime.now(UTC)
        result = (
            da.call(preview_prune, policy, now=now)  # read-only: no audit entry either
            if read_only
            else da.call(prune, policy, dry_run=True, now=now, audit=da.audit_context())
        )
        st.session_state[K_PRUNE] = {"now": now, "result": result, "policy": policy}
    preview = st.session_state.get(K_PRUNE)
    if not preview:
        return
    if preview["policy"] != policy:
        st.caption("The policy changed since the preview: preview again.")
        return
    result = preview["result"]
    st.dataframe(rules_table(result), hide_index=True)
    st.info(f"**{result.total:,} runs** would be pruned (rules can overlap).")
    if read_only or result.total == 0:
        return
    phrase = f"PRUNE {result.total}"
    typed = st.text_input(f"Type **{phrase}** to confirm", key="p_confirm")
    if st.button("Run prune", type="primary", disabled=typed.strip() != phrase, key="p_go"):
        _run_prune(policy, preview["now"], result.total)


def _run_prune(policy: RetentionPolicy, now: datetime, previewed: int) -> None:
    st.session_state[K_PRUNE] = None
    recount = da.call(preview_prune, policy, now=now).total
    if recount != previewed:
        st.warning(f"The count changed from {previewed:,} to {recount:,}: preview again.")
        return
    result = da.call(
        prune,
        policy,
        now=now,
        batch_size=batch_size_for(previewed),
        progress=progress_bar("Pruning"),
        audit=da.audit_context(),
    )
    da.clear_caches()
    st.success(f"Pruned {result.total:,} runs.")
