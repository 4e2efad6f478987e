"""Rollup histograms keyed (period, bucket, flow_id, status): one scan per time series.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

A time series reads one histogram per period: ``GROUP BY period, bucket``. With the key
ordered (period, flow_id, status, bucket) SQLite sorted every histogram row of the range
in a temporary B-tree first (57 of the 90-day overview's 180 ms at 1M runs); ordered
(period, bucket, ...) the rows arrive grouped. A flow filter now scans the range's rows
instead of seeking them, which costs less than the sort saved (~8 ms at 1M runs).

SQLite clusters a WITHOUT ROWID table on its key, so each histogram is copied into a new
table; PostgreSQL only rebuilds the key's index. The triggers are taken off for the copy
(they name the tables) and put back after it, inside the migration's transaction.
"""

from collections.abc import Sequence

from alembic import op

from data.rollup.maintain import install, uninstall

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GRAINS = ("hour", "day")
NEW_KEY = ("period", "bucket", "flow_id", "status")
OLD_KEY = ("period", "flow_id", "status", "bucket")


def _rekey(key: Sequence[str]) -> None:
    connection = op.get_bind()
    uninstall(connection)
    for grain in GRAINS:
        table = f"flowrun_rollup_{grain}_hist"
        constraint = f"pk_{table}"
        columns = ", ".join(key)
        if connection.dialect.name == "postgresql":
            op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {constraint}")
            op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {constraint} PRIMARY KEY ({columns})")
            continue
        copy = f"{table}_rekeyed"
        op.execute(
            f"CREATE TABLE {copy} (period DATETIME NOT NULL, flow_id CHAR(32) NOT NULL, "
            "status VARCHAR NOT NULL, bucket INTEGER NOT NULL, runs BIGINT NOT NULL, "
            f"CONSTRAINT {constraint} PRIMARY KEY ({columns})) WITHOUT ROWID"
        )
        op.execute(
            f"INSERT INTO {copy} (period, flow_id, status, bucket, runs) "
            f"SELECT period, flow_id, status, bucket, runs FROM {table} ORDER BY {columns}"
        )
        op.execute(f"DROP TABLE {table}")
        op.execute(f"ALTER TABLE {copy} RENAME TO {table}")
    install(connection)


def upgrade() -> None:
    _rekey(NEW_KEY)


def downgrade() -> None:
    _rekey(OLD_KEY)
