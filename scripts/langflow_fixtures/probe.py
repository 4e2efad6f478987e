"""Reads Langflow's database while it runs, so each run can be matched with the rows it wrote."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg


def _uuid(value: Any) -> str:
    # SQLite stores ids as 32 hex characters, PostgreSQL as uuid: compare in one form.
    return str(uuid.UUID(str(value)))


class Probe:
    """A connection to the Langflow database (SQLite file or PostgreSQL conninfo)."""

    def __init__(self, *, sqlite_path: Path | None = None, pg_conninfo: str | None = None) -> None:
        self.sqlite_path, self.pg_conninfo = sqlite_path, pg_conninfo

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        if self.sqlite_path is not None:
            with sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True) as conn:
                return list(conn.execute(sql).fetchall())
        assert self.pg_conninfo is not None
        with psycopg.connect(self.pg_conninfo, autocommit=True) as conn:
            return list(conn.execute(sql).fetchall())

    def execute(self, sql: str) -> None:
        if self.sqlite_path is not None:
            with sqlite3.connect(self.sqlite_path) as conn:
                conn.execute(sql)
            return
        assert self.pg_conninfo is not None
        with psycopg.connect(self.pg_conninfo, autocommit=True) as conn:
            conn.execute(sql)

    def has_table(self, name: str) -> bool:
        if self.sqlite_path is not None:
            sql = f"SELECT 1 FROM sqlite_master WHERE type='table' AND name='{name}'"
        else:
            sql = f"SELECT 1 FROM information_schema.tables WHERE table_name='{name}'"
        return bool(self.rows(sql))

    def ids(self, sql: str) -> set[str]:
        """The first column of a query, as canonical UUID strings."""
        return {_uuid(r[0]) for r in self.rows(sql)}

    def trace_ids(self) -> set[str]:
        return self.ids("SELECT id FROM trace")

    def job_ids(self) -> set[str]:
        return self.ids("SELECT job_id FROM job")

    def job(self, job_id: str) -> dict[str, Any] | None:
        key = job_id.replace("-", "") if self.sqlite_path is not None else job_id
        found = self.rows(f"SELECT status, flow_id FROM job WHERE job_id = '{key}'")
        return {"status": str(found[0][0]), "flow_id": _uuid(found[0][1])} if found else None

    def trace(self, trace_id: str) -> dict[str, Any]:
        """What the run wrote: the trace's own fields and a summary of its spans."""
        key = trace_id.replace("-", "") if self.sqlite_path is not None else trace_id
        (status, session, tokens, flow_id), *_ = self.rows(
            f"SELECT status, session_id, total_tokens, flow_id FROM trace WHERE id = '{key}'"
        )
        spans = self.rows(f"SELECT parent_span_id, error FROM span WHERE trace_id = '{key}'")
        return {
            "status": str(status),
            "session_id": session,
            "total_tokens": int(tokens),
            "flow_id": _uuid(flow_id),
            "component_spans": sum(parent is None for parent, _ in spans),
            "llm_spans": sum(parent is not None for parent, _ in spans),
            "errors": sorted(str(error) for _, error in spans if error),
        }

    def text_columns(self) -> list[tuple[str, str, str]]:
        """(table, column, JSON type or "") of every column that can hold text."""
        if self.sqlite_path is not None:
            tables = [r[0] for r in self.rows("SELECT name FROM sqlite_master WHERE type='table'")]
            return [
                (table, str(col[1]), "")
                for table in tables
                for col in self.rows(f"SELECT * FROM pragma_table_info('{table}')")
            ]
        found = self.rows(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'public'"
            " AND data_type IN ('text', 'character varying', 'json', 'jsonb')"
        )
        return [(str(t), str(c), str(d) if str(d).startswith("json") else "") for t, c, d in found]

    def _where_contains(self, value: str, needle: str) -> str:
        if self.sqlite_path is not None:
            return f"typeof({value}) = 'text' AND instr({value}, '{needle}') > 0"
        return f"strpos({value}, '{needle}') > 0"

    def count_containing(self, needle: str) -> int:
        """Rows, over every text and JSON column, whose value contains `needle`."""
        total = 0
        for table, column, json_type in self.text_columns():
            value = f'"{column}"::text' if json_type else f'"{column}"'
            where = self._where_contains(value, needle)
            total += int(self.rows(f'SELECT count(*) FROM "{table}" WHERE {where}')[0][0])
        return total

    def replace_everywhere(self, old: str, new: str) -> int:
        """Replace a string in every text and JSON value of the database; rows changed."""
        changed = 0
        for table, column, json_type in self.text_columns():
            value = f'"{column}"::text' if json_type else f'"{column}"'
            replaced = f"replace({value}, '{old}', '{new}')" + (
                f"::{json_type}" if json_type else ""
            )
            where = self._where_contains(value, old)
            count = int(self.rows(f'SELECT count(*) FROM "{table}" WHERE {where}')[0][0])
            if count:
                self.execute(f'UPDATE "{table}" SET "{column}" = {replaced} WHERE {where}')
                changed += count
        return changed


def wait_for_new(
    read: Callable[[], set[str]], before: set[str], count: int, timeout: float = 60
) -> list[str]:
    """Ids that appeared since `before`: waits until `count` of them exist."""
    deadline = time.monotonic() + timeout
    while True:
        new = sorted(read() - before)
        if len(new) >= count or time.monotonic() > deadline:
            return new
        time.sleep(0.5)
