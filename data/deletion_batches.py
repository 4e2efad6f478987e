"""One batch of a bulk delete, per backend and schema: chosen oldest first after the
last run deleted, deleted in the caller's transaction; each returns (runs deleted, the
new position)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, Select, column, delete, func, insert, select, table
from sqlalchemy.sql.elements import ColumnElement, SQLColumnExpression

from data.models import FlowRun
from data.queries.cursors import stored_started_at
from data.queries.listing import after_cursor
from data.rollup.maintain import pause, resume, subtract_rows, token_shape

Position = tuple[Any, uuid.UUID] | None
"""(started_at as stored, id) of the last run deleted; None before the first batch."""


def next_batch(
    where: ColumnElement[bool], size: int, position: Position, *more: SQLColumnExpression[Any]
) -> Select[Any]:
    """(id, started_at, ``more``) of the next ``size`` runs to delete, oldest first, after
    ``position`` (the last run deleted). Each batch starts where the previous one ended:
    on PostgreSQL the deleted rows stay in the table and its indexes until vacuumed, and
    a batch starting from the beginning again walked all of them (quadratic). The
    position is compared as the database sorts (SQLite: legacy text as stored)."""
    started = stored_started_at(FlowRun.started_at)
    query = select(FlowRun.id, started, *more).where(where)
    if position is not None:
        query = query.where(after_cursor(started, "asc", *position))
    return query.order_by(FlowRun.started_at, FlowRun.id).limit(size)


# No declared types: SQLite copies each value exactly as stored (an affinity would turn
# another engine's odd started_at into text and put it in another rollup period). One
# table per shape of flow_run (with total_tokens or without): it lives per connection.
_KEY_COLUMNS = ("id", "started_at", "flow_id", "status", "trigger_type", "duration_ms")


def _doomed(tokens: bool) -> tuple[str, tuple[str, ...]]:
    """(name, columns) of the temporary table holding a batch's rows."""
    if tokens:
        return "flowrun_doomed_tokens", (*_KEY_COLUMNS, "total_tokens")
    return "flowrun_doomed", _KEY_COLUMNS


def delete_batch_by_ids(
    conn: Connection, where: ColumnElement[bool], size: int, position: Position
) -> tuple[int, Position]:
    """One SQLite batch, the rollup (if any) kept by the delete triggers."""
    batch = conn.execute(next_batch(where, size, position)).all()
    if not batch:
        return 0, position
    conn.execute(delete(FlowRun).where(FlowRun.id.in_([run_id for run_id, _ in batch])))
    return len(batch), (batch[-1][1], batch[-1][0])


def delete_batch_returning(
    conn: Connection, where: ColumnElement[bool], size: int, position: Position
) -> tuple[int, Position]:
    """One PostgreSQL batch, the rollup kept by its set-based statement trigger. One
    statement: the batch's ids never travel to Python and back (5,000 bound UUIDs and
    their parsing cost more than the delete itself); only the last row comes back."""
    chosen = next_batch(where, size, position).with_only_columns(FlowRun.id)
    gone = (
        delete(FlowRun)
        .where(FlowRun.id.in_(chosen.scalar_subquery()))
        .returning(FlowRun.id, stored_started_at(FlowRun.started_at).label("started"))
        .cte("gone")
    )
    last = conn.execute(
        select(func.count().over(), gone.c.id, gone.c.started)
        .order_by(gone.c.started.desc(), gone.c.id.desc())
        .limit(1)
    ).first()
    if last is None:
        return 0, position
    return int(last[0]), (last[2], last[1])


def delete_batch_subtracting(
    conn: Connection, where: ColumnElement[bool], size: int, position: Position
) -> tuple[int, Position]:
    """One batch on SQLite, the rollup kept set-based (see data.rollup.schema): the
    pause row is written first, so the batch is chosen under the write lock and no
    other writer can change its rows between the choice, the rollup and the delete."""
    pause(conn)
    counted = token_shape(conn) == "counted"
    name, columns = _doomed(counted)
    doomed = f"temp.{name}"
    # Per connection (the pool may hand out another one next batch); a no-op once made.
    conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {name} ({', '.join(columns)})")
    extra = [FlowRun.flow_id, FlowRun.status, FlowRun.trigger_type, FlowRun.duration_ms]
    if counted:
        extra.append(FlowRun.total_tokens)
    chosen = next_batch(where, size, position, *extra)
    target = table(name, *(column(c) for c in columns), schema="temp")
    conn.execute(insert(target).from_select(columns, chosen))
    last = conn.exec_driver_sql(
        f"SELECT (SELECT count(*) FROM {doomed}) AS n, id, started_at FROM {doomed}"
        " ORDER BY rowid DESC LIMIT 1"
    ).first()
    if last is not None:
        subtract_rows(conn, doomed)
        conn.exec_driver_sql(f"DELETE FROM flow_run WHERE id IN (SELECT id FROM {doomed})")
        position = (last.started_at, uuid.UUID(last.id))
    conn.exec_driver_sql(f"DELETE FROM {doomed}")
    resume(conn)
    return (last.n if last is not None else 0), position
