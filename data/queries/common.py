"""Pieces shared by the aggregate queries."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import case, func
from sqlalchemy.sql.elements import ColumnElement

from data.models import FlowRun, FlowRunStatus, TriggerType

STATUS_VALUES = tuple(s.value for s in FlowRunStatus)
TRIGGER_VALUES = tuple(t.value for t in TriggerType)


def percentiles(raw: Any) -> tuple[float | None, float | None, float | None]:
    """Normalise the backend's percentile result (JSON text or array) to (p50, p95, p99)."""
    if raw is None:
        return (None, None, None)
    values = json.loads(raw) if isinstance(raw, str) else list(raw)
    return (float(values[0]), float(values[1]), float(values[2]))


def count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """Rows matching ``condition``, as an aggregate: pivots without a GROUP BY sort."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def status_count(status: str) -> ColumnElement[int]:
    return count_where(FlowRun.status == status)


def success_rate(success: int, finished: int) -> float | None:
    return success / finished if finished else None
