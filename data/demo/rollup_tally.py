"""The rollup of a load into an empty table, counted from the generated columns.

Rebuilding the rollup with SQL after a large load scans ``flow_run`` four times (two
grains, totals and histogram) with a bucket lookup per row: 18.6 s of a 1M-run SQLite
load (bench/results/bulk.md). The loader holds every run's key columns in memory anyway,
so it counts them chunk by chunk with numpy and writes one row per key instead. The keys
follow data/rollup/schema.py: UTC hour and day of ``started_at``, ``flow_id``, ``status``
as stored, ``trigger_type``, and the bucket of ``bound_rows`` with the largest
``lower_ms <= duration_ms`` (what the triggers look up). ``check`` compares the result
with the raw rows (tests/data/test_data_demo_load.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import Connection

from data.demo.rows import DemoChunk
from data.demo.writers import insert_rows, time_texts
from data.rollup.histogram import bound_rows
from data.rollup.maintain import present_pending
from data.rollup.schema import (
    GRAINS,
    HIST_KEY,
    TOTALS_KEY,
    Grain,
    all_tables,
    histogram_table,
    totals_table,
)
from data.sql_functions import USABLE_DURATION_MS

HOURS_PER_PERIOD: dict[Grain, int] = {"hour": 1, "day": 24}
TEXT_KEYS = ("flow_id", "status", "trigger_type")


def _group(
    keys: Sequence[np.ndarray], sums: Sequence[np.ndarray]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(distinct key columns, per-key sums), ordered by the keys."""
    order = np.lexsort(list(keys)[::-1])
    ordered = [k[order] for k in keys]
    changed = np.zeros(len(order), dtype=bool)
    changed[:1] = True
    for column in ordered:
        changed[1:] |= column[1:] != column[:-1]
    firsts = np.flatnonzero(changed)
    return [k[firsts] for k in ordered], [np.add.reduceat(s[order], firsts) for s in sums]


class RollupTally:
    """Key columns of every run added, as small integer codes per text value."""

    def __init__(self) -> None:
        self._texts: dict[str, dict[str, int]] = {name: {} for name in TEXT_KEYS}
        self._parts: list[dict[str, np.ndarray]] = []
        bounds = np.array(bound_rows(), dtype=np.int64)
        self._buckets, self._lowers = bounds[:, 0], bounds[:, 1]

    def _codes(self, name: str, values: list[Any]) -> np.ndarray:
        distinct, inverse = np.unique(np.array(values, dtype=object), return_inverse=True)
        table = self._texts[name]
        codes = np.array([table.setdefault(v, len(table)) for v in distinct], dtype=np.int64)
        result: np.ndarray = codes[inverse]
        return result

    def add(self, chunk: DemoChunk) -> None:
        columns = chunk.columns
        # The rollup's rule (data.sql_functions.usable_duration): past +-2**40 ms a
        # duration is not counted (no sum of them could overflow).
        timed = np.array(
            [
                d is not None and -USABLE_DURATION_MS <= d <= USABLE_DURATION_MS
                for d in columns["duration_ms"]
            ],
            dtype=bool,
        )
        durations = np.array(
            [d if t else 0 for d, t in zip(columns["duration_ms"], timed, strict=True)],
            dtype=object,
        )
        part = {name: self._codes(name, columns[name]) for name in TEXT_KEYS}
        part["hour"] = columns["started_at"].astype("datetime64[h]").astype(np.int64)
        part["timed"] = timed.astype(np.int64)
        part["duration"] = np.where(timed, durations, 0).astype(np.int64)
        self._parts.append(part)

    def _column(self, name: str) -> np.ndarray:
        return np.concatenate([part[name] for part in self._parts])

    def _sorted_codes(self, name: str) -> np.ndarray:
        """The column's codes renumbered in the order of their texts: rows then reach the
        rollup tables in primary-key order (appends, not inserts between keys)."""
        table = self._texts[name]
        rank = np.empty(len(table), dtype=np.int64)
        rank[[table[text] for text in sorted(table)]] = np.arange(len(table))
        result: np.ndarray = rank[self._column(name)]
        return result

    def write(self, conn: Connection) -> None:
        """Replace the rollup with the counts of every run added."""
        for table in all_tables() + present_pending(conn):
            conn.exec_driver_sql(f"DELETE FROM {table}")
        if not self._parts:
            return
        hours, timed, durations = (self._column(n) for n in ("hour", "timed", "duration"))
        flows, statuses, triggers = (self._sorted_codes(n) for n in TEXT_KEYS)
        ones = np.ones(len(hours), dtype=np.int64)
        with_duration = timed.astype(bool)
        lookup = np.searchsorted(self._lowers, durations[with_duration], side="right") - 1
        buckets = self._buckets[lookup]
        texts = {name: np.array(sorted(self._texts[name]), dtype=object) for name in TEXT_KEYS}
        for grain in GRAINS:
            periods = hours // HOURS_PER_PERIOD[grain]
            keys, sums = _group([periods, flows, statuses, triggers], [ones, timed, durations])
            sums_of = dict(zip(("runs", "duration_count", "duration_sum"), sums, strict=True))
            rows = _stored(conn, grain, dict(zip(TOTALS_KEY, keys, strict=True)), texts)
            insert_rows(conn, totals_table(grain), rows | _numbers(sums_of))
            hist = [periods[with_duration], flows[with_duration], statuses[with_duration]]
            keys, sums = _group([*hist, buckets], [ones[with_duration]])
            rows = _stored(conn, grain, dict(zip(HIST_KEY, keys, strict=True)), texts)
            insert_rows(conn, histogram_table(grain), rows | _numbers({"runs": sums[0]}))


def _numbers(columns: dict[str, np.ndarray]) -> dict[str, list[Any]]:
    return {name: values.tolist() for name, values in columns.items()}


def _stored(
    conn: Connection, grain: Grain, keys: dict[str, np.ndarray], texts: dict[str, np.ndarray]
) -> dict[str, list[Any]]:
    """Key columns in the stored form: the period's start as text, codes as their text."""
    hours = keys["period"] * HOURS_PER_PERIOD[grain]
    starts = hours.astype("datetime64[h]").astype("datetime64[us]")
    suffix = "" if conn.dialect.name == "sqlite" else "+00"
    stored: dict[str, list[Any]] = {"period": time_texts(starts, " ", suffix)}
    for name, values in keys.items():
        if name in texts:
            stored[name] = texts[name][values].tolist()
        elif name != "period":
            stored[name] = values.tolist()
    return stored
