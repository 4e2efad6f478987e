"""Bulk insert paths for demo rows: raw executemany on SQLite, COPY on PostgreSQL, ORM
executemany elsewhere."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert

from data.db import session_scope
from data.demo.rows import COLUMNS
from data.models import FlowRun


def _insert_sqlite(engine: Engine, rows: list[tuple[Any, ...]]) -> None:
    """Raw executemany in the stored representation (hex ids, naive UTC text)."""

    def text_time(value: datetime | None) -> str | None:
        # isoformat is C-fast; its first 26 characters are the stored format (UTC values).
        if value is None:
            return None
        if value.microsecond:
            return value.isoformat(" ")[:26]
        return value.isoformat(" ")[:19] + ".000000"

    prepared = [
        (r[0].hex, r[1].hex, r[2].hex, r[3], r[4], text_time(r[5]), text_time(r[6]), *r[7:])
        for r in rows
    ]
    placeholders = ", ".join("?" for _ in COLUMNS)
    statement = f"INSERT INTO flow_run ({', '.join(COLUMNS)}) VALUES ({placeholders})"
    with engine.begin() as conn:
        conn.exec_driver_sql(statement, prepared)


def _insert_postgres(engine: Engine, rows: list[tuple[Any, ...]]) -> None:
    """COPY: several times faster than multi-row INSERT on PostgreSQL."""
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor:  # type: ignore[attr-defined]
            columns = ", ".join(f'"{c}"' for c in COLUMNS)
            with cursor.copy(f"COPY flow_run ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        raw.commit()
    finally:
        raw.close()


def _insert_generic(engine: Engine, rows: list[tuple[Any, ...]]) -> None:
    """Any other backend: ORM-level executemany (slower, but portable)."""
    keys = [("metadata_" if c == "metadata" else c) for c in COLUMNS]
    records = [dict(zip(keys, r, strict=True)) for r in rows]
    for record in records:
        for key in ("inputs", "outputs", "metadata_"):
            if record[key] is not None:
                record[key] = json.loads(record[key])
    with session_scope(engine) as session:
        session.execute(insert(FlowRun), records)


def writer_for(engine: Engine) -> Callable[[Engine, list[tuple[Any, ...]]], None]:
    if engine.dialect.name == "sqlite":
        return _insert_sqlite
    if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
        return _insert_postgres
    return _insert_generic
