"""What a large load into an empty ``flow_run`` sets aside and restores in the same
transaction: the secondary indexes (one sorted build each instead of an update per row),
the rollup triggers (the rollup is written once from the loaded rows), and on PostgreSQL
the foreign keys (one validating join instead of a lookup in ``flow`` and ``user`` per
row). DDL is transactional on both backends: a failed load leaves the schema as it was,
and no reader ever sees the table without its indexes or constraints. The price, on
PostgreSQL: for the load's duration flow_run is locked (as any DROP INDEX locks it), and
dropping the foreign keys also holds SHARE ROW EXCLUSIVE on ``flow`` and ``user``, so
their writers wait (their readers do not).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, inspect

from data.rollup.maintain import install, rebuild_in, uninstall
from data.rollup.schema import all_tables

# A load this large into an empty table builds the secondary indexes once, by sorting,
# instead of updating each of them run by run.
REBUILD_INDEXES_FROM_RUNS = 100_000


def secondary_indexes(conn: Connection) -> list[tuple[str, str]]:
    """(name, CREATE statement) of flow_run's indexes that back no constraint."""
    if conn.dialect.name == "sqlite":
        query = (
            "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
            " AND tbl_name = 'flow_run' AND sql IS NOT NULL ORDER BY name"
        )
    else:
        query = (
            "SELECT indexname, indexdef FROM pg_indexes i WHERE tablename = 'flow_run'"
            " AND schemaname = current_schema() AND NOT EXISTS"
            " (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname) ORDER BY indexname"
        )
    return [(name, create) for name, create in conn.exec_driver_sql(query)]


def foreign_keys(conn: Connection) -> list[tuple[str, str]]:
    """(name, definition) of flow_run's foreign keys on PostgreSQL; none elsewhere (SQLite
    cannot drop a constraint, and checks one with a primary-key seek)."""
    if conn.dialect.name != "postgresql":
        return []
    query = (
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = 'flow_run'::regclass AND contype = 'f' ORDER BY conname"
    )
    return [(name, definition) for name, definition in conn.exec_driver_sql(query)]


def lock_for_load(conn: Connection) -> None:
    """Keep other writers of flow_run out until the load commits (PostgreSQL; on SQLite
    the transaction began IMMEDIATE). The DROP INDEX that follows takes this lock anyway."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("LOCK TABLE flow_run IN ACCESS EXCLUSIVE MODE")


def rebuilds_indexes(conn: Connection, runs: int) -> bool:
    """Whether to build the secondary indexes after the load: many runs, empty table."""
    if runs < REBUILD_INDEXES_FROM_RUNS:
        return False
    return conn.exec_driver_sql("SELECT 1 FROM flow_run LIMIT 1").first() is None


@contextmanager
def indexes_built_after(
    conn: Connection, fill_rollup: Callable[[Connection], object] = rebuild_in
) -> Iterator[None]:
    """Set aside the secondary indexes, rollup triggers and foreign keys; restore them
    from their own definitions afterwards and fill the rollup with ``fill_rollup``. Only
    inside a transaction."""
    indexes = secondary_indexes(conn)
    for name, _ in indexes:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    keys = foreign_keys(conn)
    for name, _ in keys:
        conn.exec_driver_sql(f'ALTER TABLE flow_run DROP CONSTRAINT "{name}"')
    # The rollup triggers cost more than the insert itself (SQLite's row triggers cut a
    # load to a few thousand rows/s); the table was empty, so the rollup of the loaded
    # rows alone is exactly what the triggers would have written.
    rollup = has_rollup(conn)
    if rollup:
        uninstall(conn)
    yield
    for _, create in indexes:
        conn.exec_driver_sql(create)
    for name, definition in keys:
        conn.exec_driver_sql(f'ALTER TABLE flow_run ADD CONSTRAINT "{name}" {definition}')
    if rollup:
        fill_rollup(conn)
        install(conn)


def has_rollup(conn: Connection) -> bool:
    return set(all_tables()) <= set(inspect(conn).get_table_names())
