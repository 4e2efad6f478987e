"""Failed dashboard sign-ins, for throttling (issue 13).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08

- ``flowrun_login_failure``: one row per failed sign-in, keyed by a SHA-256 of the account
  name or of the client address (data.signin). Kept in the database, not in one process:
  several dashboard processes behind a load balancer share it, and a restart does not
  reset it. Rows older than the throttle window are deleted as new failures arrive.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "flowrun_login_failure"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flowrun_login_failure")),
    )
    op.create_index("ix_flowrun_login_failure_key_hash_at", TABLE, ["key_hash", "at"])
    op.create_index("ix_flowrun_login_failure_at", TABLE, ["at"])


def downgrade() -> None:
    op.drop_index("ix_flowrun_login_failure_at", table_name=TABLE)
    op.drop_index("ix_flowrun_login_failure_key_hash_at", table_name=TABLE)
    op.drop_table(TABLE)
