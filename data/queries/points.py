"""The newest runs as points (start, duration, status) for the dashboard's runs scatter."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, select

from data.errors import InvalidQuery
from data.filters import FlowRunFilter
from data.models import Flow, FlowRun
from data.stored_time import without_unreadable

MAX_POINTS = 20_000
POINT_COLUMNS = ("id", "flow_id", "flow_name", "status", "started_at", "duration_ms")


def recent_run_points(engine: Engine, flt: FlowRunFilter, limit: int = 5000) -> pd.DataFrame:
    """The ``limit`` newest matching runs: only the six columns a point needs (no JSON)."""
    if not 1 <= limit <= MAX_POINTS:
        raise InvalidQuery(f"limit: must be between 1 and {MAX_POINTS}")
    query = (
        select(
            FlowRun.id,
            FlowRun.flow_id,
            Flow.name.label("flow_name"),
            FlowRun.status,
            FlowRun.started_at,
            FlowRun.duration_ms,
        )
        .outerjoin(Flow, Flow.id == FlowRun.flow_id)
        .where(flt.where())
        .order_by(FlowRun.started_at.desc(), FlowRun.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query).all(), columns=list(POINT_COLUMNS))
    frame = without_unreadable(frame, "started_at")
    frame["id"] = frame["id"].astype(str)
    frame["flow_id"] = frame["flow_id"].astype(str)
    frame["started_at"] = pd.to_datetime(frame["started_at"], utc=True)
    # SQLite: text another program stored as a duration has none (NaN).
    frame["duration_ms"] = pd.to_numeric(frame["duration_ms"], errors="coerce").astype("float64")
    return frame
