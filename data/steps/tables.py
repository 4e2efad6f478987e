"""Our own tables for steps and model prices (never another application's)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, Numeric, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from data.model_base import Base
from data.types import UTCDateTime


class Step(Base):
    """One component's execution inside a run (a Langflow span). Deleted with its run."""

    __tablename__ = "flowrun_step"
    __table_args__ = (Index("ix_flowrun_step_run_id_position", "run_id", "position"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    run_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("flow_run.id", ondelete="CASCADE"))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    # Order within the run: by start, then as the source listed them.
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String)
    step_type: Mapped[str | None] = mapped_column(String, nullable=True)
    status: Mapped[str] = mapped_column(String)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    latency_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    inputs: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    outputs: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    model: Mapped[str | None] = mapped_column(String, nullable=True)
    input_tokens: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    output_tokens: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    attributes: Mapped[Any | None] = mapped_column(JSON, nullable=True)


class ModelPrice(Base):
    """What an admin says a model costs, per million input and output tokens (no prices
    are bundled: they change)."""

    __tablename__ = "flowrun_model_price"

    model: Mapped[str] = mapped_column(String, primary_key=True)
    input_per_million: Mapped[Decimal] = mapped_column(Numeric(18, 6))
    output_per_million: Mapped[Decimal] = mapped_column(Numeric(18, 6))
    currency: Mapped[str] = mapped_column(String(8), default="USD")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(200))
