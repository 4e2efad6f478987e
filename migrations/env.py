"""Alembic environment: URL from settings (or the caller), batch mode on SQLite."""

from __future__ import annotations

from alembic import context

from data.db import build_engine
from data.models import Base
from data.settings import get_settings

config = context.config
target_metadata = Base.metadata
# Not "alembic_version": a kozmoai/Langflow database already has that table for its own
# migrations, and the two histories must not collide.
VERSION_TABLE = "flowruns_alembic_version"


def _url() -> str:
    return config.attributes.get("database_url") or get_settings().resolved_database_url


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        version_table=VERSION_TABLE,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_with(connection)
        return
    engine = build_engine(_url())
    try:
        with engine.connect() as conn:
            _run_with(conn)
    finally:
        engine.dispose()


def _run_with(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # type: ignore[attr-defined]
        compare_type=True,
        version_table=VERSION_TABLE,
        # Alembic treats SQLite's DDL as non-transactional and commits after each
        # migration; it is transactional (below): one transaction for the whole upgrade.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "sqlite":  # type: ignore[attr-defined]
            # Python's sqlite3 opens a transaction only before INSERT/UPDATE/DELETE: a
            # migration's DROP TRIGGER ran on its own, committed, and runs written by
            # another process before the trigger came back were missing from the rollup
            # (issue 16, case 9). An explicit BEGIN IMMEDIATE makes every statement of
            # the migration one transaction that holds the write lock from the start.
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # type: ignore[attr-defined]
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
