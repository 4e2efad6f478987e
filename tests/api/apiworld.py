"""Seeding for the API tests: three callers (two regular users and a superuser), three
flows and a set of runs on each backend.

The seeded rows are built here in Python and kept as a DataFrame (``truth``): tests
compute what the API should answer from that frame with pandas, independently of the
data layer's SQL.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine, insert, text

from data.accounts import create_api_key, create_user
from data.db import build_engine, session_scope
from data.models import Base, Flow, FlowRun, utcnow

API = "/api/v1/flow-runs"
STATUSES = ("pending", "running", "success", "failure", "cancelled")
TRIGGERS = ("api", "webhook", "manual", "schedule")
# Error texts that a spreadsheet would run as formulas, and plain ones.
ERRORS = (
    ("TimeoutError", "Request timed out after 30 s"),
    ("ValueError", '=HYPERLINK("http://x","click")'),
    ("KeyError", "+1 missing key 'customer_id'"),
    ("RateLimitError", "-rate limit reached, retry"),
    ("ValueError", "@SUM(A1:A9) rejected"),
    ("RuntimeError", '\tindented, with a comma, and a "quote"'),
)


@dataclass(frozen=True)
class World:
    """What was seeded: ids, keys, and every run as a DataFrame."""

    now: datetime
    users: dict[str, uuid.UUID]
    keys: dict[str, str]
    flows: dict[str, uuid.UUID]
    truth: pd.DataFrame

    def headers(self, who: str) -> dict[str, str]:
        return {"x-api-key": self.keys[who]}

    def runs_of(self, who: str) -> pd.DataFrame:
        """The rows ``who`` may see (a superuser: all)."""
        if who == "admin":
            return self.truth
        return self.truth[self.truth["user_id"] == self.users[who]]


def _offset_hours(rng: random.Random) -> float:
    """Hours before now, over 20 days, never within 10 minutes of a whole-day boundary,
    so a window computed a few seconds later contains exactly the same runs."""
    while True:
        hours = rng.uniform(0.5, 20 * 24)
        if abs(hours / 24 - round(hours / 24)) * 24 * 60 > 10:
            return hours


def _run_rows(rng: random.Random, now: datetime, world: dict[str, Any], count: int) -> list[dict]:
    rows = []
    owners = [world["users"]["alice"], world["users"]["bob"], None]
    flow_ids = list(world["flows"].values())
    for index in range(count):
        status = rng.choices(STATUSES, weights=(1, 2, 10, 4, 1))[0]
        started = now - timedelta(hours=_offset_hours(rng))
        finished = status in ("success", "failure", "cancelled")
        duration = rng.randint(5, 90_000) if finished else None
        error_type, error_message = rng.choice(ERRORS) if status == "failure" else (None, None)
        rows.append(
            {
                "id": uuid.uuid4(),
                "flow_id": flow_ids[index % len(flow_ids)],
                "user_id": owners[index % 3] if index % 7 else rng.choice(owners),
                "session_id": f"s-{index % 9}",
                "status": status,
                "trigger_type": rng.choice(TRIGGERS),
                "started_at": started,
                "ended_at": started + timedelta(milliseconds=duration) if duration else None,
                "duration_ms": duration,
                "components_executed": rng.randint(0, 12),
                "error_type": error_type,
                "error_message": error_message,
                "inputs": {"input_value": f"request {index}", "n": index},
                "outputs": {"tokens": index * 3} if status == "success" else None,
                "metadata_": {"seeded": True},
            }
        )
    return rows


def seed_world(engine: Engine, runs: int = 150, seed: int = 7) -> World:
    now = utcnow()
    users = {
        "alice": create_user(engine, "alice"),
        "bob": create_user(engine, "bob"),
        "admin": create_user(engine, "admin", superuser=True),
    }
    keys = {name: create_api_key(engine, name, "tests")[0] for name in users}
    flows = {}
    with session_scope(engine) as session:
        for name, owner in (("Alpha", "alice"), ("Beta", "bob"), ("=Gamma", "alice")):
            flows[name] = uuid.uuid4()
            session.add(Flow(id=flows[name], name=name, user_id=users[owner]))
    world = {"users": users, "flows": flows}
    rows = _run_rows(random.Random(seed), now, world, runs)
    with session_scope(engine) as session:
        session.execute(insert(FlowRun), rows)
    truth = pd.DataFrame(rows).rename(columns={"metadata_": "metadata"})
    names = {flow_id: name for name, flow_id in flows.items()}
    truth["flow_name"] = truth["flow_id"].map(names)
    usernames = {user_id: name for name, user_id in users.items()}
    truth["username"] = truth["user_id"].map(usernames)
    truth["started_at"] = pd.to_datetime(truth["started_at"], utc=True)
    return World(now=now, users=users, keys=keys, flows=flows, truth=truth)


def ids(response_json: list[dict[str, Any]]) -> list[uuid.UUID]:
    return [uuid.UUID(run["id"]) for run in response_json]


def expected_ids(frame: pd.DataFrame) -> list[uuid.UUID]:
    """Newest first, ties by id descending: the API's default order."""
    ordered = frame.assign(_id=frame["id"].map(str)).sort_values(
        ["started_at", "_id"], ascending=False
    )
    return list(ordered["id"])


def truncate_all(url: str) -> None:
    """Empty every table of the schema (PostgreSQL), for a module-wide shared database.
    Rollup tables are left to the trigger that empties them with ``flow_run``."""
    engine = build_engine(url)
    tables = [t.name for t in Base.metadata.sorted_tables if "rollup" not in t.name]
    names = ", ".join(f'"{name}"' for name in tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} CASCADE"))
    engine.dispose()
