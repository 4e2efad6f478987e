"""The "delete everything in disguise" guard for bulk deletes.

``bulk_delete_filter`` refuses an empty filter without ``all``; but a filter that
happens to match every deletable run (``older_than_days=0``, ``min_duration_ms=0``,
``started_after=1900-01-01``...) deletes just as much. This guard compares what the
request matches with everything deletable in the caller's scope and asks for ``all``
when they are the same.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Engine

from data.deletion import bulk_delete_filter, count_where
from data.errors import InvalidQuery
from data.filters import FlowRunFilter


def require_all_for_everything(
    engine: Engine,
    flt: FlowRunFilter,
    *,
    older_than_days: int | None = None,
    delete_all: bool = False,
    include_active: bool = False,
    scope_user_id: uuid.UUID | None = None,
) -> None:
    """``InvalidQuery`` when the request, without ``delete_all``, would delete every
    deletable run in scope (and at least one). Protections of ``bulk_delete_filter``
    (no filter, active statuses named) are raised first, unchanged."""
    effective = bulk_delete_filter(
        flt,
        older_than_days=older_than_days,
        delete_all=delete_all,
        include_active=include_active,
        scope_user_id=scope_user_id,
    )
    if delete_all:
        return
    matched = matches_every_deletable(
        engine, effective, include_active=include_active, scope_user_id=scope_user_id
    )
    if matched:
        raise InvalidQuery(
            f"refusing: this filter matches every deletable run ({matched}); "
            "pass all=true to delete them all"
        )


def matches_every_deletable(
    engine: Engine,
    effective: FlowRunFilter,
    *,
    include_active: bool = False,
    scope_user_id: uuid.UUID | None = None,
) -> int:
    """How many runs ``effective`` (a filter from ``bulk_delete_filter``) matches when
    that is every deletable run in scope, at least one; else 0. The dashboard asks this
    to show the warning before it asks for the explicit confirmation."""
    everything = bulk_delete_filter(
        FlowRunFilter(),
        delete_all=True,
        include_active=include_active,
        scope_user_id=scope_user_id,
    )
    matched = count_where(engine, effective.where())
    return matched if matched and matched == count_where(engine, everything.where()) else 0
