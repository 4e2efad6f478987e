"""The rollup right in every case writers can make (issue 16, cases 1, 3, 5 and 8).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07

- PostgreSQL: the triggers append signed changes to ``*_pending`` tables and fold them
  into the rollup under a lock nobody waits for, so concurrent writers never deadlock on
  the rollup's shared rows (data.rollup.triggers_pg).
- SQLite: guards against ``INSERT OR REPLACE`` and friends (the replaced row is taken out
  of the rollup: ``flowrun_rollup_replaced``), and times written in another form
  (``2026-01-02T03:04:05+05:00``) are rewritten into the canonical text, the same
  instant, by trigger; the upgrade rewrites those already stored (one pass over
  flow_run) (data.rollup.triggers_sqlite, data.canonical_time).
- Both: a duration is aggregated only when it is a whole number within 2^40 ms; the
  rollup is rebuilt if stored runs have another one.

Both directions run in one transaction that holds the write lock from its first
statement (migrations/env.py), so no run written meanwhile is missed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from data.canonical_time import any_needs_rewrite_sql, rewrite_statement
from data.rollup.maintain import fold_pending, install, rebuild_in, uninstall
from data.rollup.tables import AS_STORED
from data.sql_functions import usable_duration_sql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)
SUM_TYPE = sa.Numeric().with_variant(sa.BigInteger(), "sqlite")
KEY_TYPES = {
    "period": TZ,
    "flow_id": sa.Uuid(),
    "status": sa.String(),
    "trigger_type": sa.String(),
    "bucket": sa.Integer(),
    "runs": sa.BigInteger(),
    "duration_count": sa.BigInteger(),
    "duration_sum": SUM_TYPE,
}
# As the rollup tables were at 0006 (0007 adds token sums to the totals).
_TOTALS = ("period", "flow_id", "status", "trigger_type", "runs", "duration_count", "duration_sum")
_HISTOGRAM = ("period", "flow_id", "status", "bucket", "runs")
PENDING_COLUMNS = {
    "flowrun_rollup_hour": _TOTALS,
    "flowrun_rollup_hour_hist": _HISTOGRAM,
    "flowrun_rollup_day": _TOTALS,
    "flowrun_rollup_day_hist": _HISTOGRAM,
}
REPLACED_COLUMNS = ("started_at", "flow_id", "status", "trigger_type", "duration_ms")


def upgrade() -> None:
    connection = op.get_bind()
    for name, columns in PENDING_COLUMNS.items():
        op.create_table(
            f"{name}_pending", *(sa.Column(c, KEY_TYPES[c], nullable=False) for c in columns)
        )
    op.create_table(
        "flowrun_rollup_replaced",
        sa.Column("id", AS_STORED, nullable=False),
        *(sa.Column(name, AS_STORED) for name in REPLACED_COLUMNS),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flowrun_rollup_replaced")),
    )
    install(connection)
    if connection.dialect.name == "sqlite":
        op.execute(rewrite_statement(any_needs_rewrite_sql()))
    unusable = usable_duration_sql(connection.dialect.name, "duration_ms")
    odd = connection.exec_driver_sql(
        f"SELECT 1 FROM flow_run WHERE duration_ms IS NOT NULL AND {unusable} IS NULL LIMIT 1"
    ).first()
    if odd is not None:
        rebuild_in(connection)


def downgrade() -> None:
    connection = op.get_bind()
    fold_pending(connection)  # before the pending tables (and their columns) go
    uninstall(connection)
    op.drop_table("flowrun_rollup_replaced")
    for name in PENDING_COLUMNS:
        op.drop_table(f"{name}_pending")
    install(connection)  # the triggers of 0005
