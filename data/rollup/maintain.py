"""Install, rebuild and check the rollup (``flowruns rollup rebuild`` / ``check``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, inspect, text

from data.db import DatabaseUnavailable
from data.rollup.histogram import bound_rows
from data.rollup.schema import (
    BOUND,
    GRAINS,
    HIST_KEY,
    PAUSE,
    TOTALS_KEY,
    Grain,
    Tokens,
    all_tables,
    expected_histogram,
    expected_totals,
    histogram_table,
    subtract,
    sums,
    totals_table,
    upsert_histogram,
    upsert_totals,
)
from data.rollup.tables import REPLACED
from data.rollup.triggers import create_triggers, drop_triggers
from data.rollup.triggers_pg import COMPACT, COMPACT_LOCK, pending_table


@dataclass(frozen=True)
class CheckResult:
    """Per rollup table: rows that differ from what ``flow_run`` says it must hold
    (expected rows missing or different, plus stored rows that should not be there)."""

    differences: dict[str, int]

    @property
    def consistent(self) -> bool:
        return not any(self.differences.values())


def require_rollup(engine: Engine) -> None:
    """``DatabaseUnavailable`` unless migration 0003 is applied."""
    if not set(all_tables()) <= set(inspect(engine).get_table_names()):
        raise DatabaseUnavailable("Rollup tables missing: run `flowruns init-db`")


def fill_bounds(conn: Connection) -> None:
    conn.execute(text(f"DELETE FROM {BOUND}"))
    conn.execute(
        text(f"INSERT INTO {BOUND} (bucket, lower_ms) VALUES (:bucket, :lower_ms)"),
        [{"bucket": bucket, "lower_ms": low} for bucket, low in bound_rows()],
    )


def pausable(conn: Connection) -> bool:
    """Whether the delete trigger leaves a transaction holding a pause row alone (from
    migration 0005 on: the pause table exists, and ``install`` then makes it so)."""
    return bool(inspect(conn).has_table(PAUSE))


def guarded(conn: Connection) -> bool:
    """Whether migration 0006 is applied (its tables exist): pending changes on
    PostgreSQL, the REPLACE and time guards on SQLite."""
    return bool(inspect(conn).has_table(REPLACED.name))


def token_shape(conn: Connection) -> Tokens:
    """What the rollup here knows of tokens (see data.rollup.schema.Tokens)."""
    inspector = inspect(conn)
    if not any(c["name"] == "token_sum" for c in inspector.get_columns(totals_table("hour"))):
        return "absent"
    if any(c["name"] == "total_tokens" for c in inspector.get_columns("flow_run")):
        return "counted"
    return "null"


def install(conn: Connection) -> None:
    """Bucket bounds and triggers (for the migrations): then a rebuild fills the totals.
    The triggers match the schema they are installed on: pausable once the pause table
    exists (0005), guarded once 0006's tables do, as they were before otherwise (a
    downgrade)."""
    fill_bounds(conn)
    dialect = conn.dialect.name
    created = create_triggers(dialect, pausable(conn), guarded(conn), token_shape(conn))
    for statement in drop_triggers(dialect) + created:
        conn.exec_driver_sql(statement)


def pause(conn: Connection) -> None:
    """From here to ``resume``, in this transaction only, the delete triggers leave the
    rollup to the caller (``subtract_rows``). Nobody else ever sees the pause row."""
    conn.exec_driver_sql(f"INSERT INTO {PAUSE} (paused) VALUES (1)")


def subtract_rows(conn: Connection, source: str) -> None:
    """Take the rows of ``source`` (a table holding rows about to be deleted, as they
    are) out of the rollup, set-based: a few statements per batch instead of eight
    upserts and deletes per row in SQLite's row trigger."""
    for statement in subtract(conn.dialect.name, source, token_shape(conn)):
        conn.exec_driver_sql(statement)


def resume(conn: Connection) -> None:
    conn.exec_driver_sql(f"DELETE FROM {PAUSE}")


