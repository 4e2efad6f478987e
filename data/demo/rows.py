"""Vectorised generation of demo run rows, column by column.

A chunk is a ``DemoChunk`` of plain Python lists (one per column, via numpy ``tolist``), in
a neutral form the writers turn into their stored form without a Python loop per row:
ids as 32-digit hex, times as numpy datetime64 (UTC), JSON as text. Per-row Python
(datetime and UUID objects, f-strings, tuples) was the generator's cost; see
bench/results/bulk.md.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import numpy as np

from data.demo.profiles import ERRORS, FIELDS, FLOWS, HOURLY, WEEKDAY

COLUMNS = (
    "id",
    "flow_id",
    "user_id",
    "session_id",
    "status",
    "started_at",
    "ended_at",
    "duration_ms",
    "inputs",
    "outputs",
    "error_message",
    "error_type",
    "trigger_type",
    "components_executed",
    "metadata",
)
METADATA_JSON = '{"demo": true, "engine": "langflow"}'
SESSIONS = 50_000
INPUT_VARIANTS = 997
NONE = np.array(None, dtype=object)  # np.where's "missing" branch for object columns


@dataclass(frozen=True)
class DemoChunk:
    """Column lists in COLUMNS order; ``started_at``/``ended_at`` are datetime64[us]
    arrays (naive UTC; NaT for a run still in progress)."""

    columns: dict[str, Any]

    def __len__(self) -> int:
        return len(self.columns["id"])


def start_times(rng: np.random.Generator, runs: int, start: datetime, days: int) -> np.ndarray:
    """Seconds since ``start`` for each run, sorted, following the seasonality."""
    hours = np.arange(days * 24)
    weekday_of_start = start.weekday()
    hour_of_day = (hours + start.hour) % 24
    weekday = ((hours + start.hour) // 24 + weekday_of_start) % 7
    weights = HOURLY[hour_of_day] * WEEKDAY[weekday]
    chosen = rng.choice(hours, size=runs, p=weights / weights.sum())
    return np.sort(chosen * 3600.0 + rng.uniform(0, 3600, size=runs))


def _incident_masks(
    offsets: np.ndarray, flow_index: np.ndarray, days: int
) -> tuple[np.ndarray, np.ndarray]:
    """(failure burst, latency regression) masks: fixed windows in the span."""
    hour = offsets / 3600
    span = days * 24
    burst = np.zeros(offsets.shape, dtype=bool)
    for flow, start_frac, hours in ((0, 0.62, 5), (3, 0.85, 3), (1, 0.3, 8)):
        begin = span * start_frac
        burst |= (flow_index == flow) & (hour >= begin) & (hour < begin + hours)
    regression_start = span * 0.9
    regression = (flow_index == 2) & (hour >= regression_start)
    return burst, regression


@lru_cache(maxsize=1)
def _text_tables() -> tuple[np.ndarray, np.ndarray]:
    """(session ids, inputs JSON) to pick from by index, built once per process."""
    sessions = np.array([f"sess-{n:05d}" for n in range(SESSIONS)], dtype=object)
    inputs = np.array(
        [f'{{"input_value": "request #{n}", "source": "demo"}}' for n in range(INPUT_VARIANTS)],
        dtype=object,
    )
    return sessions, inputs


def _statuses(
    rng: np.random.Generator, count: int, fail_p: np.ndarray, in_flight: np.ndarray
) -> np.ndarray:
    roll = rng.uniform(size=count)
    status = np.where(roll < fail_p, "failure", np.where(roll > 0.992, "cancelled", "success"))
    pending = rng.uniform(size=count) < 0.15
    return np.where(in_flight, np.where(pending, "pending", "running"), status).astype(object)


def _triggers(rng: np.random.Generator, flow_index: np.ndarray) -> np.ndarray:
    triggers = np.empty(flow_index.shape, dtype=object)
    for index, profile in enumerate(FLOWS):
        mask = flow_index == index
        names, weights = list(profile.triggers), np.array(list(profile.triggers.values()))
        triggers[mask] = rng.choice(names, size=int(mask.sum()), p=weights / weights.sum())
    return triggers


def _errors(
    rng: np.random.Generator, flow_index: np.ndarray, failed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(error_type, error_message) object arrays, None where the run did not fail."""
    types = np.full(flow_index.shape, None, dtype=object)
    messages = np.full(flow_index.shape, None, dtype=object)
    rows = np.flatnonzero(failed)
    picks = rng.integers(0, 2**31, size=(len(rows), 5))
    for row, (pick, n, n2, n3, field) in zip(rows.tolist(), picks.tolist(), strict=True):
        errors = FLOWS[flow_index[row]].errors
        error_type, template = ERRORS[errors[pick % len(errors)]]
        types[row] = error_type
        messages[row] = template.format(
            n=1 + n % 119, n2=1 + n2 % 79, n3=n3 % 5000, f=FIELDS[field % len(FIELDS)]
        )
    return types, messages


