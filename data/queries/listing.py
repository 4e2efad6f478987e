"""Listing runs: sorted pages (offset or keyset cursor), counts, one run, streaming."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import pandas as pd
from sqlalchemy import Engine, SQLColumnExpression, Text, and_, cast, func, literal, or_, select
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from data.errors import InvalidQuery
from data.filters import FlowRunFilter
from data.models import Flow, FlowRun, User
from data.queries.cursors import decode_cursor, encode_cursor, stored_started_at
from data.queries.page_branches import merged_page, page_branches
from data.queries.records import RunRecord, to_record
from data.rollup.reader import matching_runs, route
from data.rollup.sources import layout

MAX_PAGE_SIZE = 500
SortDirection = Literal["asc", "desc"]

# Whitelisted sort keys -> the expression ordered by. Nullable durations sort as -1 so a
# keyset cursor can compare them; started_at is compared as SQLite sorts it (stored text).
SORT_KEYS: dict[str, SQLColumnExpression[Any]] = {
    "started_at": stored_started_at(FlowRun.started_at),
    "duration_ms": func.coalesce(FlowRun.duration_ms, literal(-1)),
    "status": FlowRun.status,
    # A run whose flow is gone (deleted by the application that owns `flow`) sorts as "".
    "flow_name": func.coalesce(Flow.name, literal("")),
    "trigger_type": FlowRun.trigger_type,
}

SUMMARY_COLUMNS = (
    FlowRun.id,
    FlowRun.flow_id,
    Flow.name.label("flow_name"),
    FlowRun.user_id,
    User.username.label("username"),
    FlowRun.session_id,
    FlowRun.status,
    FlowRun.trigger_type,
    FlowRun.started_at,
    FlowRun.ended_at,
    FlowRun.duration_ms,
    FlowRun.components_executed,
    FlowRun.error_type,
    FlowRun.error_message,
)
PAYLOAD_COLUMNS = (FlowRun.inputs, FlowRun.outputs, FlowRun.metadata_.label("metadata"))
# The same columns as the database's JSON text: exports skip a decode/encode round trip.
PAYLOAD_TEXT_COLUMNS = (
    cast(FlowRun.inputs, Text).label("inputs"),
    cast(FlowRun.outputs, Text).label("outputs"),
    cast(FlowRun.metadata_, Text).label("metadata"),
)
RUN_FIELDS = tuple(c.key for c in SUMMARY_COLUMNS + PAYLOAD_COLUMNS)


@dataclass(frozen=True)
class RunPage:
    runs: list[RunRecord]
    next_cursor: str | None

    def to_frame(self) -> pd.DataFrame:
        columns = [c.key for c in SUMMARY_COLUMNS] + ["total_tokens"]
        return pd.DataFrame([r.model_dump() for r in self.runs], columns=columns or None)


def _columns(
    include_payloads: bool, payloads_as_text: bool = False, tokens: bool = False
) -> tuple[Any, ...]:
    """``tokens``: flow_run has total_tokens (data.rollup.sources.Layout.run_tokens)."""
    payloads = PAYLOAD_TEXT_COLUMNS if payloads_as_text else PAYLOAD_COLUMNS
    counted = (FlowRun.total_tokens,) if tokens else ()
    return SUMMARY_COLUMNS + counted + (payloads if include_payloads else ())


def _base_select(
    flt: FlowRunFilter,
    include_payloads: bool,
    payloads_as_text: bool = False,
    after: ColumnElement[bool] | None = None,
    tokens: bool = False,
) -> Select[Any]:
    # The cursor's bound goes first: of two upper (or lower) bounds on the sorted column,
    # SQLite seeks on the first one it is given. After the filter's range end it walked
    # every row between that end and the cursor (26 ms at page 4,400 of a flow at 1M
    # runs; 0.1 ms from the cursor).
    where = flt.where() if after is None else and_(after, flt.where())
    return (
        select(*_columns(include_payloads, payloads_as_text, tokens))
        .outerjoin(Flow, Flow.id == FlowRun.flow_id)
        .outerjoin(User, User.id == FlowRun.user_id)
        .where(where)
    )


def after_cursor(
    sort_expr: SQLColumnExpression[Any], direction: str, key: Any, run_id: uuid.UUID
) -> ColumnElement[bool]:
    # Expanded row comparison (k, id) < (key, id): lets both planners range-scan on k.
    if direction == "desc":
        return and_(sort_expr <= key, or_(sort_expr < key, FlowRun.id < run_id))
    return and_(sort_expr >= key, or_(sort_expr > key, FlowRun.id > run_id))


def _validate_page(sort: str, direction: str, limit: int, offset: int) -> SQLColumnExpression[Any]:
    if sort not in SORT_KEYS:
        raise InvalidQuery(f"order_by: must be one of {', '.join(SORT_KEYS)}")
    if direction not in ("asc", "desc"):
        raise InvalidQuery("order_dir: must be 'asc' or 'desc'")
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidQuery(f"limit: must be between 1 and {MAX_PAGE_SIZE}")
    if offset < 0:
        raise InvalidQuery("offset: must be 0 or more")
    return SORT_KEYS[sort]


def page_statement(
    flt: FlowRunFilter,
    *,
    sort: str = "started_at",
    direction: str = "desc",
    limit: int = 50,
    offset: int = 0,
    cursor: str | None = None,
    include_payloads: bool = False,
    tokens: bool = False,
) -> Select[Any]:
    """The SELECT behind ``list_runs`` (one row more than ``limit``, to detect a next page);
    public so tests can EXPLAIN the real statement."""
    sort_expr = _validate_page(sort, direction, limit, offset)
    if cursor and offset:
        raise InvalidQuery("offset: use either a cursor or an offset, not both")
    after = None
    if cursor:
        key, run_id = decode_cursor(cursor, sort, direction)
        after = after_cursor(sort_expr, direction, key, run_id)
    branches = page_branches(flt) if sort == "started_at" else []
    if branches:
        columns = _columns(include_payloads, tokens=tokens)
        return merged_page(branches, columns, direction, after, limit + 1, offset)
    query = _base_select(flt, include_payloads, after=after, tokens=tokens)
    order = (
        (sort_expr.desc(), FlowRun.id.desc())
        if direction == "desc"
        else (sort_expr.asc(), FlowRun.id.asc())
    )
    query = query.add_columns(sort_expr.label("_sort_key")).order_by(*order)
    return query.limit(limit + 1).offset(offset)


def list_runs(
    engine: Engine,
    flt: FlowRunFilter,
    *,
    sort: str = "started_at",
    direction: str = "desc",
    limit: int = 50,
    offset: int = 0,
    cursor: str | None = None,
    include_payloads: bool = False,
) -> RunPage:
    """One page of runs. With ``cursor`` (from a previous page) paging is keyset-based:
    constant time at any depth and stable while new runs arrive."""
    query = page_statement(
        flt,
        sort=sort,
        direction=direction,
        limit=limit,
        offset=offset,
        cursor=cursor,
        include_payloads=include_payloads,
        tokens=layout(engine).run_tokens,
    )
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    has_more = len(rows) > limit
    rows = rows[:limit]
    runs = [to_record(row) for row in rows]
    next_cursor = None
    if has_more and rows:
        last = rows[-1]
        next_cursor = encode_cursor(sort, direction, last["_sort_key"], last["id"])
    return RunPage(runs=runs, next_cursor=next_cursor)


def count_statement(flt: FlowRunFilter) -> Select[Any]:
    return select(func.count()).select_from(FlowRun).where(flt.where())


def count_runs(engine: Engine, flt: FlowRunFilter, *, exact: bool = False) -> int:
    """How many runs match; exact either way. From the rollup's per-period counts when
    it can answer the filter (data.rollup.routing: a few thousand rows whatever the
    history), else from raw rows; ``exact=True`` forces raw rows."""
    grain = route(engine, flt, exact)
    if grain is not None:
        return matching_runs(engine, grain, flt)
    query = count_statement(flt)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def get_run(
    engine: Engine, run_id: uuid.UUID, flt: FlowRunFilter | None = None
) -> RunRecord | None:
    """The run, or ``None`` if it does not exist or ``flt`` (e.g. a user scope) excludes it."""
    tokens = layout(engine).run_tokens
    query = _base_select(flt or FlowRunFilter(), True, tokens=tokens).where(FlowRun.id == run_id)
    with engine.connect() as conn:
        row = conn.execute(query).mappings().first()
    return None if row is None else to_record(row)


def iter_runs(
    engine: Engine,
    flt: FlowRunFilter,
    *,
    chunk_size: int = 5000,
    include_payloads: bool = True,
    payloads_as_text: bool = False,
) -> Iterator[list[dict[str, Any]]]:
    """Every matching run, newest first, in chunks: memory stays flat whatever the count.
    With ``payloads_as_text`` the JSON columns come back as their JSON text.

    Keyset chunks, each its own short read, so a slow consumer never holds a
    transaction (or SQLite's WAL) open for the whole export.
    """
    sort_key = SORT_KEYS["started_at"]
    key: tuple[Any, uuid.UUID] | None = None
    while True:
        after = None if key is None else after_cursor(sort_key, "desc", *key)
        query = _base_select(flt, include_payloads, payloads_as_text, after)
        query = query.add_columns(sort_key.label("_sort_key"))
        query = query.order_by(sort_key.desc(), FlowRun.id.desc()).limit(chunk_size)
        with engine.connect() as conn:
            rows = [dict(row) for row in conn.execute(query).mappings()]
        if not rows:
            return
        key = (rows[-1]["_sort_key"], rows[-1]["id"])
        for row in rows:
            del row["_sort_key"]
        yield rows
        if len(rows) < chunk_size:
            return


class FlowChoice(NamedTuple):
    id: uuid.UUID
    name: str
    owner: str | None  # the owner's username; None for flows without (or with a gone) owner


def list_flow_choices(engine: Engine, user_id: uuid.UUID | None = None) -> list[FlowChoice]:
    """Every flow with its owner, by name: names repeat across owners, so pickers need
    the owner (and the id) to tell flows apart."""
    query = (
        select(Flow.id, Flow.name, User.username)
        .outerjoin(User, User.id == Flow.user_id)
        .order_by(Flow.name, Flow.id)
    )
    if user_id is not None:
        query = query.where(Flow.user_id == user_id)
    with engine.connect() as conn:
        return [FlowChoice(row.id, row.name, row.username) for row in conn.execute(query)]


def list_flows(engine: Engine, user_id: uuid.UUID | None = None) -> list[tuple[uuid.UUID, str]]:
    """(id, name) of every flow, by name; for filter pickers."""
    return [(flow.id, flow.name) for flow in list_flow_choices(engine, user_id)]


def list_users(engine: Engine) -> list[tuple[uuid.UUID, str]]:
    """(id, username) of every user, by username; for the user filter picker."""
    query = select(User.id, User.username).order_by(User.username, User.id)
    with engine.connect() as conn:
        return [(row.id, row.username) for row in conn.execute(query)]
