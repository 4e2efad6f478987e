"""Where each sync from a Langflow database stands (our own table)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from data.model_base import Base
from data.types import UTCDateTime


class SyncState(Base):
    """One row per source database: its position in the source, when it last synced,
    and what it copied or skipped (and why)."""

    __tablename__ = "flowrun_sync_state"

    # A hash of the source URL without its password: the same source, whatever the secret.
    source_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(500))  # the URL, password masked
    kind: Mapped[str] = mapped_column(String(20))
    position: Mapped[Any] = mapped_column(JSON)
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_full_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    newest_end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    runs: Mapped[int] = mapped_column(BigInteger, default=0)
    steps: Mapped[int] = mapped_column(BigInteger, default=0)
    skipped: Mapped[Any] = mapped_column(JSON)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
