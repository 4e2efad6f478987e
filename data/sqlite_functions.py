"""SQL functions SQLite lacks, registered on every connection.

PostgreSQL computes the same values natively (``percentile_cont``, ``regexp_replace``);
these keep the aggregation inside the database on SQLite too.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
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


def lenient_text(value: Any) -> str | None:
    """A text argument passed as a BLOB (see data.sql_functions): sqlite3 refuses to hand
    a function TEXT that is not valid UTF-8, which another engine may have stored, and
    the whole query failed. Undecodable bytes become U+FFFD instead."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _lower(value: Any) -> str | None:
    text = lenient_text(value)
    return None if text is None else text.lower()


# Failures repeat their messages (5.5k distinct among 33k failures in the 1M-run demo's
# 90 days): a message's signature is worked out once per connection's process, not per
# row (the regexes cost ~20 us a call). Bounded: a few MB at most.
@lru_cache(maxsize=32_768)
def _signature(value: Any) -> str | None:
    return message_signature(lenient_text(value))


def register_sqlite_functions(dbapi_connection: Any) -> None:
    dbapi_connection.create_aggregate("flowrun_percentiles", 1, _PercentilesAggregate)
    dbapi_connection.create_function("flowrun_signature", 1, _signature, deterministic=True)
    dbapi_connection.create_function("flowrun_lower", 1, _lower, deterministic=True)
