"""The newest (or oldest) runs over a multi-value status or flow filter, read as one
index range per value and merged.

A status matches three stored spellings (data.statuses) and a flow filter may name
several flows. For ``status IN (a, b, c) ORDER BY started_at DESC LIMIT 51`` neither
planner merges the three ranges of the (status, started_at) index in order: both walk
the started_at index and filter, which reads most of the table for a rare status
(seconds at 5M runs). Here each stored value is its own branch, ordered by its index
and limited, and the branches are merged: at most branches x (offset + page) index
entries are read, at any cursor depth. The filter stays the one source of the WHERE
clause: a branch is the filter without its multi-value field, plus that field's value.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, select, union_all
from sqlalchemy.sql.elements import ColumnElement

from data.filters import FlowRunFilter
from data.models import Flow, FlowRun, User
from data.queries.cursors import stored_started_at
from data.statuses import stored_values

# More branches than this (a filter naming many statuses or flows) cost more to merge
# than the single ordered walk saves.
MAX_BRANCHES = 32


def page_branches(flt: FlowRunFilter) -> list[ColumnElement[bool]]:
    """The filter as disjoint conditions, each an equality on a leading index column
    (status, else flow), OR-ed equal to ``flt.where()``; empty when one range suffices."""
    statuses = stored_values(flt.statuses)
    if len(statuses) > 1:
        rest = flt.model_copy(update={"statuses": ()}).where()
        branches = [and_(rest, FlowRun.status == value) for value in statuses]
    elif len(flt.flow_ids) > 1:
        branches = [flt.model_copy(update={"flow_ids": (f,)}).where() for f in flt.flow_ids]
    else:
        return []
    return branches if len(branches) <= MAX_BRANCHES else []


def merged_keys(
    branches: list[ColumnElement[bool]],
    direction: str,
    after: ColumnElement[bool] | None,
    limit: int,
    offset: int,
) -> Select[Any]:
    """(id, started_at) of the page: each branch's first ``offset + limit`` in order,
    merged and cut to the page (``limit`` rows from ``offset``)."""

    def ordered(started_at: Any, run_id: Any) -> tuple[Any, Any]:
        if direction == "desc":
            return started_at.desc(), run_id.desc()
        return started_at.asc(), run_id.asc()

    parts = []
    for condition in branches:
        # The cursor first: SQLite seeks on the first bound it is given (listing.py).
        where = condition if after is None else and_(after, condition)
        branch = (
            select(FlowRun.id, FlowRun.started_at)
            .where(where)
            .order_by(*ordered(FlowRun.started_at, FlowRun.id))
            .limit(offset + limit)
            .subquery()
        )
        # Wrapped: SQLite accepts no ORDER BY/LIMIT on a member of a compound SELECT.
        parts.append(select(branch.c.id, branch.c.started_at))
    merged = union_all(*parts).subquery("branch_keys")
    return (
        select(merged.c.id, merged.c.started_at)
        .order_by(*ordered(merged.c.started_at, merged.c.id))
        .limit(limit)
        .offset(offset)
    )


def merged_page(
    branches: list[ColumnElement[bool]],
    columns: tuple[Any, ...],
    direction: str,
    after: ColumnElement[bool] | None,
    limit: int,
    offset: int,
) -> Select[Any]:
    """The page's ``columns`` (and its ``_sort_key``) for the keys ``merged_keys`` picks:
    only the page's rows are joined to their flow and user."""
    keys = merged_keys(branches, direction, after, limit, offset).subquery("page_keys")
    order = (keys.c.started_at, keys.c.id)
    return (
        select(*columns, stored_started_at(keys.c.started_at).label("_sort_key"))
        .select_from(keys)
        .join(FlowRun, FlowRun.id == keys.c.id)
        .outerjoin(Flow, Flow.id == FlowRun.flow_id)
        .outerjoin(User, User.id == FlowRun.user_id)
        .order_by(*(c.desc() if direction == "desc" else c.asc() for c in order))
    )
