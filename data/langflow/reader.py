"""Reading Langflow's rows: traces in the order they were written, their spans, job rows,
flows and their owners. Plain SELECTs through the source's read-only engine.

Langflow writes a run's trace once, when the run ends, and never updates it; ``trace``
has no index on its times (docs/langflow-source.md). New traces are found by where they
were written instead: SQLite's ``rowid`` (writers are serialised, so a later commit has a
higher rowid) and PostgreSQL's physical position (``ctid``: new rows go to the end of
the heap, read with a TID range scan). Each pass starts a little before where the last
one ended (two PostgreSQL writers may commit out of order; a deleted last row lets SQLite
reuse its rowid), skips runs it already has, and a periodic full pass finds any trace
written into space that deleted traces freed. A pass therefore costs what was written
since the last one, not the whole history.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, text

from data.json_values import tolerant_loads
from data.langflow.source import Source
from data.types import as_utc

# How far before the last position each pass starts again.
SQLITE_OVERLAP_ROWS = 500
PG_OVERLAP_PAGES = 16
TRACE_COLUMNS = (
    "id, name, status, start_time, end_time, total_latency_ms, total_tokens, flow_id, session_id"
)


@dataclass(frozen=True)
class Trace:
    position: int  # rowid (SQLite) or heap page (PostgreSQL)
    id: uuid.UUID
    name: str | None
    status: str
    start_time: datetime | None
    end_time: datetime | None
    total_latency_ms: Any
    total_tokens: Any
    flow_id: uuid.UUID | None
    session_id: str | None


def as_uuid(value: Any) -> uuid.UUID | None:
    """A Langflow id (uuid on PostgreSQL, 32-hex text on SQLite); None if it is none."""
    if value is None or isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def as_time(value: Any) -> datetime | None:
    """A time as stored (timestamptz, naive UTC, or ISO text); None if unreadable."""
    if isinstance(value, datetime):
        return as_utc(value)
    if value is None:
        return None
    try:
        return as_utc(datetime.fromisoformat(str(value)))
    except ValueError:
        return None


def as_json(value: Any) -> Any:
    """JSON as stored: parsed already (psycopg) or text (SQLite), read leniently."""
    if isinstance(value, str | bytes):
        return tolerant_loads(value)
    return value


def _position(source: Source) -> str:
    if source.engine.dialect.name == "postgresql":
        return "(ctid::text::point)[0]::bigint"
    return "rowid"


def start_of_pass(source: Source, saved: int | None) -> int:
    """Where a pass starts: a little before the saved position (0 for a full pass)."""
    if saved is None:
        return 0
    overlap = (
        PG_OVERLAP_PAGES if source.engine.dialect.name == "postgresql" else SQLITE_OVERLAP_ROWS
    )
    return max(0, saved - overlap)


def end_of_pass(conn: Connection, source: Source) -> int:
    """Where a pass stops once a batch reaches it: the highest rowid when it starts, or
    the first heap page that did not exist yet (the last page may still be filling). So
    Langflow writing without a pause cannot keep one pass going: what arrives later is
    the next pass's."""
    if source.engine.dialect.name == "postgresql":
        query = "SELECT pg_relation_size('trace') / current_setting('block_size')::int"
    else:
        query = "SELECT coalesce(max(rowid), 0) FROM trace"
    return int(conn.execute(text(query)).scalar_one() or 0)


def traces_after(
    conn: Connection, source: Source, after: tuple[int, Any] | None, start: int, limit: int
) -> tuple[list[Trace], tuple[int, Any] | None]:
    """The next ``limit`` traces in written order from ``start`` (a rowid or page), or after
    the exact ``after`` key of the previous batch; with the key of the last one read."""
    postgres = source.engine.dialect.name == "postgresql"
    key = "ctid" if postgres else "rowid"
    if after is None:
        where = f"ctid >= CAST('({start},0)' AS tid)" if postgres else "rowid >= :start"
        params: dict[str, Any] = {"start": start}
    else:
        where = f"{key} > CAST(:after AS tid)" if postgres else "rowid > :after"
        params = {"after": after[1]}
    query = (
        f"SELECT {_position(source)} AS position, {key}::text AS exact, {TRACE_COLUMNS}"
        if postgres
        else f"SELECT rowid AS position, rowid AS exact, {TRACE_COLUMNS}"
    )
    rows = conn.execute(
        text(f"{query} FROM trace WHERE {where} ORDER BY {key} LIMIT :limit"),
        {**params, "limit": limit},
    ).all()
    traces = [_trace(row) for row in rows]
    last = (int(rows[-1].position), rows[-1].exact) if rows else None
    return [t for t in traces if t is not None], last


def _trace(row: Any) -> Trace | None:
    run_id = as_uuid(row.id)
    if run_id is None:
        return None  # no id we can store: nothing to key the run on
    return Trace(
        position=int(row.position),
        id=run_id,
        name=row.name,
        status=str(row.status or "").lower(),
        start_time=as_time(row.start_time),
        end_time=as_time(row.end_time),
        total_latency_ms=row.total_latency_ms,
        total_tokens=row.total_tokens,
        flow_id=as_uuid(row.flow_id),
        session_id=None if row.session_id is None else str(row.session_id),
    )


