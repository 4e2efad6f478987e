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
    TOTALS_KEY,
    Grain,
    all_tables,
    create_triggers,
    drop_triggers,
    expected_histogram,
    expected_totals,
    histogram_table,
    totals_table,
    upsert_histogram,
    upsert_totals,
)


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


def install(conn: Connection) -> None:
    """Bucket bounds and triggers (for the migration): then a rebuild fills the totals."""
    fill_bounds(conn)
    dialect = conn.dialect.name
    for statement in drop_triggers(dialect) + create_triggers(dialect):
        conn.exec_driver_sql(statement)


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
    for table in all_tables():
        conn.exec_driver_sql(f"DELETE FROM {table}")
    for grain in GRAINS:
        conn.exec_driver_sql(upsert_totals(dialect, grain, [("flow_run", 1)]))
        conn.exec_driver_sql(upsert_histogram(dialect, grain, [("flow_run", 1)]))
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


def _stored(grain: Grain) -> tuple[str, str]:
    totals = ", ".join(TOTALS_KEY)
    hist = ", ".join(HIST_KEY)
    return (
        f"SELECT {totals}, runs, duration_count, duration_sum FROM {totals_table(grain)}",
        f"SELECT {hist}, runs FROM {histogram_table(grain)}",
    )


def check(engine: Engine) -> CheckResult:
    """Compare the stored rollup with one computed from ``flow_run`` (a full scan, in
    one snapshot on PostgreSQL)."""
    dialect = engine.dialect.name
    differences = {}
    with engine.connect() as conn:
        if dialect == "postgresql":
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        for grain in GRAINS:
            stored_totals, stored_hist = _stored(grain)
            differences[totals_table(grain)] = _mismatches(
                conn, expected_totals(dialect, grain), stored_totals
            )
            differences[histogram_table(grain)] = _mismatches(
                conn, expected_histogram(dialect, grain), stored_hist
            )
    return CheckResult(differences)
