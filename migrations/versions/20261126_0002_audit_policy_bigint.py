"""64-bit flow_run.duration_ms on PostgreSQL, the audit log and the stored retention policy.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

kozmoai/Langflow created ``duration_ms`` as a 32-bit integer: on PostgreSQL a run longer
than 24.8 days could not be finished. Widening it keeps every value and stays readable by
Langflow, but it changes another application's table: it is done only when flow_run is
ours or with `flowruns init-db --alter-owner-tables` (data.ownership). SQLite's INTEGER
already holds 64 bits, so nothing is rebuilt there. The new tables are ours alone and are
only created when missing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from data.ownership import may_alter

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


class DowngradeRefused(RuntimeError):
    """The downgrade would lose data; nothing was changed."""


def _is_postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _exists(table: str) -> bool:
    return sa.inspect(op.get_bind()).has_table(table)


def _duration_is_bigint() -> bool:
    columns = sa.inspect(op.get_bind()).get_columns("flow_run")
    [column] = [c for c in columns if c["name"] == "duration_ms"]
    return isinstance(column["type"], sa.BigInteger)


def _create_audit() -> None:
    op.create_table(
        "flowrun_audit",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("finished_at", TZ, nullable=True),
        sa.Column("actor_user_id", sa.Uuid(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("surface", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("criteria", sa.Text(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("matched", sa.BigInteger(), nullable=True),
        sa.Column("affected", sa.BigInteger(), nullable=False),
        sa.Column("batches", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flowrun_audit")),
    )
    op.create_index(op.f("ix_flowrun_audit_at"), "flowrun_audit", ["at"], unique=False)
    op.create_index(
        "ix_flowrun_audit_actor_user_id_at", "flowrun_audit", ["actor_user_id", "at"], unique=False
    )


def _create_policy() -> None:
    op.create_table(
        "flowrun_retention_policy",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("max_age_days", sa.Integer(), nullable=True),
        sa.Column("max_runs_per_flow", sa.Integer(), nullable=True),
        sa.Column("status_max_age_days", sa.Text(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flowrun_retention_policy")),
    )


def _allowed() -> bool:
    """Another application's flow_run is widened only when its owner asked for it."""
    allowed = bool(context.config.attributes.get("alter_owner_tables", False))
    return may_alter(op.get_bind(), "flow_run", allowed)


def upgrade() -> None:
    if _is_postgres() and not _duration_is_bigint() and _allowed():
        # Rewrites the table (and its indexes) under an exclusive lock: minutes on a
        # table of millions of runs. Run init-db in a quiet moment. Without it, a run
        # longer than 24.8 days is stored without a duration (data.recorder).
        op.alter_column("flow_run", "duration_ms", type_=sa.BigInteger(), existing_nullable=True)
    if not _exists("flowrun_audit"):
        _create_audit()
    if not _exists("flowrun_retention_policy"):
        _create_policy()


def _refuse_if_too_long() -> None:
    """Narrowing back to 32 bits must not fail half-way nor truncate: refuse first."""
    low, high, count = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT min(duration_ms), max(duration_ms), count(*) FROM flow_run"
                " WHERE duration_ms < :low OR duration_ms > :high"
            ),
            {"low": INT32_MIN, "high": INT32_MAX},
        )
        .one()
    )
    if count:
        raise DowngradeRefused(
            f"refusing to downgrade: {count} flow_run row(s) have a duration_ms outside the"
            f" 32-bit range ({low}..{high} ms; the limit is {INT32_MAX} ms, about 24.8 days)."
            " Clear or cap those values first (e.g. UPDATE flow_run SET duration_ms = NULL"
            f" WHERE duration_ms > {INT32_MAX}); nothing was changed"
        )


def downgrade() -> None:
    if _is_postgres() and _duration_is_bigint():
        _refuse_if_too_long()
        op.alter_column("flow_run", "duration_ms", type_=sa.Integer(), existing_nullable=True)
    op.drop_table("flowrun_retention_policy")
    op.drop_index("ix_flowrun_audit_actor_user_id_at", table_name="flowrun_audit")
    op.drop_index(op.f("ix_flowrun_audit_at"), table_name="flowrun_audit")
    op.drop_table("flowrun_audit")
