"""One run as the outside world sees it, decoded from a row so that no stored value can
fail the read: a value of the wrong type degrades to null (flagged in ``unreadable``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from data.stored_time import UnreadableTime, shown

UNREADABLE_DESCRIPTION = (
    "Columns whose stored value cannot be read as their type (another program wrote "
    "'yesterday' into started_at, text into duration_ms): column -> the stored value as "
    "text. Those fields are null. Empty for a good row."
)


class RunRecord(BaseModel):
    """One run as the outside world sees it (flow and user names joined)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    flow_id: uuid.UUID
    flow_name: str | None
    user_id: uuid.UUID | None
    username: str | None
    session_id: str | None
    status: str
    trigger_type: str
    # Null only when the stored value is unreadable (then named in ``unreadable``).
    started_at: datetime | None
    ended_at: datetime | None
    duration_ms: int | None
    components_executed: int
    error_type: str | None
    error_message: str | None
    inputs: Any | None = None
    outputs: Any | None = None
    metadata: Any | None = None
    total_tokens: int | None = None
    unreadable: dict[str, str] = Field(default_factory=dict, description=UNREADABLE_DESCRIPTION)


def to_record(row: Mapping[Any, Any]) -> RunRecord:
    """The row as a ``RunRecord``. A time no reader can hold (data.stored_time) or a value
    of the wrong type (another engine wrote text into an integer column of SQLite)
    degrades to null, or to 0 for the run's component count, and is named with its
    stored text in ``unreadable``, instead of failing the whole page."""
    values = dict(row)
    unreadable: dict[str, str] = {}
    for name, value in values.items():
        if isinstance(value, UnreadableTime):
            unreadable[name] = value.raw
            values[name] = None
    try:
        return RunRecord.model_validate(values | {"unreadable": unreadable})
    except ValidationError as exc:
        for error in exc.errors():
            name = str(error["loc"][0])
            unreadable[name] = shown(values.get(name))
            values[name] = 0 if name == "components_executed" else None
    return RunRecord.model_validate(values | {"unreadable": unreadable})
