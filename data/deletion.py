"""Deleting runs: one by id, or many in bounded batches (a transaction per batch)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, delete, func, select, text
from sqlalchemy.sql.elements import ColumnElement

from data.audit import AuditContext, AuditHandle, audited, filter_criteria
from data.deletion_batches import (
    Position,
    delete_batch_by_ids,
    delete_batch_returning,
    delete_batch_subtracting,
)
from data.errors import InvalidQuery
from data.filters import FlowRunFilter
from data.models import FlowRun, FlowRunStatus, utcnow
from data.rollup.maintain import pausable
from data.settings import get_settings

Progress = Callable[[int, int], None]
"""Called after each batch with (deleted so far, total to delete)."""


def delete_run(
    engine: Engine,
    run_id: uuid.UUID,
    scope: FlowRunFilter | None = None,
    *,
    audit: AuditContext | None = None,
) -> bool:
    """Delete one run; False if it does not exist or ``scope`` excludes it."""
    flt = scope or FlowRunFilter()
    criteria = {"run_id": str(run_id), "scope": filter_criteria(flt)}
    audit_entry = audited(engine, audit, "delete_run", criteria, dry_run=False)
    with audit_entry as entry, engine.begin() as conn:
        deleted = conn.execute(delete(FlowRun).where(FlowRun.id == run_id, flt.where()))
        entry.matched = deleted.rowcount
        entry.record_batch(conn, deleted.rowcount)
    return bool(deleted.rowcount)


def resolve_batch_size(batch_size: int | None) -> int:
    size = get_settings().delete_batch_size if batch_size is None else batch_size
    if size < 1:
        raise InvalidQuery("batch_size: must be 1 or more")
    return size


def count_where(engine: Engine, where: ColumnElement[bool]) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(select(func.count()).select_from(FlowRun).where(where)).scalar_one()
        )


def _batch(
    engine: Engine,
    one_batch: Callable[[Connection, ColumnElement[bool], int, Position], tuple[int, Position]],
    where: ColumnElement[bool],
    limit: int,
    position: Position,
    entry: AuditHandle | None,
    deleted: int,
) -> tuple[int, Position]:
    """One batch in its own transaction, the audit entry updated in it."""
    with engine.begin() as conn:
        count, last = one_batch(conn, where, limit, position)
        if count and entry is not None:
            entry.record_batch(conn, deleted + count)
    return count, last


def delete_where(
    engine: Engine,
    where: ColumnElement[bool],
    *,
    batch_size: int | None = None,
    progress: Progress | None = None,
    entry: AuditHandle | None = None,
) -> int:
    """Delete every run matching ``where``, ``batch_size`` rows per transaction.

    Short transactions keep writers unblocked; on SQLite a batch is cut to about half a
    second, other writers get a turn after it, and the WAL is truncated after each
    batch, since with concurrent readers it otherwise grows without bound. The
    audit ``entry`` is updated inside each batch's transaction: it never disagrees
    with what was really deleted, even after a kill.
    """
    size = resolve_batch_size(batch_size)
    total = count_where(engine, where)
    if entry is not None:
        entry.matched = total
        entry.touch()
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        subtracting = sqlite and pausable(conn)
    one_batch = delete_batch_subtracting if subtracting else delete_batch_by_ids
    if not sqlite:
        one_batch = delete_batch_returning
    deleted = 0
    position: Position = None
    limit = size
    while deleted < total or total == 0:
        started = time.perf_counter()
        # No integer overflow in the set-based subtraction: it sums usable durations only
        # (within 2^40 ms each; data.sql_functions.usable_duration).
        count, last = _batch(engine, one_batch, where, limit, position, entry, deleted)
        if not count and position is not None:
            position = None  # one more pass from the start: runs that arrived behind it
            continue
        if not count:
            break
        deleted += count
        position = last
        if sqlite:
            held = time.perf_counter() - started
            limit = next_limit(limit, size, held)
            with engine.connect() as conn:
                conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            time.sleep(min(SQLITE_YIELD_S, held))
        if progress is not None:
            progress(deleted, max(total, deleted))
    return deleted


# SQLite has one writer at a time and no queue: a writer waiting for a batch sleeps in
# its busy handler (up to 100 ms between tries) and, without a pause, the next batch
# took the lock first, again and again (writers waited 1.3-2.8 s behind 0.3-0.6 s
# batches). A pause a little longer than that sleep (never longer than the batch held
# the lock, so that short batches stay cheap) lets it in.
SQLITE_YIELD_S = 0.11
# A writer waits at most about one batch: batches are cut to this duration when the
# machine is slow (the configured size is the most a batch holds).
SQLITE_BATCH_S = 0.5


def next_limit(limit: int, most: int, seconds: float) -> int:
    """The next SQLite batch's size: halved while a batch lasts longer than
    ``SQLITE_BATCH_S``, grown back towards ``most`` while it takes under half of that."""
    if seconds > SQLITE_BATCH_S:
        return max(1, limit // 2)
    if seconds < SQLITE_BATCH_S / 2:
        return min(most, limit + max(1, limit // 2))
    return limit


def bulk_delete_filter(
    flt: FlowRunFilter,
    *,
    older_than_days: int | None = None,
    delete_all: bool = False,
    include_active: bool = False,
    scope_user_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> FlowRunFilter:
    """The filter a bulk delete really applies, after its protections.

    An empty request is refused unless ``delete_all``; active runs are excluded unless
    ``include_active``; ``scope_user_id`` narrows to one user's runs after the emptiness
    check (a scope is not a filter the caller chose).
    """
    if older_than_days is not None and older_than_days < 0:
        raise InvalidQuery("older_than_days: must be 0 or more")
    if flt.is_empty and older_than_days is None and not delete_all:
        raise InvalidQuery("refusing to delete every flow run: give a filter, or all=true")
    active = set(FlowRunStatus.active())
    if not include_active and active & set(flt.statuses):
        raise InvalidQuery(
            "status: pending/running runs are protected; pass include_active=true to delete them"
        )
    changes: dict[str, object] = {}
    if older_than_days is not None:
        cutoff = (now or utcnow()) - timedelta(days=older_than_days)
        before = flt.started_before
        changes["started_before"] = min(before, cutoff) if before else cutoff
        if flt.started_after and flt.started_after >= changes["started_before"]:  # type: ignore[operator]
            raise InvalidQuery("older_than_days: leaves an empty time range with started_after")
    if not include_active:
        changes["exclude_statuses"] = tuple(set(flt.exclude_statuses) | active)
    if scope_user_id is not None:
        changes["user_id"] = scope_user_id
    return flt.replace(**changes) if changes else flt


def delete_runs(
    engine: Engine,
    flt: FlowRunFilter,
    *,
    older_than_days: int | None = None,
    delete_all: bool = False,
    include_active: bool = False,
    dry_run: bool = False,
    scope_user_id: uuid.UUID | None = None,
    batch_size: int | None = None,
    progress: Progress | None = None,
    audit: AuditContext | None = None,
) -> int:
    """Bulk delete with protections (see ``bulk_delete_filter``); dry-run returns the count.
    A refused request deletes nothing and writes no audit entry; any other one writes one."""
    effective = bulk_delete_filter(
        flt,
        older_than_days=older_than_days,
        delete_all=delete_all,
        include_active=include_active,
        scope_user_id=scope_user_id,
    )
    size = resolve_batch_size(batch_size)
    criteria = {
        "filter": filter_criteria(effective),
        "requested": {
            "filter": filter_criteria(flt),
            "older_than_days": older_than_days,
            "all": delete_all,
            "include_active": include_active,
        },
        "batch_size": size,
    }
    with audited(engine, audit, "bulk_delete", criteria, dry_run=dry_run) as entry:
        if dry_run:
            entry.matched = count_where(engine, effective.where())
            return entry.matched
        return delete_where(
            engine, effective.where(), batch_size=size, progress=progress, entry=entry
        )


def count_deletable(engine: Engine, flt: FlowRunFilter) -> int:
    """What ``delete_runs(flt)`` would delete now, without an audit entry: the
    dashboard's re-count just before it deletes what was previewed (a read, not a delete)."""
    return count_where(engine, bulk_delete_filter(flt).where())
