"""The audit log on the Retention page: newest entries as a table, all of them as CSV.
The dashboard has no login, so it shows every entry (as a superuser would see them)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data_access as da
from dashboard.formatting import local_time, md_escape
from data.audit import AuditRecord, iter_csv, list_entries

SHOWN = 200


def audit_frame(entries: list[AuditRecord], tz: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "at": [local_time(e.at, tz) for e in entries],
            "actor": [e.actor for e in entries],
            "surface": [e.surface for e in entries],
            "action": [e.action for e in entries],
            "dry run": [e.dry_run for e in entries],
            "matched": [e.matched for e in entries],
            "affected": [e.affected for e in entries],
            "batches": [e.batches for e in entries],
            "status": [e.status for e in entries],
            "criteria": [e.criteria for e in entries],
            "error": [e.error or "" for e in entries],
        }
    )


def audit_section(tz: str) -> None:
    st.subheader("Audit log")
    st.caption(
        "Every delete, bulk delete, prune and stuck-run sweep, from the API, the CLI and this "
        "dashboard, dry runs included. Retention never prunes this log. A delete that was "
        "killed half-way stays 'running', then reads 'interrupted'; 'affected' says how far "
        "it got."
    )
    page = da.read_call(list_entries, limit=SHOWN)
    if page.total == 0:
        st.info("No deletes recorded yet.")
        return
    st.dataframe(audit_frame(page.entries, tz), hide_index=True, key="a_table")
    shown = f"newest {SHOWN:,} of {page.total:,}" if page.total > SHOWN else f"{page.total:,}"
    # The zone name comes from the URL (validated, but "_" is Markdown): shown as text.
    st.caption(f"Entries shown: {shown}; times in {md_escape(tz)}.")
    engine = da.read_engine()
    st.download_button(
        "Download the audit log (CSV)",
        data=lambda: "".join(iter_csv(engine)),
        file_name="flowrun-audit.csv",
        mime="text/csv",
        key="a_csv",
    )