def _outputs(flow_index: np.ndarray, durations: np.ndarray, succeeded: np.ndarray) -> list[Any]:
    prefixes = [f'{{"message": "{f.name} completed", "tokens": ' for f in FLOWS]
    tokens = (durations // 7).tolist()
    return [
        f"{prefixes[flow]}{count}}}" if success else None
        for flow, count, success in zip(
            flow_index.tolist(), tokens, succeeded.tolist(), strict=True
        )
    ]


def _time_ordered_hex_ids(
    rng: np.random.Generator, start: datetime, offsets: np.ndarray
) -> list[str]:
    """UUIDv7 layout (48-bit ms timestamp, then random) as 32 hex digits: inserts append
    to the primary key index instead of landing at random pages."""
    millis = ((start.timestamp() + offsets) * 1000).astype(np.uint64)
    randoms = rng.integers(0, 2**62, size=len(offsets), dtype=np.int64).astype(np.uint64)
    words = np.empty((len(offsets), 2), dtype=">u8")
    words[:, 0] = (millis << np.uint64(16)) | np.uint64(0x7000) | (randoms & np.uint64(0xFFF))
    words[:, 1] = (np.uint64(0b10) << np.uint64(62)) | randoms
    digits = words.tobytes().hex()
    return [digits[i : i + 32] for i in range(0, len(digits), 32)]


def chunk_rows(
    rng: np.random.Generator,
    offsets: np.ndarray,
    start: datetime,
    now: datetime,
    days: int,
    user_ids: list[uuid.UUID],
    flow_ids: list[uuid.UUID],
) -> DemoChunk:
    """One chunk of runs starting ``offsets`` seconds after ``start``."""
    count = len(offsets)
    weights = np.array([f.weight for f in FLOWS])
    flow_index = rng.choice(len(FLOWS), size=count, p=weights / weights.sum())
    burst, regression = _incident_masks(offsets, flow_index, days)
    medians = np.array([f.median_ms for f in FLOWS])[flow_index]
    sigmas = np.array([f.sigma for f in FLOWS])[flow_index]
    durations = rng.lognormal(np.log(medians), sigmas) * np.where(regression, 3.2, 1.0)
    durations = durations.astype(np.int64)
    fail_p = np.array([f.failure_rate for f in FLOWS])[flow_index]
    fail_p = np.where(burst, 0.65, np.where(regression, fail_p * 2, fail_p))
    age_ms = ((now - start).total_seconds() - offsets) * 1000
    # In flight: not finished yet by its own duration, some long runs in the last half hour,
    # and a rare run left stuck (for the stuck-run sweep to find).
    recent = (age_ms < 30 * 60 * 1000) & (rng.uniform(size=count) < 0.6)
    stuck = rng.uniform(size=count) < 0.0002
    status = _statuses(rng, count, fail_p, (age_ms < durations) | recent | stuck)
    finished = np.isin(status, ("success", "failure", "cancelled"))
    succeeded = status == "success"
    components = np.array([f.components for f in FLOWS])[flow_index]
    partial = (components * rng.uniform(size=count)).astype(np.int64)
    users = rng.integers(0, len(user_ids), size=count)
    sessions = rng.integers(0, SESSIONS, size=count)
    triggers = _triggers(rng, flow_index)
    ids = _time_ordered_hex_ids(rng, start, offsets)
    error_types, error_messages = _errors(rng, flow_index, status == "failure")
    started = np.datetime64(start.replace(tzinfo=None), "us") + (offsets * 1e6).astype(
        "timedelta64[us]"
    )
    ended = np.where(finished, started + durations.astype("timedelta64[ms]"), np.datetime64("NaT"))
    session_table, input_table = _text_tables()
    columns = {
        "id": ids,
        "flow_id": np.array([f.hex for f in flow_ids], dtype=object)[flow_index].tolist(),
        "user_id": np.array([u.hex for u in user_ids], dtype=object)[users].tolist(),
        "session_id": session_table[sessions].tolist(),
        "status": status.tolist(),
        "started_at": started,
        "ended_at": ended,
        "duration_ms": np.where(finished, durations.astype(object), NONE).tolist(),
        "inputs": input_table[np.arange(count) % INPUT_VARIANTS].tolist(),
        "outputs": _outputs(flow_index, durations, succeeded),
        "error_message": error_messages.tolist(),
        "error_type": error_types.tolist(),
        "trigger_type": triggers.tolist(),
        "components_executed": np.where(succeeded, components, partial).tolist(),
        "metadata": [METADATA_JSON] * count,
    }
    return DemoChunk(columns)
