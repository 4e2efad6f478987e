"""Vectorised generation of demo run rows (tuples in COLUMNS order)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from data.demo.profiles import ERRORS, FIELDS, FLOWS, HOURLY, WEEKDAY


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


def _error_text(rng: np.random.Generator, key: str) -> tuple[str, str]:
    error_type, template = ERRORS[key]
    message = template.format(
        n=int(rng.integers(1, 120)),
        n2=int(rng.integers(1, 80)),
        n3=int(rng.integers(0, 5000)),
        f=FIELDS[int(rng.integers(0, len(FIELDS)))],
        h=f"{int(rng.integers(0, 65535)):04x}",
    )
    return error_type, message


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
METADATA_JSON = json.dumps({"demo": True, "engine": "langflow"})


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


def _time_ordered_ids(
    rng: np.random.Generator, start: datetime, offsets: np.ndarray
) -> list[uuid.UUID]:
    """UUIDv7 layout (48-bit ms timestamp, then random): inserts append to the primary
    key index instead of landing at random pages, which roughly halves load time."""
    millis = (start.timestamp() + offsets) * 1000
    randoms = rng.integers(0, 2**62, size=len(offsets), dtype=np.int64)
    ids = []
    for ms, rand in zip(millis.astype(np.int64).tolist(), randoms.tolist(), strict=True):
        high = (ms << 16) | (0x7 << 12) | (rand & 0xFFF)
        low = (0b10 << 62) | rand  # variant bits, then 62 random bits
        ids.append(uuid.UUID(int=(high << 64) | low))
    return ids


def chunk_rows(
    rng: np.random.Generator,
    offsets: np.ndarray,
    start: datetime,
    now: datetime,
    days: int,
    user_ids: list[uuid.UUID],
    flow_ids: list[uuid.UUID],
) -> list[tuple[Any, ...]]:
    """One chunk as tuples in COLUMNS order (uuid, aware datetime, JSON text)."""
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
    triggers = _triggers(rng, flow_index)
    components = np.array([f.components for f in FLOWS])[flow_index]
    partial = (components * rng.uniform(size=count)).astype(np.int64)
    users = rng.integers(0, len(user_ids), size=count)
    sessions = rng.integers(0, 50_000, size=count)
    ids = _time_ordered_ids(rng, start, offsets)
    rows: list[tuple[Any, ...]] = []
    for i in range(count):
        profile = FLOWS[flow_index[i]]
        started = start + timedelta(seconds=float(offsets[i]))
        state = status[i]
        finished = state in ("success", "failure", "cancelled")
        duration = int(durations[i]) if finished else None
        error_type = error_message = outputs = None
        if state == "failure":
            key = profile.errors[int(rng.integers(0, len(profile.errors)))]
            error_type, error_message = _error_text(rng, key)
        elif state == "success":
            outputs = (
                f'{{"message": "{profile.name} completed", "tokens": {int(durations[i]) // 7}}}'
            )
        rows.append(
            (
                ids[i],
                flow_ids[flow_index[i]],
                user_ids[users[i]],
                f"sess-{sessions[i]:05d}",
                state,
                started,
                started + timedelta(milliseconds=duration) if duration is not None else None,
                duration,
                f'{{"input_value": "request #{i % 997}", "source": "demo"}}',
                outputs,
                error_message,
                error_type,
                triggers[i],
                profile.components if state == "success" else int(partial[i]),
                METADATA_JSON,
            )
        )
    return rows
