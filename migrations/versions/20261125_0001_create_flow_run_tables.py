"""Create user, flow, flow_run and flowrun_api_key with the dashboard's indexes.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

On a kozmoai/Langflow database, user, flow and flow_run already exist: they are kept
as they are, and only what is missing is added (the API key table and the indexes).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)

# (name, columns, unique)
FLOW_RUN_INDEXES: tuple[tuple[str, list[str], bool], ...] = (
    ("ix_flow_run_flow_id", ["flow_id"], False),
    ("ix_flow_run_user_id", ["user_id"], False),
    ("ix_flow_run_status", ["status"], False),
    ("ix_flow_run_trigger_type", ["trigger_type"], False),
    ("ix_flow_run_session_id", ["session_id"], False),
    (
        "ix_flow_run_started_at",
        ["started_at", "status", "duration_ms", "flow_id", "trigger_type"],
        False,
    ),
    (
        "ix_flow_run_status_started_at",
        ["status", "started_at", "duration_ms", "trigger_type", "flow_id"],
        False,
    ),
    (
        "ix_flow_run_flow_id_started_at",
        ["flow_id", "started_at", "status", "duration_ms"],
        False,
    ),
)


def _exists(table: str) -> bool:
    return sa.inspect(op.get_bind()).has_table(table)


def _index_names(table: str) -> set[str]:
    return {ix["name"] for ix in sa.inspect(op.get_bind()).get_indexes(table) if ix["name"]}


def _create_user() -> None:
    op.create_table(
        "user",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(), nullable=False),
        sa.Column("password", sa.String(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("is_superuser", sa.Boolean(), nullable=False),
        sa.Column("create_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("last_login_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user")),
    )
    op.create_index(op.f("ix_user_username"), "user", ["username"], unique=True)


def _create_flow() -> None:
    op.create_table(
        "flow",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("updated_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_flow_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow")),
        sa.UniqueConstraint("user_id", "name", name=op.f("uq_flow_user_id_name")),
    )
    op.create_index(op.f("ix_flow_name"), "flow", ["name"], unique=False)
    op.create_index(op.f("ix_flow_user_id"), "flow", ["user_id"], unique=False)


def _create_flow_run() -> None:
    op.create_table(
        "flow_run",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("flow_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("session_id", sa.String(), nullable=True),
        sa.Column("status", sa.String(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("ended_at", TZ, nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("inputs", sa.JSON(), nullable=True),
        sa.Column("outputs", sa.JSON(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("error_type", sa.String(), nullable=True),
        sa.Column("trigger_type", sa.String(), server_default=sa.text("'manual'"), nullable=False),
        sa.Column("components_executed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["flow.id"], name=op.f("fk_flow_run_flow_id_flow"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_flow_run_user_id_user"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_run")),
    )


def _create_api_key() -> None:
    op.create_table(
        "flowrun_api_key",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("key_prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("last_used_at", TZ, nullable=True),
        sa.Column("revoked_at", TZ, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_flowrun_api_key_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flowrun_api_key")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_flowrun_api_key_key_hash")),
    )
    op.create_index(
        op.f("ix_flowrun_api_key_user_id"), "flowrun_api_key", ["user_id"], unique=False
    )


def upgrade() -> None:
    for table, create in (
        ("user", _create_user),
        ("flow", _create_flow),
        ("flow_run", _create_flow_run),
        ("flowrun_api_key", _create_api_key),
    ):
        if not _exists(table):
            create()
    present = _index_names("flow_run")
    for name, columns, unique in FLOW_RUN_INDEXES:
        if name not in present:
            op.create_index(name, "flow_run", columns, unique=unique)


# Langflow keeps its own migration history in alembic_version (ours is a separate
# table): there user, flow and flow_run are Langflow's and hold its data, so a
# downgrade removes only what this revision put on top of them.
LANGFLOW_VERSION_TABLE = "alembic_version"
DASHBOARD_ONLY_INDEXES = (
    "ix_flow_run_started_at",
    "ix_flow_run_status_started_at",
    "ix_flow_run_flow_id_started_at",
)


def downgrade() -> None:
    op.drop_table("flowrun_api_key")
    if _exists(LANGFLOW_VERSION_TABLE):
        present = _index_names("flow_run")
        for name in DASHBOARD_ONLY_INDEXES:
            if name in present:
                op.drop_index(name, table_name="flow_run")
        return
    for name, *_ in reversed(FLOW_RUN_INDEXES):
        op.drop_index(name, table_name="flow_run")
    op.drop_table("flow_run")
    op.drop_index(op.f("ix_flow_user_id"), table_name="flow")
    op.drop_index(op.f("ix_flow_name"), table_name="flow")
    op.drop_table("flow")
    op.drop_index(op.f("ix_user_username"), table_name="user")
    op.drop_table("user")
