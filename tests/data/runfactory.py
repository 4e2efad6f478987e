"""Seeding helpers for the data-layer tests: insert known rows, and the same rows as pandas.

The tests compare what the data layer computes in SQL with what pandas computes over the
rows inserted here, so these helpers only write; they never read through the code under test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, create_engine, delete, insert, text
from sqlalchemy.engine import make_url

from data.db import session_scope
from data.models import ApiKey, Flow, FlowRun, User

# Same default as tests/conftest.py (the local trust-auth server).
ADMIN_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BASE = datetime(2024, 3, 4, 0, 0, tzinfo=UTC)  # a Monday
FINISHED = ("success", "failure", "cancelled")
RUN_COLUMNS = (
    "id",
    "flow_id",
    "user_id",
    "session_id",
    "status",
    "trigger_type",
    "started_at",
    "ended_at",
    "duration_ms",
    "components_executed",
    "error_type",
    "error_message",
    "inputs",
    "outputs",
    "metadata",
    "total_tokens",
)


@dataclass
class World:
    """Users and flows in a test database, plus every run inserted through ``add``."""

    engine: Engine
    users: list[uuid.UUID] = field(default_factory=list)
    usernames: dict[uuid.UUID, str] = field(default_factory=dict)
    flows: list[uuid.UUID] = field(default_factory=list)
    flow_names: dict[uuid.UUID, str] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)

    def run(self, **values: Any) -> dict[str, Any]:
        """A run dict with defaults; ``flow``/``user`` may be given as indexes."""
        flow = values.pop("flow", 0)
        user = values.pop("user", None)
        row: dict[str, Any] = {
            "id": uuid.uuid4(),
            "flow_id": self.flows[flow],
            "user_id": None if user is None else self.users[user],
            "session_id": None,
            "status": "success",
            "trigger_type": "manual",
            "started_at": BASE,
            "ended_at": None,
            "duration_ms": None,
            "components_executed": 0,
            "error_type": None,
            "error_message": None,
            "inputs": None,
            "outputs": None,
            "metadata": None,
            "total_tokens": None,
        }
        unknown = set(values) - set(row)
        assert not unknown, f"unknown run fields {unknown}"
        row.update(values)
        return row

    def add(self, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Insert runs (dicts from ``run``) with one executemany; returns them."""
        added = [dict(r) for r in rows]
        if added:
            records = [
                {("metadata_" if k == "metadata" else k): v for k, v in r.items()} for r in added
            ]
            with session_scope(self.engine) as session:
                session.execute(insert(FlowRun), records)
        self.runs.extend(added)
        return added

    def frame(self) -> pd.DataFrame:
        """Every inserted run as pandas (UTC timestamps, nullable durations as float)."""
        frame = pd.DataFrame(self.runs, columns=list(RUN_COLUMNS))
        for column in ("started_at", "ended_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
        frame["duration_ms"] = frame["duration_ms"].astype("float64")
        frame["flow_name"] = frame["flow_id"].map(self.flow_names)
        return frame

    def ids(self, predicate: Any = None) -> set[uuid.UUID]:
        return {r["id"] for r in self.runs if predicate is None or predicate(r)}


def make_world(engine: Engine, flows: int = 3, users: int = 2) -> World:
    """Users ``user0..``, flows ``alpha, bravo, ...`` (names that sort the same everywhere)."""
    world = World(engine)
    names = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
    with session_scope(engine) as session:
        for index in range(users):
            user = User(id=uuid.uuid4(), username=f"user{index}")
            session.add(user)
            world.users.append(user.id)
            world.usernames[user.id] = user.username
        session.flush()
        for index in range(flows):
            owner = world.users[index % users] if users else None
            flow = Flow(id=uuid.uuid4(), name=names[index], user_id=owner)
            session.add(flow)
            world.flows.append(flow.id)
            world.flow_names[flow.id] = flow.name
    return world


def clear(engine: Engine) -> None:
    """Remove every row (used between hypothesis examples on one database)."""
    with engine.begin() as conn:
        for model in (ApiKey, FlowRun, Flow, User):
            conn.execute(delete(model))


def percentile(values: Iterable[float], q: float) -> float | None:
    """The independent percentile: numpy's linear interpolation."""
    array = np.asarray([v for v in values if v is not None and not pd.isna(v)], dtype=float)
    return None if array.size == 0 else float(np.percentile(array, q, method="linear"))


def success_rate(statuses: Iterable[str]) -> float | None:
    listed = list(statuses)
    finished = sum(s in FINISHED for s in listed)
    return None if finished == 0 else listed.count("success") / finished


def at(days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> datetime:
    return BASE + timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


@contextmanager
def temporary_pg_database(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database (dropped afterwards): the URL to use it."""
    admin_url = os.environ.get("FLOWRUNS_TEST_PG_URL", ADMIN_PG_URL)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
