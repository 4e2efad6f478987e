"""Runs in flight, from Langflow's ``job`` rows (nothing else is written before a run ends).

An API, webhook or v2 run has a job row from its request on, with ``job_id`` equal to the
id its trace will have: it is shown as a ``running`` run (a placeholder) and replaced by
the run when the trace arrives (the same id, upserted). A playground build's job has an
id of its own: when it ends, its placeholder is dropped if the flow got a trace in the
job's time (that trace is the run), and otherwise closed from the job (tracing may be off:
a completed job then stands for a run Langflow did not trace). cancelled -> cancelled,
timed_out -> failure with error type Timeout, failed -> failure.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, select

from data.langflow.reader import (
    as_time,
    as_uuid,
    flow_traced_between,
    jobs_by_id,
    jobs_in_flight,
    trace_exists,
)
from data.langflow.source import Source
from data.langflow.writer import drop_placeholder, finish_placeholder, upsert_runs
from data.models import FlowRun

CLOSED = {
    "completed": ("success", None, None),
    "failed": ("failure", "JobFailed", "Langflow reported the run as failed and wrote no trace"),
    "cancelled": ("cancelled", None, None),
    "timed_out": ("failure", "Timeout", "the run timed out in Langflow"),
}
# Langflow writes the trace before it marks the job finished (~10 ms; seconds for a
# failure): a trace that started this long before the job was created still counts.
SLACK = timedelta(seconds=5)


def placeholders(ours: Connection) -> list[uuid.UUID]:
    """Our runs that stand for a job in flight."""
    query = select(FlowRun.id).where(
        FlowRun.status == "running", FlowRun.metadata_["langflow_job"].as_boolean().is_(True)
    )
    return list(ours.execute(query).scalars())


def add_placeholders(
    ours: Connection,
    source: Source,
    src: Connection,
    owners_of: Callable[[set[uuid.UUID]], dict[uuid.UUID, uuid.UUID | None]],
) -> int:
    """A running run for each job in flight we do not hold yet (``owners_of``: flow ids ->
    owners, for the flows that still exist); returns how many."""
    rows = jobs_in_flight(src, source)
    ids = [i for i in (as_uuid(r.job_id) for r in rows) if i is not None]
    held = set(ours.execute(select(FlowRun.id).where(FlowRun.id.in_(ids))).scalars())
    fresh = {as_uuid(r.flow_id) for r in rows if as_uuid(r.job_id) not in held}
    flows = {flow for flow in fresh if flow is not None}
    owners = owners_of(flows) if flows else {}
    new = []
    for row in rows:
        job_id, flow_id = as_uuid(row.job_id), as_uuid(row.flow_id)
        if job_id is None or job_id in held or flow_id not in owners:
            continue
        new.append(
            {
                "id": job_id,
                "flow_id": flow_id,
                "user_id": owners[flow_id],
                "session_id": None,
                "status": "running",
                "started_at": as_time(row.created_timestamp),
                "ended_at": None,
                "duration_ms": None,
                "error_message": None,
                "error_type": None,
                "trigger_type": "api",
                "components_executed": 0,
                "total_tokens": None,
                "inputs": None,
                "outputs": None,
                "metadata_": {"source": "langflow", "langflow_job": True},
            }
        )
    upsert_runs(ours, new)
    return len(new)


def close_ended(ours: Connection, source: Source, src: Connection) -> int:
    """Placeholders whose job ended without a trace of its id: dropped or closed."""
    waiting = placeholders(ours)
    closed = 0
    for row in jobs_by_id(src, source, waiting):
        status = str(row.status).lower()
        if status not in CLOSED:
            continue  # still queued or running (or suspended)
        job_id, flow_id = as_uuid(row.job_id), as_uuid(row.flow_id)
        created, finished = as_time(row.created_timestamp), as_time(row.finished_timestamp)
        if job_id is None or created is None or trace_exists(src, source, job_id):
            continue  # its trace is there: the next pass of traces replaces it
        end = finished or created
        if flow_id and flow_traced_between(src, source, flow_id, created - SLACK, end):
            drop_placeholder(ours, job_id)
            closed += 1
            continue
        run_status, error_type, message = CLOSED[status]
        values: dict[str, Any] = {
            "status": run_status,
            "error_type": error_type,
            "error_message": message,
        }
        if finished is not None:
            values |= {
                "ended_at": finished,
                "duration_ms": int((finished - created).total_seconds() * 1000),
            }
        closed += finish_placeholder(ours, job_id, values)
    return closed
