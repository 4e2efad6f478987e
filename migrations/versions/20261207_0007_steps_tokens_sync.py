"""Steps, tokens, model prices and the Langflow sync's state (issue 17).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07

- ``flowrun_foreign_table`` records which shared tables (user, flow, flow_run) another
  application owns (data.ownership): their columns are never changed unless
  `flowruns init-db --alter-owner-tables` asks for it.
- ``flow_run.total_tokens``: added where flow_run is ours (a fresh or Langflow database),
  or with that flag; without it another application's flow_run records no tokens.
- ``flowrun_step`` (one row per component run: Langflow's spans, or a runner's steps),
  ``flowrun_model_price`` (per-model prices an admin sets), ``flowrun_sync_state``.
- The rollup sums tokens (``token_count``, ``token_sum``), so token charts read it.
- Where ``flow`` is another application's (our tables in Langflow's database) and
  ``flow_run`` is ours, our flow_run no longer references ``flow``: Langflow deleting a
  flow cascaded into our history (or, without the cascade, would have been refused).
  The readers join flows as optional. The downgrade leaves it out: a run whose flow is
  gone would fail the constraint.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from data.ownership import inferred_foreign, may_alter
from data.rollup.maintain import fold_pending, install, uninstall

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)
TOTALS = ("flowrun_rollup_hour", "flowrun_rollup_day")
TOKEN_SUMS = ("token_count", "token_sum")
FLOW_REFERENCE = "fk_flow_run_flow_id_flow"  # as 0001 names it


def _allowed() -> bool:
    return bool(context.config.attributes.get("alter_owner_tables", False))


def _has_column(table: str, name: str) -> bool:
    return any(c["name"] == name for c in sa.inspect(op.get_bind()).get_columns(table))


def _create_steps() -> None:
    op.create_table(
        "flowrun_step",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("step_type", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("started_at", TZ, nullable=True),
        sa.Column("ended_at", TZ, nullable=True),
        sa.Column("latency_ms", sa.BigInteger(), nullable=True),
        sa.Column("inputs", sa.JSON(), nullable=True),
        sa.Column("outputs", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("model", sa.String(), nullable=True),
        sa.Column("input_tokens", sa.BigInteger(), nullable=True),
        sa.Column("output_tokens", sa.BigInteger(), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["flow_run.id"],
            name=op.f("fk_flowrun_step_run_id_flow_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flowrun_step")),
    )
    op.create_index("ix_flowrun_step_run_id_position", "flowrun_step", ["run_id", "position"])


def _create_prices_and_sync() -> None:
    op.create_table(
        "flowrun_model_price",
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("input_per_million", sa.Numeric(18, 6), nullable=False),
        sa.Column("output_per_million", sa.Numeric(18, 6), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("model", name=op.f("pk_flowrun_model_price")),
    )
    op.create_table(
        "flowrun_sync_state",
        sa.Column("source_key", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("position", sa.JSON(), nullable=False),
        sa.Column("last_sync_at", TZ, nullable=True),
        sa.Column("last_full_at", TZ, nullable=True),
        sa.Column("newest_end", TZ, nullable=True),
        sa.Column("runs", sa.BigInteger(), nullable=False),
        sa.Column("steps", sa.BigInteger(), nullable=False),
        sa.Column("skipped", sa.JSON(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("source_key", name=op.f("pk_flowrun_sync_state")),
    )


def _flow_reference() -> str | None:
    """The name of our flow_run's constraint on another application's flow table."""
    connection = op.get_bind()
    foreign = inferred_foreign(connection)
    if "flow" not in foreign or "flow_run" in foreign:
        return None
    for key in sa.inspect(connection).get_foreign_keys("flow_run"):
        if key["referred_table"] == "flow":
            return key["name"] or FLOW_REFERENCE
    return None


def upgrade() -> None:
    connection = op.get_bind()
    foreign = inferred_foreign(connection)
    op.create_table(
        "flowrun_foreign_table",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_flowrun_foreign_table")),
    )
    if foreign:
        op.bulk_insert(
            sa.table("flowrun_foreign_table", sa.column("name")), [{"name": n} for n in foreign]
        )
    uninstall(connection)
    if reference := _flow_reference():
        # SQLite: the table is copied without it (the triggers come back with install).
        with op.batch_alter_table("flow_run") as batch:
            batch.drop_constraint(reference, type_="foreignkey")
    if may_alter(connection, "flow_run", _allowed()) and not _has_column(
        "flow_run", "total_tokens"
    ):
        op.add_column("flow_run", sa.Column("total_tokens", sa.BigInteger(), nullable=True))
    for table in TOTALS:
        for name in (table, f"{table}_pending"):
            for column in TOKEN_SUMS:
                op.add_column(
                    name,
                    sa.Column(column, sa.BigInteger(), nullable=False, server_default="0"),
                )
    op.add_column(
        "flowrun_rollup_replaced",
        sa.Column("total_tokens", sa.LargeBinary().with_variant(sa.Text(), "postgresql")),
    )
    _create_steps()
    _create_prices_and_sync()
    install(connection)


def downgrade() -> None:
    connection = op.get_bind()
    fold_pending(connection)  # before the pending tables (and their columns) go
    uninstall(connection)
    op.drop_table("flowrun_sync_state")
    op.drop_table("flowrun_model_price")
    op.drop_index("ix_flowrun_step_run_id_position", table_name="flowrun_step")
    op.drop_table("flowrun_step")
    _drop_column("flowrun_rollup_replaced", "total_tokens")
    for table in TOTALS:
        for name in (table, f"{table}_pending"):
            for column in TOKEN_SUMS:
                _drop_column(name, column)
    foreign = set(connection.exec_driver_sql("SELECT name FROM flowrun_foreign_table").scalars())
    if "flow_run" not in foreign and _has_column("flow_run", "total_tokens"):
        _drop_column("flow_run", "total_tokens")
    op.drop_table("flowrun_foreign_table")
    install(connection)


def _drop_column(table: str, column: str) -> None:
    # SQLite 3.35+ drops a column in place (no table copy); nothing indexes these.
    op.execute(f'ALTER TABLE "{table}" DROP COLUMN {column}')
