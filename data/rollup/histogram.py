"""Fixed log-spaced duration buckets, and percentiles read back from bucket counts.

Bucket ``i >= 0`` holds the integer durations ``lo_i .. top_i`` with
``top_i = floor(lo_i * FACTOR)``: below 25 ms every millisecond is a bucket of its own
(exact), above it a bucket spans at most 4 %. A value is reported as its bucket's
geometric midpoint ``sqrt(lo * top)``, which is within ``sqrt(FACTOR) - 1`` (1.98 %) of
every value in the bucket: that is ``RELATIVE_ERROR``, the stated bound. Negative
durations (rows written by other engines) use the mirrored buckets ``-i``.

The bucket of a value is the bound row with the largest ``lower_ms <= value`` (one index
seek on ``flowrun_rollup_bound``), so the triggers need no math functions: SQLite
builds without them, or another engine's connection, still maintain the rollup.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from functools import cache

import numpy as np

FACTOR = 1.04
RELATIVE_ERROR = math.sqrt(FACTOR) - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
PERCENTILES = (0.5, 0.95, 0.99)


@cache
def positive_buckets() -> tuple[tuple[int, int], ...]:
    """(lowest, highest) integer duration of each non-negative bucket, in order."""
    buckets = [(0, 0)]
    low = 1
    while low <= INT64_MAX:
        top = min(max(low, math.floor(low * FACTOR)), INT64_MAX)
        buckets.append((low, top))
        low = top + 1
    return tuple(buckets)


@cache
def bound_rows() -> tuple[tuple[int, int], ...]:
    """(bucket, lower_ms) for every bucket, negative ones included, by ``lower_ms``."""
    positive = positive_buckets()
    negative = [(-i, -top) for i, (_, top) in enumerate(positive) if i > 0]
    negative[-1] = (negative[-1][0], INT64_MIN)
    rows = negative[::-1] + [(i, low) for i, (low, _) in enumerate(positive)]
    return tuple(rows)


def representative(bucket: int) -> float:
    """The value reported for a bucket: within ``RELATIVE_ERROR`` of all its values."""
    low, top = positive_buckets()[abs(bucket)]
    middle = math.sqrt(low * top) if low else 0.0
    return middle if bucket >= 0 else -middle


def bucket_of(value: int) -> int:
    """The bucket holding ``value`` (what the SQL lookup computes), for tests."""
    rows = bound_rows()
    low, high = 0, len(rows) - 1
    while low < high:
        middle = (low + high + 1) // 2
        if rows[middle][1] <= value:
            low = middle
        else:
            high = middle - 1
    return rows[low][0]


@cache
def _representatives() -> np.ndarray:
    """``representative(bucket)`` for every bucket, indexed by ``bucket + OFFSET``."""
    return np.array([representative(b) for b in range(-OFFSET, OFFSET + 1)])


OFFSET = len(positive_buckets()) - 1


def histogram_percentiles(
    counts: Iterable[tuple[int, int]], fractions: Sequence[float] = PERCENTILES
) -> tuple[float | None, ...]:
    """Percentiles (linear interpolation between order statistics, like
    ``percentile_cont``) of the values described by (bucket, count) pairs, each order
    statistic taken as its bucket's representative value."""
    pairs = sorted((bucket, n) for bucket, n in counts if n > 0)
    if not pairs:
        return tuple(None for _ in fractions)
    buckets = np.fromiter((b for b, _ in pairs), dtype=np.int64, count=len(pairs))
    seen = np.cumsum(np.fromiter((n for _, n in pairs), dtype=np.int64, count=len(pairs)))
    values = _representatives()[buckets + OFFSET]
    ranks = np.asarray(fractions, dtype=float) * (seen[-1] - 1)
    below, above = np.floor(ranks), np.ceil(ranks)
    # The k-th smallest value (0-based) lies in the first bucket whose running count > k.
    low = values[np.searchsorted(seen, below, side="right")]
    high = values[np.searchsorted(seen, above, side="right")]
    return tuple(float(x) for x in low + (high - low) * (ranks - below))


def highest(counts: Iterable[tuple[int, int]]) -> float | None:
    """The largest value's representative (the maximum, within the bound)."""
    buckets = [bucket for bucket, n in counts if n > 0]
    return representative(max(buckets)) if buckets else None
