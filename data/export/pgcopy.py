"""PostgreSQL: each chunk of the export is one ``COPY (SELECT ...) TO STDOUT (FORMAT csv)``.

The server renders the cells (``data.export.sql.pg_cells``) and COPY joins and quotes
them in C; Python receives one buffer per row and only cuts off the row's keyset key and
swaps COPY's LF row end for csv.writer's CRLF (a row's LF inside a quoted cell stays).
Each row ends with two key cells, ``started_at`` and ``id``, as COPY writes them:
neither holds a comma, and an id is always 36 characters, so the cells end at the comma
before the started_at text. The next chunk compares the stored columns with those texts
cast back to their types (the server parses its own output exactly).

A chunk stays one short read (a slow consumer never holds a transaction open) and its
text stays bounded: the row limit follows the longest line seen, and a chunk that still
outgrows ``chunk_chars`` is cut there (the rest of the COPY is cancelled and read again
by the next chunk).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Integer, String, Uuid, and_, bindparam, cast, or_, select
from sqlalchemy.dialects.postgresql import TIMESTAMP
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from data.export.sql import pg_cells
from data.filters import FlowRunFilter
from data.models import Flow, FlowRun, User

ID_CHARS = 36  # a uuid as COPY writes it
KEY_TAIL = ID_CHARS + 2  # ",<id>\n"
COMMA = ord(",")
LIMIT_PARAM = "export_limit"
KEY_PARAMS = ("export_after_started", "export_after_id")
BATCH_BYTES = 2**20  # rows cut and joined at once


class _ChunkFull(Exception):
    """Raised inside the COPY to stop it: psycopg then cancels the rest."""


@dataclass
class CopyChunk:
    text: str
    rows: int
    key: tuple[str, str] | None  # (started_at, id) texts of the last row
    longest: int  # bytes of the longest row read
    exhausted: bool  # the COPY ended before its row limit


def copy_statement(flt: FlowRunFilter, columns: tuple[str, ...]) -> Select[Any]:
    """Every matching run's cells, then its key cells, newest first."""
    return (
        select(*pg_cells(columns), FlowRun.started_at, FlowRun.id)
        .select_from(FlowRun)
        .outerjoin(Flow, Flow.id == FlowRun.flow_id)
        .outerjoin(User, User.id == FlowRun.user_id)
        .where(flt.where())
        .order_by(FlowRun.started_at.desc(), FlowRun.id.desc())
    )


def older_than() -> ColumnElement[bool]:
    """Rows after the key (``KEY_PARAMS``: texts read from COPY) in newest-first order."""
    started = cast(bindparam(KEY_PARAMS[0], "", type_=String), TIMESTAMP(timezone=True))
    run_id = cast(bindparam(KEY_PARAMS[1], "", type_=String), Uuid)
    # Expanded row comparison: the planner range-scans the started_at index.
    return and_(
        FlowRun.started_at <= started,
        or_(FlowRun.started_at < started, FlowRun.id < run_id),
    )


@dataclass(frozen=True)
class CopyCommand:
    """A COPY command and its parameters, compiled once for every chunk (compiling the
    cell expressions costs ~7 ms); ``LIMIT_PARAM`` and ``KEY_PARAMS`` change per chunk."""

    sql: str
    params: dict[str, Any]


def copy_commands(
    engine: Engine, flt: FlowRunFilter, columns: tuple[str, ...]
) -> tuple[CopyCommand, CopyCommand]:
    """The first chunk's command, and the command of every chunk after a key."""
    statement = copy_statement(flt, columns)
    first = statement.limit(bindparam(LIMIT_PARAM, 0, type_=Integer))
    after = statement.where(older_than()).limit(bindparam(LIMIT_PARAM, 0, type_=Integer))
    return _copy_command(engine, first), _copy_command(engine, after)


def _copy_command(engine: Engine, statement: Select[Any]) -> CopyCommand:
    """The COPY command and its parameters, processed as SQLAlchemy would for an execute
    (psycopg merges them client-side: COPY takes no server-side parameters)."""
    dialect = engine.dialect
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    params = dict(compiled.construct_params())
    for name, value in params.items():
        # An expanded IN list's values are named after its parameter: "<name>_<n>".
        bind = compiled.binds[name if name in compiled.binds else name.rsplit("_", 1)[0]]
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            params[name] = processor(value)
    return CopyCommand(f"COPY ({compiled.string}) TO STDOUT (FORMAT csv)", params)


def _cut(rows: list[bytes]) -> bytes:
    """The rows without their key cells, each ending in CRLF."""
    lines = [row[: row.rindex(COMMA, 0, -KEY_TAIL)] for row in rows]
    return b"\r\n".join(lines) + b"\r\n"


def _key(row: bytes) -> tuple[str, str]:
    started_end = len(row) - KEY_TAIL
    started = row[row.rindex(COMMA, 0, started_end) + 1 : started_end]
    return started.decode(), row[started_end + 1 : -1].decode()


def read_copy_chunk(
    engine: Engine,
    command: CopyCommand,
    key: tuple[str, str] | None,
    limit: int,
    chunk_chars: int,
) -> CopyChunk:
    """Up to ``limit`` rows of ``command`` after ``key``, cut once the text reaches
    ``chunk_chars``."""
    params = {**command.params, LIMIT_PARAM: limit}
    if key is not None:
        params.update(zip(KEY_PARAMS, key, strict=True))
    blocks: list[bytes] = []
    pending: list[bytes] = []
    size = rows_read = longest = pending_size = 0
    last = b""
    exhausted = True
    with engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            with cursor.copy(command.sql, params) as copy:
                for data in copy:
                    row = bytes(data)
                    pending.append(row)
                    pending_size += len(row)
                    if pending_size < BATCH_BYTES:
                        continue
                    size, longest = _flush(blocks, pending, size, longest)
                    last = pending[-1]
                    rows_read += len(pending)
                    pending, pending_size = [], 0
                    if size >= chunk_chars:
                        exhausted = False
                        raise _ChunkFull
        except _ChunkFull:
            pass
        finally:
            cursor.close()
        if pending:
            size, longest = _flush(blocks, pending, size, longest)
            last = pending[-1]
            rows_read += len(pending)
    if rows_read >= limit:
        exhausted = False
    text = b"".join(blocks).decode()
    return CopyChunk(text, rows_read, _key(last) if last else None, longest, exhausted)


def _flush(blocks: list[bytes], rows: list[bytes], size: int, longest: int) -> tuple[int, int]:
    block = _cut(rows)
    blocks.append(block)
    return size + len(block), max(longest, max(map(len, rows)))