def fold_pending(conn: Connection) -> None:
    """PostgreSQL: fold every pending change into the rollup now (before a downgrade drops
    the pending tables or the columns they fill), holding the compaction lock."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({COMPACT_LOCK})")
        conn.exec_driver_sql(f"SELECT {COMPACT}()")


def uninstall(conn: Connection) -> None:
    for statement in drop_triggers(conn.dialect.name):
        conn.exec_driver_sql(statement)


def rebuild_in(conn: Connection) -> int:
    """Recompute the rollup from ``flow_run`` inside the caller's transaction; returns
    the number of rollup rows."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        # Writers wait until the rebuild commits: no change slips between read and write.
        conn.exec_driver_sql("LOCK TABLE flow_run IN SHARE MODE")
    for table in all_tables() + present_pending(conn):
        conn.exec_driver_sql(f"DELETE FROM {table}")
    for grain in GRAINS:
        tokens = token_shape(conn)
        conn.exec_driver_sql(upsert_totals(dialect, grain, [("flow_run", 1)], tokens))
        conn.exec_driver_sql(upsert_histogram(dialect, grain, [("flow_run", 1)], tokens))
    counts = [f"(SELECT count(*) FROM {table})" for table in all_tables()]
    return int(conn.exec_driver_sql(f"SELECT {' + '.join(counts)}").scalar_one())


def rebuild(engine: Engine) -> int:
    """Recompute the rollup from scratch in one transaction."""
    with engine.begin() as conn:
        return rebuild_in(conn)


def _mismatches(conn: Connection, expected: str, stored: str) -> int:
    """Rows in one side and not the other (EXCEPT both ways: no FULL JOIN needed)."""
    total = 0
    for left, right in ((expected, stored), (stored, expected)):
        query = (
            f"SELECT count(*) FROM (SELECT * FROM ({left}) AS a"
            f" EXCEPT SELECT * FROM ({right}) AS b) AS d"
        )
        total += int(conn.exec_driver_sql(query).scalar_one())
    return total


def _stored(conn: Connection, grain: Grain) -> tuple[str, str]:
    """What the rollup holds per key: its rows plus the pending changes (0006, on
    PostgreSQL), summed; a key whose changes add up to nothing holds nothing."""
    # SQLite stores a period with the column's NUMERIC affinity: another engine's started_at
    # of 20240103 (a number) lands as the integer 20240103, while the recomputation keeps
    # the text '20240103'; compared as text they agree (every real period is text already).
    sqlite = conn.dialect.name == "sqlite"
    period = "CAST(period AS TEXT)" if sqlite else "period"
    pending = set(present_pending(conn))
    queries = []
    for table, key, held in (
        (totals_table(grain), TOTALS_KEY, sums(token_shape(conn))),
        (histogram_table(grain), HIST_KEY, ("runs",)),
    ):
        names = ", ".join(key + held)
        rows = f"SELECT {names} FROM {table}"
        if pending_table(table) in pending:
            rows += f" UNION ALL SELECT {names} FROM {pending_table(table)}"
        selected = ", ".join(period if c == "period" else c for c in key)
        grouped = ", ".join(period if c == "period" else c for c in key)
        queries.append(
            f"SELECT {selected}, {', '.join(f'sum({c})' for c in held)} FROM ({rows}) AS s"
            f" GROUP BY {grouped} HAVING {' OR '.join(f'sum({c}) <> 0' for c in held)}"
        )
    return queries[0], queries[1]


def present_pending(conn: Connection) -> list[str]:
    """The pending tables this database has (0006 on)."""
    names = [pending_table(table) for table in all_tables()]
    return [name for name in names if inspect(conn).has_table(name)]


def check(engine: Engine) -> CheckResult:
    """Compare the stored rollup with one computed from ``flow_run`` (a full scan, in
    one snapshot on PostgreSQL)."""
    dialect = engine.dialect.name
    differences = {}
    with engine.connect() as conn:
        if dialect == "postgresql":
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        for grain in GRAINS:
            stored_totals, stored_hist = _stored(conn, grain)
            differences[totals_table(grain)] = _mismatches(
                conn, expected_totals(dialect, grain, token_shape(conn)), stored_totals
            )
            differences[histogram_table(grain)] = _mismatches(
                conn, expected_histogram(dialect, grain, token_shape(conn)), stored_hist
            )
    return CheckResult(differences)
