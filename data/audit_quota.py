"""A cap on the audit entries a regular API user's dry runs can add.

Every dry run is audited (who counted what, and when), so a regular user could grow
the audit log, which retention never prunes, without limit by repeating one. Rate-limiting
was chosen over folding repeats into one row: it needs no new column, keeps every entry
that is written exact (one request, one row), and a client told "retry after N seconds"
is not silently told something other than what it asked. Superusers, the CLI and the
dashboard are operators and are not capped.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select

from data.models import AuditEntry, utcnow

WINDOW = timedelta(hours=1)


class TooManyDryRuns(Exception):
    """The user has made ``limit`` audited dry runs in the last hour."""

    def __init__(self, limit: int, retry_after_s: int) -> None:
        self.limit = limit
        self.retry_after_s = retry_after_s
        super().__init__(
            f"dry_run: at most {limit} dry runs per hour per user; retry in {retry_after_s} s"
        )


def check_dry_run_quota(
    engine: Engine, user_id: uuid.UUID, limit: int, now: datetime | None = None
) -> None:
    """``TooManyDryRuns`` when ``user_id`` already has ``limit`` dry-run entries in the
    rolling hour before ``now``. Uses the (actor_user_id, at) index. Concurrent requests
    may each pass the check at once, so the cap can be exceeded by that many."""
    moment = now or utcnow()
    since = moment - WINDOW
    recent = (
        select(func.count(), func.min(AuditEntry.at))
        .where(AuditEntry.actor_user_id == user_id, AuditEntry.at >= since)
        .where(AuditEntry.dry_run.is_(True))
    )
    with engine.connect() as conn:
        count, oldest = conn.execute(recent).one()
    if int(count) < limit:
        return
    wait = (oldest + WINDOW - moment).total_seconds() if oldest is not None else 1.0
    raise TooManyDryRuns(limit, max(1, math.ceil(wait)))
