"""Bulk insert paths for demo chunks: COPY on PostgreSQL, raw executemany on SQLite, ORM
executemany elsewhere. Each turns the chunk's columns into its stored form with numpy
and C-level joins (no Python loop per row)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, insert

from data.demo.rows import COLUMNS, DemoChunk
from data.models import FlowRun

Writer = Callable[[Connection, DemoChunk], None]
# COPY's text format: these characters in a value are written as escapes.
COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
COPY_NULL = "\\N"
NUMERIC_COLUMNS = frozenset({"duration_ms", "components_executed"})
# SQLite's page cache while loading (KiB, negative = size): the session_id index takes
# random inserts; with the default 2 MB cache most of them missed it.
SQLITE_LOAD_CACHE_KIB = 256 * 1024


def _time_texts(times: np.ndarray, separator: str, suffix: str) -> list[str | None]:
    """datetime64[us] -> "YYYY-MM-DD<separator>HH:MM:SS.ffffff<suffix>", None for NaT."""
    texts = np.datetime_as_string(times, unit="us").astype("U26")
    if separator != "T":
        # Overwrite the "T" in place: view the fixed-width strings as code points.
        texts.view(np.uint32).reshape(len(texts), 26)[:, 10] = ord(separator)
    values = np.strings.add(texts, suffix).astype(object)
    values[np.isnat(times)] = None
    result: list[str | None] = values.tolist()
    return result


def _insert_sqlite(conn: Connection, chunk: DemoChunk) -> None:
    """Raw executemany in the stored representation (hex ids, naive UTC text)."""
    columns = dict(chunk.columns)
    for name in ("started_at", "ended_at"):
        columns[name] = _time_texts(columns[name], " ", "")
    placeholders = ", ".join("?" for _ in COLUMNS)
    statement = f"INSERT INTO flow_run ({', '.join(COLUMNS)}) VALUES ({placeholders})"
    conn.exec_driver_sql(statement, list(zip(*(columns[c] for c in COLUMNS), strict=True)))


def _copy_column(name: str, values: list[Any]) -> list[str]:
    """A column as COPY text: NULL as \\N, escapes only where a value needs them (then a
    stored "\\N" stays text)."""
    if name in NUMERIC_COLUMNS:
        return [COPY_NULL if v is None else str(v) for v in values]
    if any(c in "".join(filter(None, values)) for c in "\\\t\n\r"):
        values = [None if v is None else v.translate(COPY_ESCAPES) for v in values]
    return [COPY_NULL if v is None else v for v in values] if None in values else values


def _insert_postgres(conn: Connection, chunk: DemoChunk) -> None:
    """COPY ... FROM STDIN in text format, one block per chunk."""
    columns = dict(chunk.columns)
    for name in ("started_at", "ended_at"):
        columns[name] = _time_texts(columns[name], " ", "+00")
    lines = map("\t".join, zip(*(_copy_column(c, columns[c]) for c in COLUMNS), strict=True))
    data = "\n".join(lines) + "\n"
    names = ", ".join(f'"{c}"' for c in COLUMNS)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY flow_run ({names}) FROM STDIN") as copy:
        copy.write(data)


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
    if engine.dialect.name == "sqlite":
        return _insert_sqlite
    if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
        return _insert_postgres
    return _insert_generic


@contextmanager
def loading(engine: Engine) -> Iterator[Connection]:
    """One connection for the whole load. SQLite gets a large page cache for its
    duration (reset afterwards: the pool hands the connection on)."""
    with engine.connect() as conn:
        if engine.dialect.name != "sqlite":
            yield conn
            return
        previous = conn.exec_driver_sql("PRAGMA cache_size").scalar()
        conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_LOAD_CACHE_KIB}")
        conn.commit()
        try:
            yield conn
        finally:
            conn.rollback()
            conn.exec_driver_sql(f"PRAGMA cache_size = {int(previous or -2000)}")
            conn.commit()
