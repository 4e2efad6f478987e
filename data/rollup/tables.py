"""The rollup's tables (data.rollup): maintained by database triggers, never written by
the ORM. Registered on the shared ``Base`` (data.models re-exports them)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    LargeBinary,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from data.model_base import Base
from data.types import UTCDateTime

DURATION_SUM_TYPE = Numeric().with_variant(BigInteger(), "sqlite")


class _RollupTotals:
    """Per (UTC period, flow, stored status, trigger): runs, runs with a duration, and
    the sum of their durations (NUMERIC on PostgreSQL: a sum of 64-bit values)."""

    period: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    flow_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    status: Mapped[str] = mapped_column(String, primary_key=True)
    trigger_type: Mapped[str] = mapped_column(String, primary_key=True)
    runs: Mapped[int] = mapped_column(BigInteger)
    duration_count: Mapped[int] = mapped_column(BigInteger)
    duration_sum: Mapped[int] = mapped_column(DURATION_SUM_TYPE)
    # Runs with a token count, and their sum (migration 0007).
    token_count: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    token_sum: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


def _histogram_key() -> PrimaryKeyConstraint:
    """Bucket before flow and status: a time series' ``GROUP BY period, bucket`` then
    reads rows in key order instead of sorting them (migration 0004)."""
    return PrimaryKeyConstraint("period", "bucket", "flow_id", "status")


class _RollupHistogram:
    """Per (UTC period, flow, stored status, duration bucket): runs."""

    period: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    flow_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    status: Mapped[str] = mapped_column(String, primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    runs: Mapped[int] = mapped_column(BigInteger)


class RollupHour(_RollupTotals, Base):
    __tablename__ = "flowrun_rollup_hour"
    __table_args__ = {"sqlite_with_rowid": False}


class RollupHourHistogram(_RollupHistogram, Base):
    __tablename__ = "flowrun_rollup_hour_hist"
    __table_args__ = (_histogram_key(), {"sqlite_with_rowid": False})


class RollupDay(_RollupTotals, Base):
    __tablename__ = "flowrun_rollup_day"
    __table_args__ = {"sqlite_with_rowid": False}


class RollupDayHistogram(_RollupHistogram, Base):
    __tablename__ = "flowrun_rollup_day_hist"
    __table_args__ = (_histogram_key(), {"sqlite_with_rowid": False})


class RollupBound(Base):
    """The lowest duration of each histogram bucket (see data.rollup.histogram)."""

    __tablename__ = "flowrun_rollup_bound"
    __table_args__ = {"sqlite_with_rowid": False}

    lower_ms: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    bucket: Mapped[int] = mapped_column(Integer)


class RollupPause(Base):
    """Holds a row only inside a batched delete's transaction, which then keeps the
    rollup itself: the delete triggers skip it (see data.rollup.schema, migration 0005)."""

    __tablename__ = "flowrun_rollup_pause"

    paused: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


def _pending(table: Table) -> Table:
    """PostgreSQL's triggers append signed changes here instead of updating the shared
    rows of ``table`` (two writers upserting the same keys in opposite orders deadlocked:
    issue 16, case 5); one transaction at a time folds them in (data.rollup.pending).
    Same columns, no key: an append never waits for another writer. Empty on SQLite,
    whose writers are serialised anyway."""
    columns = [
        Column(c.name, c.type, nullable=False, server_default=c.server_default and text("0"))
        for c in table.columns
    ]
    return Table(f"{table.name}_pending", Base.metadata, *columns)


PENDING: dict[str, Table] = {
    model.__tablename__: _pending(model.__table__)  # type: ignore[arg-type]
    for model in (RollupHour, RollupHourHistogram, RollupDay, RollupDayHistogram)
}

# The key columns of a run as stored, whatever the value (BLOB affinity on SQLite: no
# conversion, so another engine's odd started_at keeps its own rollup period).
AS_STORED = LargeBinary().with_variant(Text(), "postgresql")
REPLACED = Table(
    "flowrun_rollup_replaced",
    Base.metadata,
    Column("id", AS_STORED, primary_key=True),
    *(
        Column(name, AS_STORED)
        for name in (
            "started_at",
            "flow_id",
            "status",
            "trigger_type",
            "duration_ms",
            "total_tokens",
        )
    ),
)
"""SQLite: the row an ``INSERT OR REPLACE`` (or ``UPDATE OR REPLACE``) is about to remove,
which SQLite deletes without firing delete triggers; the insert's trigger takes it out of
the rollup (issue 16, case 1). Holds a row only during that statement."""
