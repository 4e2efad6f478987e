"""The sweep that closes runs left behind in pending/running (a crashed runner, a
cancelled stream) as failure with error_type Timeout."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, Row, select, update
from sqlalchemy.exc import DataError, IntegrityError

from data.audit import AuditContext, AuditHandle, audited, filter_criteria
from data.errors import InvalidQuery
from data.filters import FlowRunFilter
from data.models import FlowRun, FlowRunStatus, utcnow
from data.recorder import duration_ms_between, storable_duration
from data.statuses import status_in

# The recorder's logger, as before the sweep had its own module: existing logging
# configuration keeps catching its warnings.
log = logging.getLogger("data.recorder")

SWEEP_BATCH = 500


@dataclass(frozen=True)
class SweepResult:
    marked: int
    """Runs marked failure (or that would be, in a dry run)."""
    skipped: int = 0
    """Runs the database refused to update (named in the audit entry's error)."""


def sweep_stuck(
    engine: Engine,
    timeout: timedelta,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    audit: AuditContext | None = None,
) -> int:
    """How many runs ``sweep_stuck_runs`` marked (or would mark)."""
    return sweep_stuck_runs(engine, timeout, now=now, dry_run=dry_run, audit=audit).marked


def sweep_stuck_runs(
    engine: Engine,
    timeout: timedelta,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    audit: AuditContext | None = None,
) -> SweepResult:
    """Mark runs still pending/running after ``timeout`` as failure with error_type Timeout.

    Batches of ``SWEEP_BATCH`` runs, one transaction each; a batch the database refuses is
    retried row by row, so one bad row (e.g. a duration past a 32-bit column) is skipped,
    logged and named in the audit entry while every other run is still swept.
    """
    if timeout <= timedelta(0):
        raise InvalidQuery("timeout: must be positive")
    now = now or utcnow()
    stuck = FlowRunFilter(statuses=FlowRunStatus.active(), started_before=now - timeout)
    minutes = round(timeout.total_seconds() / 60)
    criteria = {"filter": filter_criteria(stuck), "timeout_minutes": minutes}
    with audited(engine, audit, "sweep", criteria, dry_run=dry_run) as entry:
        with engine.connect() as conn:
            rows = conn.execute(select(FlowRun.id, FlowRun.started_at).where(stuck.where())).all()
        entry.matched = len(rows)
        if dry_run:
            return SweepResult(marked=len(rows))
        skipped: list[str] = []
        for start in range(0, len(rows), SWEEP_BATCH):
            batch = rows[start : start + SWEEP_BATCH]
            if not _sweep_batch(engine, batch, now, minutes, entry):
                for row in batch:
                    if not _sweep_batch(engine, [row], now, minutes, entry):
                        skipped.append(str(row.id))
        if skipped:
            entry.error = f"{len(skipped)} run(s) could not be updated: {', '.join(skipped[:20])}"
            log.warning("sweep-stuck: %s", entry.error)
    return SweepResult(marked=entry.affected, skipped=len(skipped))


def _sweep_batch(
    engine: Engine,
    rows: Sequence[Row[uuid.UUID, datetime]],
    now: datetime,
    minutes: int,
    entry: AuditHandle,
) -> bool:
    """Fail ``rows`` in one transaction; False (and nothing changed) if a value is refused."""
    before = (entry.affected, entry.batches)
    try:
        with engine.begin() as conn:
            updated = 0
            for row in rows:
                updated += conn.execute(
                    update(FlowRun)
                    .where(FlowRun.id == row.id, status_in(FlowRunStatus.active()))
                    .values(
                        status=FlowRunStatus.FAILURE.value,
                        ended_at=now,
                        duration_ms=storable_duration(
                            engine, duration_ms_between(row.started_at, now)
                        ),
                        error_type="Timeout",
                        error_message=f"Run did not finish within {minutes} minutes; marked failed",
                    )
                ).rowcount
            entry.record_batch(conn, entry.affected + updated)
    except (DataError, IntegrityError) as exc:
        entry.affected, entry.batches = before
        log.info("sweep-stuck: batch refused (%s)", str(exc.orig).strip().splitlines()[0])
        return False
    return True
