"""SQL functions SQLite lacks, registered on every connection.

PostgreSQL computes the same values natively (``percentile_cont``, ``regexp_replace``);
these keep the aggregation inside the database on SQLite too.
"""

from __future__ import annotations

import json
import math
from typing import Any

from data.signature import message_signature

PERCENTILES: tuple[float, ...] = (0.5, 0.95, 0.99)


def interpolated_percentile(sorted_values: list[float], fraction: float) -> float:
    """``percentile_cont`` semantics: linear interpolation between closest ranks."""
    position = fraction * (len(sorted_values) - 1)
    lower = math.floor(position)
    upper = math.ceil(position)
    low_value = sorted_values[lower]
    return low_value + (sorted_values[upper] - low_value) * (position - lower)


class _PercentilesAggregate:
    """``flowrun_percentiles(x)`` -> JSON ``[p50, p95, p99]`` of the non-null inputs."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def step(self, value: Any) -> None:
        if value is not None:
            self.values.append(value)

    def finalize(self) -> str | None:
        if not self.values:
            return None
        self.values.sort()
        return json.dumps([interpolated_percentile(self.values, p) for p in PERCENTILES])


def _lower(value: str | None) -> str | None:
    return None if value is None else str(value).lower()


def register_sqlite_functions(dbapi_connection: Any) -> None:
    dbapi_connection.create_aggregate("flowrun_percentiles", 1, _PercentilesAggregate)
    dbapi_connection.create_function("flowrun_signature", 1, message_signature, deterministic=True)
    dbapi_connection.create_function("flowrun_lower", 1, _lower, deterministic=True)
