"""Batched deletes keep the rollup themselves: the delete triggers skip a paused transaction.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26

SQLite's row trigger did eight upserts and deletes per deleted row (about two thirds of
a retention delete's time). ``data.deletion`` now subtracts each batch from the rollup
set-based and marks its own transaction with a row in ``flowrun_rollup_pause``, which
the delete triggers test (a WHEN clause on SQLite, an early return on PostgreSQL). The
row lives only inside that transaction, so every other writer (Langflow's included) is
still counted by the triggers. PostgreSQL's trigger functions are reinstalled too: they
find a run's histogram bucket by ``width_bucket`` over constant bounds (the same buckets).
The rollup's contents do not change, so neither direction rebuilds it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from data.rollup.maintain import install

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "flowrun_rollup_pause",
        sa.Column("paused", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("paused", name=op.f("pk_flowrun_rollup_pause")),
    )
    install(op.get_bind())  # the pause table exists: pausable triggers


def downgrade() -> None:
    op.drop_table("flowrun_rollup_pause")
    install(op.get_bind())  # without it: the triggers of 0004
