"""The rollup's triggers on ``flow_run``, per backend: statement-level with transition
tables and pending changes on PostgreSQL (data.rollup.triggers_pg), row-level with guards
against REPLACE and odd time text on SQLite (data.rollup.triggers_sqlite). Both are
generated from data.rollup.schema's description of the keys."""

from __future__ import annotations

from data.rollup.schema import Tokens
from data.rollup.triggers_pg import drop_postgres_triggers, postgres_triggers
from data.rollup.triggers_sqlite import drop_sqlite_triggers, sqlite_triggers


def create_triggers(
    dialect: str, pausable: bool = False, guarded: bool = False, tokens: Tokens = "counted"
) -> list[str]:
    """``pausable``: migration 0005's pause row; ``guarded``: 0006 (pending changes on
    PostgreSQL, the REPLACE and time guards on SQLite); ``tokens``: flow_run has a
    total_tokens column (0007, where flow_run is ours or its owner allowed it)."""
    if dialect == "postgresql":
        return postgres_triggers(pausable, pending=guarded, tokens=tokens)
    return sqlite_triggers(pausable, guarded, tokens)


def drop_triggers(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return drop_postgres_triggers()
    return drop_sqlite_triggers()
