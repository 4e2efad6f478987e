"""``flowruns doctor``: every stored value that readers cannot read as its type, named by
table, row and column with the value as safe text (issue 18.1).

Reads show such a value flagged and go on (data.stored_time); this finds them all so
that they can be fixed at the source. A time is unreadable when it is no time a reader
can hold: on SQLite any text that is not an ISO date-time, an integer, a blob; on
PostgreSQL ``infinity`` and ``-infinity``. On SQLite a duration that is not a whole
number is too (it counts as a run without a duration).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Engine, Table, and_, func, not_, or_, select, type_coerce
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import String

from data.model_base import Base
from data.stored_time import UnreadableTime, shown
from data.types import UTCDateTime

# Derived tables: `flowruns rollup rebuild` rewrites them from flow_run.
DERIVED_PREFIX = "flowrun_rollup"
DATE_GLOB = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*"


@dataclass(frozen=True)
class BadValue:
    table: str
    row: str  # the primary key, as text
    column: str
    stored: str  # the value as safe text (data.stored_time.shown)

    def __str__(self) -> str:
        return f"{self.table} {self.row} {self.column}: {self.stored}"


def _suspect_time(dialect: str, column: Column[Any]) -> ColumnElement[bool]:
    """SQL: ``column`` may be unreadable (confirmed by decoding it); a cheap superset."""
    if dialect == "postgresql":
        return not_(func.isfinite(column))
    text = type_coerce(column, String())
    # strftime of the date part differs for a date SQLite normalises (2026-02-30).
    return or_(
        func.typeof(column) != "text",
        not_(text.op("GLOB", is_comparison=True)(DATE_GLOB)),
        func.julianday(text).is_(None),
        func.strftime("%Y-%m-%d", text) != func.substr(text, 1, 10),
    )


def _key(table: Table) -> Column[Any] | None:
    keys = list(table.primary_key.columns)
    return keys[0] if len(keys) == 1 else None


def _checked_columns(engine: Engine) -> Iterator[tuple[Table, Column[Any], Column[Any]]]:
    present = set(Base.metadata.tables) & _existing_tables(engine)
    for name in sorted(present):
        table = Base.metadata.tables[name]
        key = _key(table)
        if key is None or name.startswith(DERIVED_PREFIX):
            continue
        for column in table.columns:
            if isinstance(column.type, UTCDateTime) or (
                name == "flow_run" and column.name == "duration_ms"
            ):
                yield table, key, column


def _existing_tables(engine: Engine) -> set[str]:
    from sqlalchemy import inspect

    return set(inspect(engine).get_table_names())


def _present_columns(engine: Engine, table: Table) -> set[str]:
    from sqlalchemy import inspect

    return {c["name"] for c in inspect(engine).get_columns(table.name)}


def find_bad_values(engine: Engine) -> list[BadValue]:
    """Every unreadable stored time (and, on SQLite, non-integer duration), by table."""
    dialect = engine.dialect.name
    found: list[BadValue] = []
    columns_of: dict[str, set[str]] = {}
    with engine.connect() as conn:
        for table, key, column in _checked_columns(engine):
            present = columns_of.setdefault(table.name, _present_columns(engine, table))
            if column.name not in present:  # another application's table, without it
                continue
            if column.name == "duration_ms":
                if dialect != "sqlite":
                    continue  # bigint: PostgreSQL holds nothing else
                query = select(key, type_coerce(column, String())).where(
                    and_(column.is_not(None), func.typeof(column) != "integer")
                )
                for row_id, value in conn.execute(query):
                    found.append(BadValue(table.name, str(row_id), column.name, shown(value)))
                continue
            query = select(key, column).where(column.is_not(None), _suspect_time(dialect, column))
            for row_id, value in conn.execute(query):
                if isinstance(value, UnreadableTime):
                    found.append(BadValue(table.name, str(row_id), column.name, value.raw))
    return found
