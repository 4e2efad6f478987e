"""Where each Langflow source's sync stands, for `flowruns sync status` and the
dashboard's source badge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import DBAPIError

from data.langflow.tables import SyncState
from data.models import FlowRun


@dataclass(frozen=True)
class SourceStatus:
    source: str  # the URL, password masked
    kind: str
    last_sync_at: datetime | None
    newest_end: datetime | None
    runs: int
    steps: int
    skipped: dict[str, int]
    last_error: str | None


def _skipped(raw: Any) -> dict[str, int]:
    # Written by us, but the column is JSON: never fail a status on an odd value.
    if not isinstance(raw, dict):
        return {}
    return {str(k): v for k, v in raw.items() if isinstance(v, int) and not isinstance(v, bool)}


def sync_sources(engine: Engine) -> list[SourceStatus]:
    """Every source synced into this database; empty when none was (or the table is
    not there yet)."""
    try:
        with engine.connect() as conn:
            query = select(*SyncState.__table__.columns).order_by(SyncState.source)
            found = conn.execute(query).all()
    except DBAPIError:
        return []
    return [
        SourceStatus(
            row.source,
            row.kind,
            row.last_sync_at,
            row.newest_end,
            int(row.runs or 0),
            int(row.steps or 0),
            _skipped(row.skipped),
            row.last_error,
        )
        for row in found
    ]


def runs_in_flight(engine: Engine) -> int:
    """Runs shown as running because Langflow has a job row for them."""
    in_flight = select(func.count()).where(
        FlowRun.status == "running", FlowRun.metadata_["langflow_job"].as_boolean().is_(True)
    )
    with engine.connect() as conn:
        return int(conn.execute(in_flight).scalar_one())


def ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"
