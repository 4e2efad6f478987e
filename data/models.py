"""ORM models, column-compatible with the kozmoai/Langflow ``user``, ``flow`` and ``flow_run``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from data.model_base import Base
from data.types import UTCDateTime


class FlowRunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    FAILURE = "failure"
    CANCELLED = "cancelled"

    @classmethod
    def active(cls) -> tuple[str, ...]:
        return (cls.PENDING.value, cls.RUNNING.value)

    @classmethod
    def finished(cls) -> tuple[str, ...]:
        return (cls.SUCCESS.value, cls.FAILURE.value, cls.CANCELLED.value)


class TriggerType(StrEnum):
    MANUAL = "manual"
    API = "api"
    WEBHOOK = "webhook"
    SCHEDULE = "schedule"
    # "cron" is what the original seed data and UI filter used for scheduled runs.
    CRON = "cron"


DURATION_TYPE = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class User(Base):
    __tablename__ = "user"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String, unique=True, index=True)
    password: Mapped[str] = mapped_column(String, default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False)
    create_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Flow(Base):
    __tablename__ = "flow"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String, index=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("user.id"), nullable=True, index=True
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class FlowRun(Base):
    __tablename__ = "flow_run"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    flow_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("flow.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("user.id", ondelete="SET NULL"), nullable=True, index=True
    )
    session_id: Mapped[str | None] = mapped_column(String, nullable=True, index=True)
    # Plain strings, not a DB enum: rows written by other engines may hold values we
    # do not know, and reading them must not fail.
    status: Mapped[str] = mapped_column(
        String, server_default=text("'pending'"), default=FlowRunStatus.PENDING.value, index=True
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # 64-bit on PostgreSQL (kozmoai's int4 overflows after 24.8 days); SQLite's INTEGER
    # already holds 64 bits, so it stays INTEGER there and no table is rebuilt.
    duration_ms: Mapped[int | None] = mapped_column(DURATION_TYPE, nullable=True)
    inputs: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    outputs: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_type: Mapped[str | None] = mapped_column(String, nullable=True)
    trigger_type: Mapped[str] = mapped_column(
        String, server_default=text("'manual'"), default=TriggerType.MANUAL.value, index=True
    )
    components_executed: Mapped[int] = mapped_column(Integer, server_default=text("0"), default=0)
    metadata_: Mapped[Any | None] = mapped_column("metadata", JSON, nullable=True)
    # Ours (migration 0007): on a flow_run another application owns, only with
    # `flowruns init-db --alter-owner-tables` (data.ownership says which it is).
    total_tokens: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    __table_args__ = (
        # The three composite indexes carry the columns the aggregates read, so every
        # dashboard query is answered from an index alone (SQLite's planner likes
        # skip-scans on the status and flow indexes; without these columns each
        # skip-scan paid a table lookup per row). shared/README: 12.5 s -> 0.6 s at 5M.
        Index(
            "ix_flow_run_started_at",
            "started_at",
            "status",
            "duration_ms",
            "flow_id",
            "trigger_type",
        ),
        # Newest runs with status X; status counts over a range.
        Index(
            "ix_flow_run_status_started_at",
            "status",
            "started_at",
            "duration_ms",
            "trigger_type",
            "flow_id",
        ),
        # One flow over a range, and per-flow breakdowns.
        Index(
            "ix_flow_run_flow_id_started_at",
            "flow_id",
            "started_at",
            "status",
            "duration_ms",
        ),
    )


class ApiKey(Base):
    """REST credentials. Only a SHA-256 hash of the key is stored."""

    __tablename__ = "flowrun_api_key"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String, default="default")
    key_prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AuditEntry(Base):
    """One delete operation (or its dry run): who, when, through which surface, the exact
    criteria and how far it got. Written before the work starts, updated per batch;
    retention never prunes this table."""

    __tablename__ = "flowrun_audit"
    __table_args__ = (Index("ix_flowrun_audit_actor_user_id_at", "actor_user_id", "at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # No foreign key: the entry outlives the user (and the name is kept in ``actor``).
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    actor: Mapped[str] = mapped_column(String(200))
    surface: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(20))
    criteria: Mapped[str] = mapped_column(Text)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    matched: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    affected: Mapped[int] = mapped_column(BigInteger, default=0)
    batches: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class StoredRetentionPolicy(Base):
    """The retention policy edited on the Retention page: one row (id 1). When absent,
    the ``FLOWRUNS_RETENTION_*`` settings are the policy."""

    __tablename__ = "flowrun_retention_policy"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    max_age_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_runs_per_flow: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # {"failure": 90, ...} as JSON text
    status_max_age_days: Mapped[str] = mapped_column(Text, default="{}")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200))


class LoginFailure(Base):
    """One failed dashboard sign-in (data.signin): counted per account and per client
    over a sliding window to throttle guessing. Only a SHA-256 of the key is stored: a
    mistyped "username" is often the password."""

    __tablename__ = "flowrun_login_failure"
    __table_args__ = (Index("ix_flowrun_login_failure_key_hash_at", "key_hash", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class ForeignTable(Base):
    """A shared table (user, flow, flow_run) that another application created and owns:
    its columns are never changed without `init-db --alter-owner-tables` (data.ownership)."""

    __tablename__ = "flowrun_foreign_table"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)


# Importing data.models registers every table on Base.metadata (migrations, drift checks):
# the rollup's tables live in their own module and are re-exported here.
from data.langflow.tables import SyncState  # noqa: E402
from data.rollup.tables import (  # noqa: E402
    DURATION_SUM_TYPE,
    RollupBound,
    RollupDay,
    RollupDayHistogram,
    RollupHour,
    RollupHourHistogram,
    RollupPause,
)
from data.steps.tables import ModelPrice, Step  # noqa: E402

__all__ = [
    "DURATION_SUM_TYPE",
    "Base",
    "ModelPrice",
    "RollupBound",
    "RollupDay",
    "RollupDayHistogram",
    "RollupHour",
    "RollupHourHistogram",
    "RollupPause",
    "Step",
    "SyncState",
]
