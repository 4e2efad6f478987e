"""Per-flow and per-error breakdowns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Engine, case, func, select

from data.filters import FlowRunFilter
from data.models import Flow, FlowRun, FlowRunStatus
from data.queries.common import (
    STATUS_VALUES,
    add_outcome_columns,
    outcome_columns,
    percentiles,
    status_pivot,
)
from data.rollup.flows import flow_records
from data.rollup.pieces import route_pieces
from data.rollup.sources import run_tokens
from data.sql_functions import error_signature
from data.statuses import status_in
from data.stored_time import as_times


def flow_breakdown(
    engine: Engine, flt: FlowRunFilter, *, exact: bool | None = None
) -> pd.DataFrame:
    """Per flow: runs, one column per known status plus ``other`` (they add up to ``runs``),
    success rate, avg/p50/p95 duration over the runs that have one and ``without_duration``,
    last run, last failure. ``exact``: see ``data.rollup.reader.route``; the frame's
    ``attrs["approximate"]`` says whether percentiles came from histograms."""
    parts = route_pieces(engine, flt, exact)
    rows = _raw_flow_rows(engine, flt) if parts is None else flow_records(engine, parts, flt)
    frame = _flow_frame(rows)
    frame.attrs["approximate"] = parts is not None and bool(frame["p50_ms"].notna().any())
    return frame


def _raw_flow_rows(engine: Engine, flt: FlowRunFilter) -> Sequence[Mapping[str, Any]]:
    failure = FlowRunStatus.FAILURE.value
    # Group by flow_id alone (index order, no sort), then join names onto the few grouped
    # rows rather than onto every run.
    per_flow = (
        select(
            FlowRun.flow_id,
            func.count().label("runs"),
            *status_pivot(),
            *outcome_columns(run_tokens(engine)),
            func.max(FlowRun.started_at).label("last_run_at"),
            func.max(case((status_in((failure,)), FlowRun.started_at))).label("last_failure_at"),
        )
        .where(flt.where())
        .group_by(FlowRun.flow_id)
        .subquery()
    )
    query = (
        select(per_flow, Flow.name.label("flow_name"))
        .outerjoin(Flow, Flow.id == per_flow.c.flow_id)
        .order_by(per_flow.c.runs.desc(), Flow.name)
    )
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def _flow_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    columns = [
        "flow_id",
        "flow_name",
        "runs",
        *STATUS_VALUES,
        "without_duration",
        "avg_ms",
        "p50_ms",
        "p95_ms",
        "last_run_at",
        "last_failure_at",
        "token_runs",
        "total_tokens",
    ]
    records = []
    for row in rows:
        p50, p95, _ = percentiles(row["percentiles"])
        records.append({**row, "p50_ms": p50, "p95_ms": p95})
    frame = pd.DataFrame(records, columns=columns)
    # PostgreSQL's avg() is numeric (Decimal): the same float dtype on both backends.
    frame["avg_ms"] = frame["avg_ms"].astype("float64")
    frame[["token_runs", "total_tokens"]] = frame[["token_runs", "total_tokens"]].astype("int64")
    add_outcome_columns(frame)
    for column in ("last_run_at", "last_failure_at"):
        frame[column] = as_times(frame[column])
    return frame


def error_breakdown(engine: Engine, flt: FlowRunFilter) -> pd.DataFrame:
    """Failures grouped by error type and message signature, most frequent first."""
    columns = [
        "error_type",
        "signature",
        "count",
        "flows",
        "first_seen",
        "last_seen",
        "sample_message",
    ]
    if flt.statuses and FlowRunStatus.FAILURE.value not in flt.statuses:
        return pd.DataFrame(columns=columns)
    failures = flt.replace(statuses=(FlowRunStatus.FAILURE.value,))
    # Messages repeat: group by the message first, so the signature (six regular
    # expressions) is worked out per distinct (type, message, flow), not per failure
    # (332k failures, 40k such groups over 90 days at 10M runs). Every aggregate below
    # composes exactly (sums, minima, maxima, distinct flows).
    per_message = (
        select(
            FlowRun.error_type,
            FlowRun.error_message,
            FlowRun.flow_id,
            func.count().label("runs"),
            func.min(FlowRun.started_at).label("first_seen"),
            func.max(FlowRun.started_at).label("last_seen"),
        )
        .where(failures.where())
        .group_by(FlowRun.error_type, FlowRun.error_message, FlowRun.flow_id)
        .subquery()
    )
    signature = error_signature(per_message.c.error_message).label("signature")
    count = func.sum(per_message.c.runs)
    query = (
        select(
            per_message.c.error_type,
            signature,
            count.label("count"),
            func.count(func.distinct(per_message.c.flow_id)).label("flows"),
            func.min(per_message.c.first_seen).label("first_seen"),
            func.max(per_message.c.last_seen).label("last_seen"),
            func.max(per_message.c.error_message).label("sample_message"),
        )
        .group_by(per_message.c.error_type, signature)
        .order_by(count.desc(), per_message.c.error_type, signature)
    )
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query).mappings().all(), columns=columns)
    for column in ("first_seen", "last_seen"):
        frame[column] = as_times(frame[column])
    return frame