def _ids(source: Source, ids: Iterable[uuid.UUID]) -> list[Any]:
    """Ids as the source stores them (uuid on PostgreSQL, 32-hex text on SQLite)."""
    if source.engine.dialect.name == "postgresql":
        return list(ids)
    return [i.hex for i in ids]


def spans_of(conn: Connection, source: Source, trace_ids: Sequence[uuid.UUID]) -> list[Any]:
    """Every span of these traces (rows with decoded ids, times and JSON)."""
    if not trace_ids:
        return []
    query = text(
        "SELECT id, trace_id, parent_span_id, name, span_type, status, start_time, end_time,"
        " latency_ms, inputs, outputs, error, attributes FROM span"
        " WHERE trace_id IN :ids"
    ).bindparams(bindparam("ids", expanding=True))
    return list(conn.execute(query, {"ids": _ids(source, trace_ids)}).all())


def jobs_of(conn: Connection, source: Source, job_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """job id -> status, for those of these ids that have a job row."""
    if not source.has_jobs or not job_ids:
        return {}
    query = text("SELECT job_id, status FROM job WHERE job_id IN :ids").bindparams(
        bindparam("ids", expanding=True)
    )
    found = conn.execute(query, {"ids": _ids(source, job_ids)}).all()
    return {j: str(s).lower() for j, s in ((as_uuid(r[0]), r[1]) for r in found) if j}


JOB_COLUMNS = "job_id, flow_id, status, created_timestamp, finished_timestamp"


def jobs_in_flight(conn: Connection, source: Source) -> list[Any]:
    """Workflow jobs queued or running now (the status index answers it)."""
    if not source.has_jobs:
        return []
    # The status index answers it. PostgreSQL's enum has only the lower-case labels (and
    # refuses a comparison with another); SQLite may hold older releases' upper case.
    labels = ["queued", "in_progress"]
    if source.engine.dialect.name == "sqlite":
        labels += [label.upper() for label in labels]
    query = text(f"SELECT {JOB_COLUMNS} FROM job WHERE status IN :labels").bindparams(
        bindparam("labels", expanding=True)
    )
    return list(conn.execute(query, {"labels": labels}).all())


def jobs_by_id(conn: Connection, source: Source, job_ids: Sequence[uuid.UUID]) -> list[Any]:
    if not source.has_jobs or not job_ids:
        return []
    query = text(f"SELECT {JOB_COLUMNS} FROM job WHERE job_id IN :ids").bindparams(
        bindparam("ids", expanding=True)
    )
    return list(conn.execute(query, {"ids": _ids(source, job_ids)}).all())


def flows_of(conn: Connection, source: Source, flow_ids: Iterable[uuid.UUID]) -> list[Any]:
    """(id, name, user_id, updated_at) of these flows, or of every flow when None."""
    ids = list(flow_ids)
    if not ids:
        return []
    query = text("SELECT id, name, user_id, updated_at FROM flow WHERE id IN :ids").bindparams(
        bindparam("ids", expanding=True)
    )
    return list(conn.execute(query, {"ids": _ids(source, ids)}).all())


def all_flows(conn: Connection) -> list[Any]:
    return list(conn.execute(text("SELECT id, name, user_id, updated_at FROM flow")).all())


def users_of(conn: Connection, source: Source, user_ids: Iterable[uuid.UUID]) -> list[Any]:
    """(id, username, is_active, is_superuser): never the password hashes."""
    ids = list(user_ids)
    if not ids:
        return []
    query = text(
        'SELECT id, username, is_active, is_superuser FROM "user" WHERE id IN :ids'
    ).bindparams(bindparam("ids", expanding=True))
    return list(conn.execute(query, {"ids": _ids(source, ids)}).all())


def flow_traced_between(
    conn: Connection, source: Source, flow_id: uuid.UUID, start: datetime, end: datetime
) -> bool:
    """Whether the flow has a trace that started between two instants (a playground
    build's own trace, whose id is not its job's)."""
    query = text(
        "SELECT 1 FROM trace WHERE flow_id = :flow AND start_time >= :start"
        " AND start_time <= :end LIMIT 1"
    )
    [flow] = _ids(source, [flow_id])
    bounds: dict[str, Any] = {"start": start, "end": end}
    if source.engine.dialect.name == "sqlite":  # compared as Langflow's naive UTC text
        bounds = {k: as_utc(v).strftime("%Y-%m-%d %H:%M:%S.%f") for k, v in bounds.items()}
    return conn.execute(query, {"flow": flow, **bounds}).first() is not None


def trace_exists(conn: Connection, source: Source, trace_id: uuid.UUID) -> bool:
    [key] = _ids(source, [trace_id])
    return conn.execute(text("SELECT 1 FROM trace WHERE id = :id"), {"id": key}).first() is not None
