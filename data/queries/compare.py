"""The baseline a run is compared with: the last successful run of the same flow."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Engine

from data.filters import FlowRunFilter
from data.models import FlowRunStatus
from data.queries.listing import list_runs
from data.queries.records import RunRecord


def last_successful_run(
    engine: Engine, flow_id: uuid.UUID, before: datetime, scope: FlowRunFilter | None = None
) -> RunRecord | None:
    """The newest successful run of ``flow_id`` that started strictly before ``before``,
    with its payloads (inputs, outputs, metadata); ``None`` if there is none. ``scope``
    (data.scope) keeps another user's run, and its payloads, out."""
    flt = FlowRunFilter.build(
        flow_ids=[flow_id],
        statuses=[FlowRunStatus.SUCCESS.value],
        started_before=before,
        user_id=scope.user_id if scope else None,
    )
    page = list_runs(engine, flt, limit=1, include_payloads=True)
    return page.runs[0] if page.runs else None
