"""The per-flow table from the rollup (``flow_breakdown``'s rollup path)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from data.filters import FlowRunFilter
from data.models import Flow
from data.rollup.pieces import Piece, outcomes_over
from data.rollup.reader import last_started, outcome_record


def flow_records(engine: Engine, parts: list[Piece], flt: FlowRunFilter) -> list[dict[str, Any]]:
    """The rows the raw per-flow query returns, most runs first: outcomes from the rollup,
    the exact last run and last failure from raw rows inside the period holding them."""
    with engine.connect() as conn:
        found = outcomes_over(conn, parts, lambda table: table.c.flow_id)
        query = select(Flow.id, Flow.name).where(Flow.id.in_(list(found)))
        names: dict[Any, str] = {flow_id: name for flow_id, name in conn.execute(query)}
        # Like the raw query's join: runs of a flow that no longer exists are not listed.
        since = {
            flow_id: (outcome.last_period, outcome.last_failure_period)
            for flow_id, outcome in found.items()
            if flow_id in names
        }
        latest = last_started(conn, flt, since)
    records = [
        {
            "flow_id": flow_id,
            "flow_name": names[flow_id],
            **outcome_record(found[flow_id]),
            "last_run_at": latest[flow_id][0],
            "last_failure_at": latest[flow_id][1],
        }
        for flow_id in since
    ]
    records.sort(key=lambda row: (-row["runs"], row["flow_name"]))
    return records
