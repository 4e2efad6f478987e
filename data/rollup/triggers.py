"""The rollup's triggers on ``flow_run``, per backend: statement-level with transition
tables and pending changes on PostgreSQL (data.rollup.triggers_pg), row-level with guards
against REPLACE and odd time text on SQLite (data.rollup.triggers_sqlite). Both are
generated from data.rollup.schema's description of the keys."""

from __future__ import annotations

from data.rollup.triggers_pg import drop_postgres_triggers, postgres_triggers
from data.rollup.triggers_sqlite import drop_sqlite_triggers, sqlite_triggers


def create_triggers(dialect: str, pausable: bool = False, guarded: bool = False) -> list[str]:
    """``pausable``: migration 0005's pause row; ``guarded``: 0006 (pending changes on
    PostgreSQL, the REPLACE and time guards on SQLite)."""
    if dialect == "postgresql":
        return postgres_triggers(pausable, pending=guarded)
    return sqlite_triggers(pausable, guarded)


def drop_triggers(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return drop_postgres_triggers()
    return drop_sqlite_triggers()
