"""Writing what the sync read into our tables: runs (upserted by id, so a rerun after a
kill writes the same rows again), their steps (replaced whole), and, when our database is
another one than Langflow's, the flows and their owners (names kept current, never
deleted: our history outlives theirs)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from data.models import Flow, FlowRun, User
from data.rollup.sources import layout
from data.steps.tables import Step
from data.types import as_utc

RUNS: Table = FlowRun.__table__  # type: ignore[assignment]
STEPS: Table = Step.__table__  # type: ignore[assignment]
FINAL = ("success", "failure", "cancelled", "unset")


def _insert(conn: Connection, table: Table) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


def synced_already(conn: Connection, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these runs we hold in a final state (a trace is never updated later)."""
    if not ids:
        return set()
    query = select(FlowRun.id).where(FlowRun.id.in_(ids), FlowRun.status.in_(FINAL))
    return set(conn.execute(query).scalars())


def upsert_runs(conn: Connection, runs: Sequence[dict[str, Any]]) -> None:
    """Insert or replace each run (the running stand-in of a job in flight becomes the run).

    RETURNING makes SQLAlchemy send the rows as multi-row statements ("insertmanyvalues",
    up to 1,000 rows each): psycopg's own executemany runs one statement per row, and
    PostgreSQL's statement-level rollup triggers on flow_run then ran once per run (~5 ms
    each: ~150 runs/s; bench/sync_bench.py). A statement affects one row per id, so a
    batch holds each id once."""
    if not runs:
        return
    rows = list({run["id"]: _stored(conn, run) for run in runs}.values())
    statement = _insert(conn, RUNS)
    names = [c for c in rows[0] if c != "id"]
    columns = {RUNS.c[_column(name)].key: statement.excluded[_column(name)] for name in names}
    upsert = statement.on_conflict_do_update(index_elements=["id"], set_=columns)
    conn.execute(upsert.returning(RUNS.c.id), rows).close()


def _column(name: str) -> str:
    return "metadata" if name == "metadata_" else name


def _stored(conn: Connection, run: dict[str, Any]) -> dict[str, Any]:
    row = {_column(k): v for k, v in run.items()}
    if not layout(conn.engine).run_tokens:
        row.pop("total_tokens", None)  # another application's flow_run records no tokens
    return row


def replace_steps(
    conn: Connection, run_ids: Sequence[uuid.UUID], steps: list[dict[str, Any]]
) -> None:
    if not run_ids:
        return
    conn.execute(delete(Step).where(Step.run_id.in_(run_ids)))
    if steps:  # no triggers here: psycopg's pipelined executemany is the faster way
        conn.execute(_insert(conn, STEPS), steps)


def finish_placeholder(conn: Connection, run_id: uuid.UUID, values: dict[str, Any]) -> bool:
    """Close a placeholder still running (a job that ended without a trace of its id)."""
    result = conn.execute(
        update(FlowRun).where(FlowRun.id == run_id, FlowRun.status == "running").values(**values)
    )
    return bool(result.rowcount)


def drop_placeholder(conn: Connection, run_id: uuid.UUID) -> None:
    """A playground build's job: its run arrives with the trace's own id."""
    conn.execute(
        delete(FlowRun).where(
            FlowRun.id == run_id,
            FlowRun.status == "running",
            FlowRun.trigger_type == "api",
        )
    )


def copy_users(conn: Connection, users: Iterable[Any]) -> None:
    """Langflow's users into ours (never their password hashes)."""
    for row in users:
        user_id = uuid.UUID(str(row.id))
        name = str(row.username)
        with conn.begin_nested():
            taken = conn.execute(
                select(User.id).where(User.username == name, User.id != user_id)
            ).first()
            if taken:  # another source's user holds the name here
                name = f"{name} ({user_id.hex[:8]})"
            values = {"username": name, "is_active": bool(row.is_active)}
            statement = _insert(conn, User.__table__).values(  # type: ignore[arg-type]
                id=user_id, password="", is_superuser=bool(row.is_superuser), **values
            )
            conn.execute(statement.on_conflict_do_update(index_elements=["id"], set_=values))


def copy_flows(conn: Connection, flows: Iterable[Any]) -> None:
    """Langflow's flows into ours: new ones added, renamed ones renamed."""
    for row in flows:
        flow_id = uuid.UUID(str(row.id))
        owner = None if row.user_id is None else uuid.UUID(str(row.user_id))
        values = {"name": str(row.name), "user_id": owner, "updated_at": _updated(row.updated_at)}
        for name in (values["name"], f"{values['name']} ({flow_id.hex[:8]})"):
            try:
                with conn.begin_nested():
                    statement = _insert(conn, Flow.__table__).values(  # type: ignore[arg-type]
                        id=flow_id, **{**values, "name": name}
                    )
                    conn.execute(
                        statement.on_conflict_do_update(
                            index_elements=["id"], set_={**values, "name": name}
                        )
                    )
                break
            except IntegrityError:
                continue  # the owner has another flow of that name here (renamed in Langflow)


def _updated(value: Any) -> datetime:
    if isinstance(value, datetime):
        return as_utc(value)
    try:
        return as_utc(datetime.fromisoformat(str(value)))
    except ValueError:
        return as_utc(datetime(1970, 1, 1))


def known_flows(conn: Connection, flow_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    ids = list(flow_ids)
    if not ids:
        return set()
    return set(conn.execute(select(Flow.id).where(Flow.id.in_(ids))).scalars())
