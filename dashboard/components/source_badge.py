"""What the dashboard is reading, on every page: "Langflow at …, synced 4 s ago" for
each synced source, or "Recorded runs" when runs are written here by a runner."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from dashboard import data_access as da
from dashboard.formatting import md_escape
from data.langflow.status import SourceStatus, ago

TRIGGER_NOTE = (
    "Langflow does not record webhook or schedule triggers: its runs with a job row"
    " (API, webhook, workflow calls) show as api, playground runs as manual."
)


def badge_text(sources: list[SourceStatus], now: datetime) -> str:
    if not sources:
        return "Recorded runs"
    parts = []
    for source in sources:
        text = f"Langflow at {source.source}, synced {ago(source.last_sync_at, now)}"
        if source.last_error:
            text += " (the last sync failed: see flowruns sync status)"
        parts.append(text)
    return " · ".join(parts)


def render() -> None:
    sources = da.synced_sources()
    # The source URL is stored text: escaped, never Markdown.
    st.caption(
        ":material/database: " + md_escape(badge_text(sources, datetime.now(UTC))),
        help=TRIGGER_NOTE if sources else None,
    )
