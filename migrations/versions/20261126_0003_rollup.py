"""Rollup tables for the overview, kept by triggers, built from the existing runs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

Per UTC hour and UTC day: run totals per (flow, status, trigger) and duration histograms
per (flow, status) over fixed log-spaced buckets (see data/rollup and docs/rollup.md).
Triggers on flow_run keep them in the same transaction as every write, whoever writes
(also Langflow itself on a shared database). The upgrade fills them from the runs already
stored: on PostgreSQL writers wait for that (SHARE lock on flow_run), about a few
seconds per million runs.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from data.rollup.maintain import install, rebuild_in, uninstall

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)
GRAINS = ("hour", "day")
SUM_TYPE = sa.Numeric().with_variant(sa.BigInteger(), "sqlite")


def _key(*last: sa.Column[object]) -> list[sa.Column[object]]:
    return [
        sa.Column("period", TZ, nullable=False),
        sa.Column("flow_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        *last,
    ]


def _create(grain: str) -> None:
    totals = f"flowrun_rollup_{grain}"
    op.create_table(
        totals,
        *_key(sa.Column("trigger_type", sa.String(), nullable=False)),
        sa.Column("runs", sa.BigInteger(), nullable=False),
        sa.Column("duration_count", sa.BigInteger(), nullable=False),
        sa.Column("duration_sum", SUM_TYPE, nullable=False),
        sa.PrimaryKeyConstraint(
            "period", "flow_id", "status", "trigger_type", name=op.f(f"pk_{totals}")
        ),
        sqlite_with_rowid=False,
    )
    histogram = f"flowrun_rollup_{grain}_hist"
    op.create_table(
        histogram,
        *_key(sa.Column("bucket", sa.Integer(), nullable=False)),
        sa.Column("runs", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "period", "flow_id", "status", "bucket", name=op.f(f"pk_{histogram}")
        ),
        sqlite_with_rowid=False,
    )


def upgrade() -> None:
    op.create_table(
        "flowrun_rollup_bound",
        sa.Column("lower_ms", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("lower_ms", name=op.f("pk_flowrun_rollup_bound")),
        sqlite_with_rowid=False,
    )
    for grain in GRAINS:
        _create(grain)
    connection = op.get_bind()
    install(connection)
    rebuild_in(connection)


def downgrade() -> None:
    uninstall(op.get_bind())
    for grain in GRAINS:
        op.drop_table(f"flowrun_rollup_{grain}_hist")
        op.drop_table(f"flowrun_rollup_{grain}")
    op.drop_table("flowrun_rollup_bound")
