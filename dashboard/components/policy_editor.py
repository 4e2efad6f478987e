"""The retention policy editor: the policy is stored in the database; until one is
saved, the ``FLOWRUNS_RETENTION_*`` settings are the policy. A candidate is previewed
(how many runs it would prune now) before it can be saved."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import data_access as da
from dashboard.components.retention_actions import FINISHED, MAX_DAYS, rules_table
from dashboard.formatting import local_time
from data.retention import (
    EffectivePolicy,
    RetentionPolicy,
    clear_policy,
    preview_prune,
    save_policy,
)

K_CANDIDATE, K_FLASH = "pol_preview", "policy_flash"
MAX_RUNS = 10_000_000
SETTINGS_NOTE = (
    "No policy saved here: the defaults from FLOWRUNS_RETENTION_MAX_AGE_DAYS, "
    "FLOWRUNS_RETENTION_MAX_RUNS_PER_FLOW and FLOWRUNS_RETENTION_FAILURE_MAX_AGE_DAYS apply."
)


def policy_table(policy: RetentionPolicy) -> pd.DataFrame:
    rows = {
        "Max age (days), all finished runs": policy.max_age_days,
        "Max runs kept per flow": policy.max_runs_per_flow,
        **{f"Max age (days), {k} runs": v for k, v in policy.status_max_age_days.items()},
    }
    return pd.DataFrame(
        {"rule": list(rows), "value": ["-" if v is None else str(v) for v in rows.values()]}
    )


def show_policy(current: EffectivePolicy, tz: str) -> None:
    st.dataframe(policy_table(current.policy), hide_index=True)
    if current.source == "database":
        when = local_time(current.updated_at, tz, "%Y-%m-%d %H:%M")
        # The editor's name comes from the database: plain text, never Markdown.
        st.text(f"Saved on this page {when} {tz} by {current.updated_by}.")
    else:
        st.text(SETTINGS_NOTE)


def _limit(label: str, value: int | None, key: str, high: int) -> tuple[int | None, str | None]:
    """A whole number from 1 to ``high``, or empty (rule off)."""
    number = st.number_input(label, value=value, step=1, key=key, placeholder="off")
    if number is None:
        return None, None
    if number != int(number) or not 1 <= number <= high:
        return None, f"{label}: {number:g} is not valid; enter 1 to {high:,}, or leave it empty."
    return int(number), None


def _candidate(policy: RetentionPolicy) -> tuple[RetentionPolicy | None, list[str]]:
    errors: list[str] = []
    left, right = st.columns(2)
    with left:
        age, problem = _limit("Max age (days)", policy.max_age_days, "pol_max_age", MAX_DAYS)
        errors += [problem] if problem else []
        runs, problem = _limit(
            "Max runs kept per flow", policy.max_runs_per_flow, "pol_max_runs", MAX_RUNS
        )
        errors += [problem] if problem else []
    per_status: dict[str, int] = {}
    with right:
        for status in FINISHED:
            days, problem = _limit(
                f"Max age (days) for {status} runs",
                policy.status_max_age_days.get(status),
                f"pol_age_{status}",
                MAX_DAYS,
            )
            errors += [problem] if problem else []
            if days is not None:
                per_status[status] = days
    if errors:
        return None, errors
    return RetentionPolicy(age, runs, per_status), []


def policy_editor(current: EffectivePolicy, read_only: bool) -> None:
    if read_only:
        return
    flash = st.session_state.pop(K_FLASH, None)
    if flash:
        st.success(flash)
    with st.expander("Edit the policy", expanded=False):
        st.caption("Empty: that rule is off. Per-status ages replace the max age for that status.")
        candidate, errors = _candidate(current.policy)
        for problem in errors:
            st.error(problem)
        preview_clicked = st.button(
            "Preview this policy", key="pol_preview_btn", disabled=candidate is None
        )
        if preview_clicked and candidate is not None:
            _preview(candidate)
        shown: dict[str, Any] | None = st.session_state.get(K_CANDIDATE)
        ready = shown is not None and candidate is not None and shown["policy"] == candidate
        if shown is not None and not ready:
            st.caption("The values changed since the preview: preview again before saving.")
        if ready and shown is not None:
            _show_preview(shown)
        save, reset = st.columns(2)
        if save.button("Save policy", key="pol_save", type="primary", disabled=not ready):
            assert candidate is not None
            da.call(save_policy, candidate, da.audit_context().actor)
            _done("Policy saved: flowruns prune and this page now apply it.")
        if current.source == "database" and reset.button(
            "Forget the saved policy (use the settings)", key="pol_reset"
        ):
            da.call(clear_policy)
            _done("Saved policy forgotten: the settings apply again.")


def _done(message: str) -> None:
    """Start over from what is stored now: drop the preview and the edited values."""
    for key in list(st.session_state):
        if str(key).startswith("pol_"):
            del st.session_state[key]
    st.session_state[K_FLASH] = message
    st.rerun()


def _preview(candidate: RetentionPolicy) -> None:
    if candidate.is_empty:
        st.session_state[K_CANDIDATE] = {"policy": candidate, "result": None}
        return
    result = da.call(preview_prune, candidate, now=datetime.now(UTC))
    st.session_state[K_CANDIDATE] = {"policy": candidate, "result": result}


def _show_preview(shown: dict[str, Any]) -> None:
    result = shown["result"]
    if result is None:
        st.info("This policy is empty: saving it turns pruning off.")
        return
    st.dataframe(rules_table(result), hide_index=True)
    st.info(f"Saved, this policy would prune **{result.total:,} runs** now (rules can overlap).")
