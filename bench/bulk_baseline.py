"""The demo bulk load before it was vectorised, kept as the benchmark's baseline: one
Python tuple per run built from datetime and UUID objects, then on SQLite a per-row
conversion to the stored form before executemany, and on PostgreSQL COPY with
``write_row`` per run. Copied from the previous data/demo/rows.py and writers.py."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine

from data.demo.profiles import ERRORS, FIELDS, FLOWS
from data.demo.rows import (
    COLUMNS,
    METADATA_JSON,
    _incident_masks,
    _statuses,
    _triggers,
)


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


def _insert_sqlite(engine: Engine, rows: list[tuple[Any, ...]]) -> None:
    """Raw executemany in the stored representation (hex ids, naive UTC text)."""

    def text_time(value: datetime | None) -> str | None:
        # isoformat is C-fast; its first 26 characters are the stored format (UTC values).
        if value is None:
            return None
        if value.microsecond:
            return value.isoformat(" ")[:26]
        return value.isoformat(" ")[:19] + ".000000"

    prepared = [
        (r[0].hex, r[1].hex, r[2].hex, r[3], r[4], text_time(r[5]), text_time(r[6]), *r[7:])
        for r in rows
    ]
    placeholders = ", ".join("?" for _ in COLUMNS)
    statement = f"INSERT INTO flow_run ({', '.join(COLUMNS)}) VALUES ({placeholders})"
    with engine.begin() as conn:
        conn.exec_driver_sql(statement, prepared)


def _insert_postgres(engine: Engine, rows: list[tuple[Any, ...]]) -> None:
    """COPY: several times faster than multi-row INSERT on PostgreSQL."""
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor:  # type: ignore[attr-defined]
            columns = ", ".join(f'"{c}"' for c in COLUMNS)
            with cursor.copy(f"COPY flow_run ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        raw.commit()
    finally:
        raw.close()


def baseline_writer(engine: Engine) -> Any:
    return _insert_sqlite if engine.dialect.name == "sqlite" else _insert_postgres
