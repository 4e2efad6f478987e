"""Deterministic, realistic demo runs: named flows, users and sessions, log-normal
durations, daily and weekly seasonality, error bursts, a latency regression, and a few
runs still in progress. Vectorised with numpy and bulk-inserted in chunks.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine, insert, select

from data.db import session_scope
from data.errors import InvalidQuery
from data.models import Flow, FlowRun, User, utcnow

DEMO_MARKER = "[demo data]"
MAX_DEMO_RUNS = 20_000_000


@dataclass(frozen=True)
class FlowProfile:
    name: str
    weight: float  # share of traffic
    median_ms: float
    sigma: float  # log-normal spread
    failure_rate: float
    components: int
    triggers: dict[str, float]
    errors: tuple[str, ...]  # keys of ERRORS


ERRORS: dict[str, tuple[str, str]] = {
    "timeout": ("TimeoutError", "Request to the LLM provider timed out after {n} s"),
    "rate": ("RateLimitError", "Rate limit reached for model gpt-4o: limit {n} tokens/min"),
    "validation": ("ValidationError", "1 validation error for ChatInput: field '{f}' required"),
    "connection": ("ConnectionError", "Could not connect to vector store (attempt {n} of 5)"),
    "key": ("KeyError", "'{f}'"),
    "json": ("JSONDecodeError", "Expecting value: line {n} column {n2} (char {n3})"),
    "auth": ("AuthenticationError", "Invalid API key for provider (key ending ...{n3})"),
    "memory": ("MemoryError", "Component 'Embed documents' ran out of memory at {n} MB"),
}

FLOWS: tuple[FlowProfile, ...] = (
    FlowProfile(
        "Customer Support Bot",
        0.22,
        2400,
        0.55,
        0.03,
        7,
        {"api": 0.6, "webhook": 0.3, "manual": 0.1},
        ("timeout", "rate", "validation"),
    ),
    FlowProfile(
        "Invoice Extraction",
        0.12,
        5200,
        0.45,
        0.05,
        9,
        {"webhook": 0.7, "api": 0.2, "manual": 0.1},
        ("json", "validation", "key"),
    ),
    FlowProfile(
        "Lead Enrichment",
        0.10,
        3100,
        0.6,
        0.04,
        6,
        {"schedule": 0.5, "api": 0.4, "manual": 0.1},
        ("rate", "timeout", "auth"),
    ),
    FlowProfile(
        "Document Q&A (RAG)",
        0.14,
        4100,
        0.5,
        0.025,
        11,
        {"api": 0.8, "manual": 0.2},
        ("connection", "timeout", "memory"),
    ),
    FlowProfile(
        "Nightly Report Digest",
        0.04,
        42000,
        0.35,
        0.06,
        14,
        {"schedule": 0.95, "manual": 0.05},
        ("timeout", "memory", "key"),
    ),
    FlowProfile(
        "Slack Triage Agent",
        0.09,
        1800,
        0.5,
        0.02,
        5,
        {"webhook": 0.9, "manual": 0.1},
        ("rate", "auth"),
    ),
    FlowProfile(
        "Contract Review",
        0.05,
        16000,
        0.5,
        0.07,
        12,
        {"manual": 0.6, "api": 0.4},
        ("timeout", "validation", "memory"),
    ),
    FlowProfile(
        "Product Description Writer",
        0.08,
        2900,
        0.4,
        0.015,
        4,
        {"api": 0.7, "schedule": 0.2, "manual": 0.1},
        ("rate", "validation"),
    ),
    FlowProfile(
        "Email Classifier",
        0.11,
        650,
        0.45,
        0.01,
        3,
        {"webhook": 0.85, "api": 0.15},
        ("json", "key"),
    ),
    FlowProfile(
        "Data Sync to CRM",
        0.05,
        8800,
        0.7,
        0.05,
        6,
        {"schedule": 0.9, "manual": 0.1},
        ("connection", "auth", "timeout"),
    ),
)
USERS = ("ops.analyst", "maria.chen", "sam.okafor", "integration-bot", "li.wei")
# Relative traffic by hour of day (UTC) and day of week (Monday first).
HOURLY = np.array(
    [2, 1.5, 1.2, 1, 1, 1.3, 2.5, 4.5, 7, 8.5, 9, 9, 8, 8.5, 9, 8.8, 8, 6.5, 5, 4, 3.5, 3, 2.6, 2.2]
)
WEEKDAY = np.array([1.0, 1.05, 1.05, 1.0, 0.95, 0.35, 0.3])
FIELDS = ("customer_id", "message", "invoice_total", "email", "document_url")


@dataclass(frozen=True)
class DemoSummary:
    users: int
    flows: int
    runs: int


def _ensure_flows(engine: Engine) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """Create the demo users and flows (or reuse them): (user ids, flow ids by FLOWS)."""
    with session_scope(engine) as session:
        user_ids = []
        for name in USERS:
            user = session.scalar(select(User).where(User.username == name))
            if user is None:
                user = User(id=uuid.uuid4(), username=name, is_superuser=name == "ops.analyst")
                session.add(user)
                session.flush()
            user_ids.append(user.id)
        flow_ids = []
        for index, profile in enumerate(FLOWS):
            owner = user_ids[index % len(user_ids)]
            flow = session.scalar(
                select(Flow).where(Flow.name == profile.name, Flow.user_id == owner)
            )
            if flow is None:
                flow = Flow(
                    id=uuid.uuid4(),
                    name=profile.name,
                    user_id=owner,
                    description=f"{DEMO_MARKER} {profile.name}",
                )
                session.add(flow)
                session.flush()
            flow_ids.append(flow.id)
    return user_ids, flow_ids


def _start_times(rng: np.random.Generator, runs: int, start: datetime, days: int) -> np.ndarray:
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


def _chunk_rows(
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


def _insert_generic(engine: Engine, rows: list[tuple[Any, ...]]) -> None:
    """Any other backend: ORM-level executemany (slower, but portable)."""
    keys = [("metadata_" if c == "metadata" else c) for c in COLUMNS]
    records = [dict(zip(keys, r, strict=True)) for r in rows]
    for record in records:
        for key in ("inputs", "outputs", "metadata_"):
            if record[key] is not None:
                record[key] = json.loads(record[key])
    with session_scope(engine) as session:
        session.execute(insert(FlowRun), records)


def _writer(engine: Engine) -> Callable[[Engine, list[tuple[Any, ...]]], None]:
    if engine.dialect.name == "sqlite":
        return _insert_sqlite
    if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
        return _insert_postgres
    return _insert_generic


def generate_demo(
    engine: Engine,
    runs: int,
    *,
    days: int = 90,
    seed: int = 42,
    now: datetime | None = None,
    chunk_size: int = 20_000,
    progress: Callable[[int, int], None] | None = None,
) -> DemoSummary:
    """Insert ``runs`` demo runs spread over the ``days`` before ``now``."""
    if not 0 <= runs <= MAX_DEMO_RUNS:
        raise InvalidQuery(f"runs: must be between 0 and {MAX_DEMO_RUNS:,}")
    if not 1 <= days <= 3650:
        raise InvalidQuery("days: must be between 1 and 3650")
    now = now or utcnow()
    start = now - timedelta(days=days)
    rng = np.random.default_rng(seed)
    user_ids, flow_ids = _ensure_flows(engine)
    offsets = _start_times(rng, runs, start, days)
    write = _writer(engine)
    done = 0
    while done < runs:
        count = min(chunk_size, runs - done)
        chunk = offsets[done : done + count]
        write(engine, _chunk_rows(rng, chunk, start, now, days, user_ids, flow_ids))
        done += count
        if progress is not None:
            progress(done, runs)
    return DemoSummary(users=len(user_ids), flows=len(flow_ids), runs=runs)


def is_demo_database(engine: Engine) -> bool:
    with engine.connect() as conn:
        found = conn.execute(
            select(Flow.id).where(Flow.description.like(f"{DEMO_MARKER}%")).limit(1)
        ).first()
    return found is not None
