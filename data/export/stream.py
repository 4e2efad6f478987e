"""CSV export of a filtered view, streamed in chunks: flat memory whatever the row count
and whatever the payload size.

A chunk is one short read (newest first, keyset-continued from the previous chunk), so a
slow consumer never holds a transaction or SQLite's WAL open. It ends after
``chunk_size`` rows or once its text reaches ``CHUNK_CHARS``; rows are fetched in batches
sized from the longest line seen, so 2,000 runs of 200 KB cost as little memory as
2,000 small ones (issue 8: exporting 400 MB of payload used to take 5.45 GB).
On PostgreSQL a chunk is one COPY (``data.export.pgcopy``), sized the same way.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, or_, select
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from data.errors import InvalidQuery
from data.export import pgcopy
from data.export.sql import ABSENT, as_text, csv_line, register_sqlite_fallback, rendered_tables
from data.filters import FlowRunFilter
from data.models import Flow, FlowRun, User
from data.queries.listing import RUN_FIELDS
from data.rollup.sources import layout

EXPORT_COLUMNS: tuple[str, ...] = (*RUN_FIELDS, "total_tokens")
PAYLOAD_FIELDS = frozenset({"inputs", "outputs", "metadata"})
CHUNK_ROWS = 50_000  # most rows in one chunk (one read)
CHUNK_CHARS = 4 * 2**20  # a chunk ends once its text reaches this size
BATCH_CHARS = 2**20  # one fetch holds about this much text
# SQLite sizes a fetch from the rows seen so far, so runs that jump to big payloads can
# make one batch this many times their size; 256 rows cost no more CPU than 2,000.
MAX_BATCH_ROWS = 256
# Before any line was seen: payload columns may hold hundreds of KB per run.
FIRST_BATCH_ROWS = {True: 8, False: 256}
# Up to this many flows plus users, each SQLite chunk renders all of their cells first
# (measured: a gain up to a few hundred, a loss at 3,000: they are rendered per chunk).
MAX_PRERENDERED = 1000
LINE = itemgetter(0)


def validate_columns(columns: Iterable[str] | None) -> tuple[str, ...]:
    """The chosen columns in order, each once (``id,id,...`` asks for ``id``)."""
    if columns is None:
        return EXPORT_COLUMNS
    chosen = tuple(dict.fromkeys(columns))
    unknown = [c for c in chosen if c not in EXPORT_COLUMNS]
    if unknown:
        raise InvalidQuery(
            f"columns: unknown {', '.join(unknown)}; choose from {', '.join(EXPORT_COLUMNS)}"
        )
    if not chosen:
        raise InvalidQuery("columns: choose at least one column")
    return chosen


def export_statement(
    flt: FlowRunFilter, columns: tuple[str, ...], prerender: bool = True
) -> Select[Any]:
    """SQLite: (CSV line, stored started_at, stored id) of every matching run, newest
    first. With ``prerender`` flows and users are rendered once per chunk, not per run."""
    rendered = rendered_tables() if prerender else None
    statement = (
        select(
            csv_line(columns, rendered).label("line"),
            as_text(FlowRun.started_at).label("key_started"),
            as_text(FlowRun.id).label("key_id"),
        )
        .select_from(FlowRun)
        .outerjoin(Flow, Flow.id == FlowRun.flow_id)
        .outerjoin(User, User.id == FlowRun.user_id)
    )
    if rendered is not None:
        statement = statement.outerjoin(
            rendered.flows, rendered.flows.c.id == FlowRun.flow_id
        ).outerjoin(rendered.users, rendered.users.c.id == FlowRun.user_id)
    return statement.where(flt.where()).order_by(FlowRun.started_at.desc(), FlowRun.id.desc())


def _few_flows_and_users(engine: Engine) -> bool:
    counts = [select(func.count()).select_from(t).scalar_subquery() for t in (Flow, User)]
    with engine.connect() as conn:
        return int(conn.execute(select(counts[0] + counts[1])).scalar_one()) <= MAX_PRERENDERED


def older_than(started: Any, run_id: Any) -> ColumnElement[bool]:
    """SQLite: rows after (started, run_id) in newest-first order, compared as the stored
    text (a legacy time without microseconds still sorts right)."""
    started_col, id_col = as_text(FlowRun.started_at), as_text(FlowRun.id)
    # Expanded row comparison: both planners range-scan the started_at index.
    return and_(started_col <= started, or_(started_col < started, id_col < run_id))


@dataclass
class Chunk:
    text: str
    rows: int
    key: tuple[Any, Any] | None  # of the last row, where the next chunk starts
    batch_rows: int  # what the next fetch should ask for
    exhausted: bool  # no rows after this chunk


def _decoded(value: Any) -> Any:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


@contextmanager
def _raw_text(conn: Connection) -> Iterator[None]:
    """SQLite hands text over as bytes for the duration: no Python call per value (the
    engine's lenient text factory); each batch is decoded at once, leniently too."""
    driver = conn.connection.driver_connection
    register_sqlite_fallback(driver)
    factory = driver.text_factory  # type: ignore[union-attr]
    driver.text_factory = bytes  # type: ignore[union-attr]
    try:
        yield
    finally:
        driver.text_factory = factory  # type: ignore[union-attr]


def read_chunk(engine: Engine, statement: Select[Any], limit: int, batch_rows: int) -> Chunk:
    """SQLite: up to ``limit`` rows of ``statement``, stopping early at ``CHUNK_CHARS``."""
    pieces: list[str] = []
    size = rows_read = 0
    key = None
    exhausted = False
    with engine.connect() as conn, _raw_text(conn):
        # SQLite's cursor steps lazily and is read directly: no Row object per line
        # (a sixth of the time).
        fetchmany = conn.execute(statement.limit(limit)).cursor.fetchmany
        while size < CHUNK_CHARS and rows_read < limit:
            wanted = min(batch_rows, limit - rows_read)
            rows = fetchmany(wanted)
            exhausted = len(rows) < wanted
            if not rows:
                break
            lines = list(map(LINE, rows))
            longest = max(map(len, lines))
            joined = b"".join(lines)
            pieces.append(_decoded(joined))
            size += len(joined)
            rows_read += len(rows)
            key = (_decoded(rows[-1][1]), _decoded(rows[-1][2]))
            del rows, lines, joined
            batch_rows = max(1, min(MAX_BATCH_ROWS, BATCH_CHARS // max(longest, 1)))
    return Chunk("".join(pieces), rows_read, key, batch_rows, exhausted)


def _sqlite_chunks(
    engine: Engine, flt: FlowRunFilter, columns: tuple[str, ...], chunk_size: int
) -> Iterator[str]:
    base = export_statement(flt, columns, _few_flows_and_users(engine))
    statement = base
    batch_rows = FIRST_BATCH_ROWS[bool(PAYLOAD_FIELDS & set(columns))]
    while True:
        chunk = read_chunk(engine, statement, chunk_size, batch_rows)
        if chunk.text:
            yield chunk.text
        if chunk.key is None or chunk.exhausted:
            return
        statement = base.where(older_than(*chunk.key))
        batch_rows = chunk.batch_rows


def _postgres_chunks(
    engine: Engine, flt: FlowRunFilter, columns: tuple[str, ...], chunk_size: int
) -> Iterator[str]:
    command, after_key = pgcopy.copy_commands(engine, flt, columns)
    key = None
    limit = min(chunk_size, FIRST_BATCH_ROWS[bool(PAYLOAD_FIELDS & set(columns))])
    while True:
        chunk = pgcopy.read_copy_chunk(engine, command, key, limit, CHUNK_CHARS)
        if chunk.text:
            yield chunk.text
        if chunk.key is None or chunk.exhausted:
            return
        command, key = after_key, chunk.key
        limit = max(1, min(chunk_size, CHUNK_CHARS // max(chunk.longest, 1)))


def iter_csv(
    engine: Engine,
    flt: FlowRunFilter,
    *,
    columns: Iterable[str] | None = None,
    chunk_size: int = CHUNK_ROWS,
) -> Iterator[str]:
    """The header, then one CSV text block per chunk of runs (newest first)."""
    chosen = validate_columns(columns)
    if chunk_size < 1:
        raise InvalidQuery("chunk_size: must be at least 1")
    header = io.StringIO()
    # CRLF rows (RFC 4180): with "\n" the csv module left a bare "\r" inside a cell
    # unquoted, and readers split the row there.
    csv.writer(header, lineterminator="\r\n").writerow(chosen)
    yield header.getvalue()
    chunks = _postgres_chunks if engine.dialect.name == "postgresql" else _sqlite_chunks
    if not layout(engine).run_tokens:  # an empty cell, not an error: the header stays the same
        chosen = tuple(ABSENT if c == "total_tokens" else c for c in chosen)
    yield from chunks(engine, flt, chosen, chunk_size)
