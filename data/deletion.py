"""Deleting runs: one by id, or many in bounded batches (a transaction per batch)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Select, delete, func, select, text
from sqlalchemy.sql.elements import ColumnElement

from data.audit import AuditContext, AuditHandle, audited, filter_criteria
from data.errors import InvalidQuery
from data.filters import FlowRunFilter
from data.models import FlowRun, FlowRunStatus, utcnow
from data.queries.cursors import stored_started_at
from data.queries.listing import after_cursor
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


def next_batch(
    where: ColumnElement[bool], size: int, position: tuple[Any, uuid.UUID] | None
) -> Select[uuid.UUID, Any]:
    """(id, started_at) of the next ``size`` runs to delete, oldest first, after
    ``position`` (the last run deleted). Each batch starts where the previous one ended:
    on PostgreSQL the deleted rows stay in the table and its indexes until vacuumed, and
    a batch starting from the beginning again walked all of them (quadratic). The
    position is compared as the database sorts (SQLite: legacy text as stored)."""
    started = stored_started_at(FlowRun.started_at)
    query = select(FlowRun.id, started).where(where)
    if position is not None:
        query = query.where(after_cursor(started, "asc", *position))
    return query.order_by(FlowRun.started_at, FlowRun.id).limit(size)


def delete_where(
    engine: Engine,
    where: ColumnElement[bool],
    *,
    batch_size: int | None = None,
    progress: Progress | None = None,
    entry: AuditHandle | None = None,
) -> int:
    """Delete every run matching ``where``, ``batch_size`` rows per transaction.

    Short transactions keep writers unblocked; on SQLite the WAL is truncated after
    each batch, since with concurrent readers it otherwise grows without bound. The
    audit ``entry`` is updated inside each batch's transaction: it never disagrees
    with what was really deleted, even after a kill.
    """
    size = resolve_batch_size(batch_size)
    total = count_where(engine, where)
    if entry is not None:
        entry.matched = total
        entry.touch()
    deleted = 0
    position: tuple[Any, uuid.UUID] | None = None
    while deleted < total or total == 0:
        with engine.begin() as conn:
            batch = conn.execute(next_batch(where, size, position)).all()
            if not batch and position is not None:
                position = None  # one more pass from the start: runs that arrived behind it
                continue
            if not batch:
                break
            ids = [run_id for run_id, _ in batch]
            conn.execute(delete(FlowRun).where(FlowRun.id.in_(ids)))
            if entry is not None:
                entry.record_batch(conn, deleted + len(ids))
        deleted += len(ids)
        position = (batch[-1][1], batch[-1][0])
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        if progress is not None:
            progress(deleted, max(total, deleted))
    return deleted


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
