"""Which of the tables we read belong to another application (a kozmoai or Langflow
database), and the one rule for them: `flowruns init-db` adds only our own tables and
never changes another application's columns unless asked to with
`--alter-owner-tables` (which says what it does). The owner's own migrations would see
such a change as drift.

A table is ours when our migration 0001 created it: it then came after our version table
(``flowruns_alembic_version``, created by Alembic before 0001 runs). PostgreSQL gives
objects increasing OIDs and SQLite lists tables in ``sqlite_master`` in the order they
were made, so the order tells, for databases migrated before this was recorded too.
Migration 0007 records the answer in ``flowrun_foreign_table``.
"""

from __future__ import annotations

from sqlalchemy import Connection, inspect, text

VERSION_TABLE = "flowruns_alembic_version"
FOREIGN_TABLE = "flowrun_foreign_table"
SHARED = ("user", "flow", "flow_run")
ALTER_FLAG = "--alter-owner-tables"


def _made_before_our_version_table(conn: Connection, table: str) -> bool:
    if conn.dialect.name == "postgresql":
        query = "SELECT CAST(:table AS regclass)::oid < CAST(:ours AS regclass)::oid"
        params = {"table": f'"{table}"', "ours": VERSION_TABLE}
    else:
        query = (
            "SELECT (SELECT rowid FROM sqlite_master WHERE type = 'table' AND name = :table)"
            " < (SELECT rowid FROM sqlite_master WHERE type = 'table' AND name = :ours)"
        )
        params = {"table": table, "ours": VERSION_TABLE}
    return bool(conn.execute(text(query), params).scalar())


def inferred_foreign(conn: Connection) -> list[str]:
    """The shared tables that existed before our first migration (another application's)."""
    names = set(inspect(conn).get_table_names())
    if VERSION_TABLE not in names:
        return []
    return [t for t in SHARED if t in names and _made_before_our_version_table(conn, t)]


def foreign_tables(conn: Connection) -> frozenset[str]:
    """The shared tables another application owns: as recorded (0007 on), else inferred."""
    if inspect(conn).has_table(FOREIGN_TABLE):
        rows = conn.execute(text(f"SELECT name FROM {FOREIGN_TABLE}")).scalars()
        return frozenset(rows)
    return frozenset(inferred_foreign(conn))


def may_alter(conn: Connection, table: str, allowed: bool) -> bool:
    """Whether a migration may change ``table``'s columns: ours, or the owner allowed it."""
    return allowed or table not in foreign_tables(conn)


def kept_as_they_are(conn: Connection) -> list[str]:
    """One line per change `init-db` left out because another application owns the table."""
    if "flow_run" not in foreign_tables(conn):
        return []
    columns = {c["name"]: c for c in inspect(conn).get_columns("flow_run")}
    left = []
    if "total_tokens" not in columns:
        left.append("no total_tokens column (tokens are not recorded)")
    duration = columns.get("duration_ms")
    if conn.dialect.name == "postgresql" and duration and "BIGINT" not in str(duration["type"]):
        left.append("duration_ms stays 32-bit (a run over 24.8 days is stored without one)")
    if not left:
        return []
    return [
        "flow_run belongs to another application and was kept as it is: " + "; ".join(left),
        f"`flowruns init-db {ALTER_FLAG}` adds total_tokens and widens duration_ms to BIGINT"
        " (on PostgreSQL it rewrites the table under an exclusive lock)",
    ]
