"""Bulk insert paths for demo chunks: COPY on PostgreSQL, raw executemany on SQLite, ORM
executemany elsewhere. Each turns the chunk's columns into its stored form with numpy
and C-level joins (no Python loop per row)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, insert

from data.demo.rows import COLUMNS, DemoChunk
from data.models import FlowRun

# COPY's text format: these characters in a value are written as escapes.
COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
COPY_NULL = "\\N"
# Columns written as numbers (COPY needs no escaping check for them).
NUMERIC_COLUMNS = frozenset(
    {"duration_ms", "components_executed", "runs", "duration_count", "duration_sum", "bucket"}
)
# SQLite's page cache while loading (KiB, negative = size): the session_id index takes
# random inserts; with the default 2 MB cache most of them missed it.
SQLITE_LOAD_CACHE_KIB = 256 * 1024


def time_texts(times: np.ndarray, separator: str, suffix: str) -> list[str | None]:
    """datetime64[us] -> "YYYY-MM-DD<separator>HH:MM:SS.ffffff<suffix>", None for NaT."""
    texts = np.datetime_as_string(times, unit="us").astype("U26")
    if separator != "T":
        # Overwrite the "T" in place: view the fixed-width strings as code points.
        texts.view(np.uint32).reshape(len(texts), 26)[:, 10] = ord(separator)
    values = np.strings.add(texts, suffix).astype(object)
    values[np.isnat(times)] = None
    result: list[str | None] = values.tolist()
    return result


def _copy_column(name: str, values: list[Any]) -> list[str]:
    """A column as COPY text: NULL as \\N, escapes only where a value needs them (then a
    stored "\\N" stays text)."""
    if name in NUMERIC_COLUMNS:
        return [COPY_NULL if v is None else str(v) for v in values]
    if any(c in "".join(filter(None, values)) for c in "\\\t\n\r"):
        values = [None if v is None else v.translate(COPY_ESCAPES) for v in values]
    return [COPY_NULL if v is None else v for v in values] if None in values else values


def copy_block(columns: dict[str, list[Any]]) -> str:
    """Columns (name -> values, in table order) as one block of COPY text."""
    texts = (_copy_column(name, values) for name, values in columns.items())
    return "\n".join(map("\t".join, zip(*texts, strict=True))) + "\n"


def prepared_rows(dialect: str, columns: dict[str, list[Any]]) -> Any:
    """Columns (name -> values in the stored form, numbers in ``NUMERIC_COLUMNS``) as
    what ``send_rows`` takes: row tuples for SQLite, one COPY text block for PostgreSQL."""
    if dialect == "sqlite":
        return list(zip(*columns.values(), strict=True))
    return copy_block(columns)


def send_rows(conn: Connection, table: str, names: Sequence[str], rows: Any) -> None:
    """Raw executemany on SQLite, COPY ... FROM STDIN on PostgreSQL."""
    quoted = ", ".join(f'"{c}"' for c in names)
    if conn.dialect.name == "sqlite":
        placeholders = ", ".join("?" for _ in names)
        conn.exec_driver_sql(f"INSERT INTO {table} ({quoted}) VALUES ({placeholders})", rows)
        return
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
        copy.write(rows)


def insert_rows(conn: Connection, table: str, columns: dict[str, list[Any]]) -> None:
    send_rows(conn, table, list(columns), prepared_rows(conn.dialect.name, columns))


def stored_columns(chunk: DemoChunk, dialect: str) -> dict[str, list[Any]]:
    """The chunk's columns in the stored form: times as naive (SQLite) or UTC text."""
    columns = dict(chunk.columns)
    for name in ("started_at", "ended_at"):
        columns[name] = time_texts(columns[name], " ", "" if dialect == "sqlite" else "+00")
    return {name: columns[name] for name in COLUMNS}


@dataclass(frozen=True)
class Writer:
    """Writes a chunk in two steps: ``prepare`` (no database; may run in another
    thread) and ``send``."""

    prepare: Callable[[DemoChunk], Any]
    send: Callable[[Connection, Any], None]

    def __call__(self, conn: Connection, chunk: DemoChunk) -> None:
        self.send(conn, self.prepare(chunk))


def _fast_writer(dialect: str) -> Writer:
    def prepare(chunk: DemoChunk) -> Any:
        return prepared_rows(dialect, stored_columns(chunk, dialect))

    def send(conn: Connection, rows: Any) -> None:
        send_rows(conn, "flow_run", COLUMNS, rows)

    return Writer(prepare, send)


def _insert_generic(conn: Connection, chunk: DemoChunk) -> None:
    """Any other backend: ORM-level executemany (slower, but portable)."""
    columns = chunk.columns
    records = []
    for i in range(len(chunk)):
        record = {("metadata_" if c == "metadata" else c): columns[c][i] for c in COLUMNS}
        for key in ("id", "flow_id", "user_id"):
            record[key] = uuid.UUID(record[key])
        for key in ("started_at", "ended_at"):
            value = record[key]
            record[key] = None if np.isnat(value) else value.astype("datetime64[us]").item()
        for key in ("inputs", "outputs", "metadata_"):
            if record[key] is not None:
                record[key] = json.loads(record[key])
        records.append(record)
    conn.execute(insert(FlowRun), records)


def writer_for(engine: Engine) -> Writer:
    if engine.dialect.name == "sqlite" or (
        engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"
    ):
        return _fast_writer(engine.dialect.name)
    return Writer(lambda chunk: chunk, _insert_generic)


@contextmanager
def loading(engine: Engine) -> Iterator[Connection]:
    """One connection for the whole load. SQLite gets a large page cache for its
    duration, and explicit transactions (``transaction``): Python's sqlite3 would
    otherwise run DDL outside the transaction. Both are reset afterwards: the pool hands
    the connection on."""
    with engine.connect() as conn:
        if engine.dialect.name != "sqlite":
            yield conn
            return
        driver: Any = conn.connection.driver_connection
        previous = conn.exec_driver_sql("PRAGMA cache_size").scalar()
        conn.commit()
        isolation = driver.isolation_level
        driver.isolation_level = None
        conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_LOAD_CACHE_KIB}")
        conn.commit()
        try:
            yield conn
        finally:
            conn.rollback()
            conn.exec_driver_sql(f"PRAGMA cache_size = {int(previous or -2000)}")
            driver.isolation_level = isolation
            conn.commit()


@contextmanager
def transaction(conn: Connection, immediate: bool = False) -> Iterator[None]:
    """A transaction on ``conn`` from ``loading``, also around DDL on SQLite;
    ``immediate``: holding SQLite's write lock from its start."""
    with conn.begin():
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
        yield
