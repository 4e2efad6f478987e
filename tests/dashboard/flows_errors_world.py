"""Seeding for the Flows/Errors and Markdown-safety tests: users, same-named flows, runs
with chosen outcomes, and stored text an attacker would write."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import insert

from data.db import build_engine, session_scope
from data.models import Flow, FlowRun, User

HOST = "evil.example"
# Links, images, raw HTML, an unbalanced backtick (escapes a code span), emphasis, math,
# Streamlit's colour directive and bare URLs (GFM autolinks).
HOSTILE = (
    f"[x](http://{HOST}/a) ![](http://{HOST}/x.png) <img src=http://{HOST}/y.png> "
    f"`tick **bold** $math$ :red[red] http://{HOST}/bare www.{HOST} admin@{HOST} "
    f'<a href="http://{HOST}/p">plotly link</a>'  # Plotly renders <a href> in chart text
)
HOSTILE_TYPE = f'Bad`Type **x** [t](http://{HOST}/t) <a href="http://{HOST}/q">q</a>'
# What must never reach a Markdown-rendering element unescaped.
RAW_FRAGMENTS = (
    f"http://{HOST}",
    f"www.{HOST}",
    "<img",
    "<a ",
    "](",
    "**bold**",
    "**x**",
    "$math$",
    ":red[",
    "`tick",
    "Bad`Type",
)


@dataclass
class Seeded:
    url: str
    users: dict[str, uuid.UUID] = field(default_factory=dict)
    flows: dict[str, uuid.UUID] = field(default_factory=dict)
    runs: list[dict[str, object]] = field(default_factory=list)

    def add_user(self, name: str) -> uuid.UUID:
        user_id = uuid.uuid4()
        self._write(User, {"id": user_id, "username": name})
        self.users[name] = user_id
        return user_id

    def add_flow(self, key: str, name: str, owner: str | None) -> uuid.UUID:
        flow_id = uuid.uuid4()
        owner_id = None if owner is None else self.users[owner]
        self._write(Flow, {"id": flow_id, "name": name, "user_id": owner_id})
        self.flows[key] = flow_id
        return flow_id

    def add_runs(
        self,
        flow: str,
        when: datetime,
        outcomes: list[tuple[str, int]],
        error_type: str | None = None,
        error_message: str | None = None,
    ) -> list[dict[str, object]]:
        """One run per (status, duration ms), a minute apart from ``when``."""
        rows: list[dict[str, object]] = []
        for minute, (status, duration) in enumerate(outcomes):
            failed = status == "failure"
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "flow_id": self.flows[flow],
                    "status": status,
                    "trigger_type": "manual",
                    "started_at": when + timedelta(minutes=minute),
                    "duration_ms": duration,
                    "components_executed": 1,
                    "error_type": error_type if failed else None,
                    "error_message": error_message if failed else None,
                }
            )
        self._write_many(rows)
        self.runs.extend(rows)
        return rows

    def add_runs_at(self, flow: str, moments: list[datetime]) -> None:
        """One successful run of 50 ms at each of ``moments``."""
        for moment in moments:
            self.runs.append(
                {
                    "id": uuid.uuid4(),
                    "flow_id": self.flows[flow],
                    "status": "success",
                    "trigger_type": "manual",
                    "started_at": moment,
                    "duration_ms": 50,
                }
            )
        self._write_many(self.runs[-len(moments) :])

    def _write(self, model: type, values: dict[str, object]) -> None:
        engine = build_engine(self.url)
        try:
            with session_scope(engine) as session:
                session.add(model(**values))
        finally:
            engine.dispose()

    def _write_many(self, rows: list[dict[str, object]]) -> None:
        engine = build_engine(self.url)
        try:
            with session_scope(engine) as session:
                session.execute(insert(FlowRun), rows)
        finally:
            engine.dispose()

    def count(self, flow: str, status: str | None = None) -> int:
        return sum(
            1
            for r in self.runs
            if r["flow_id"] == self.flows[flow] and (status is None or r["status"] == status)
        )


def same_named_flows(url: str, now: datetime) -> Seeded:
    """Four flows named "ingest": ann's (5 runs), bob's (9 runs, 3 failed) and two
    without owner (2 runs each), plus one other flow."""
    world = Seeded(url)
    world.add_user("ann")
    world.add_user("bob")
    for key, owner in (("ann", "ann"), ("bob", "bob"), ("orphan1", None), ("orphan2", None)):
        world.add_flow(key, "ingest", owner)
    world.add_flow("other", "other", "ann")
    day = now - timedelta(days=2)
    world.add_runs("ann", day, [("success", 1000)] * 5)
    world.add_runs("bob", day, [("success", 4000)] * 6 + [("failure", 4000)] * 3, "KeyError", "x")
    world.add_runs("orphan1", day, [("success", 10)] * 2)
    world.add_runs("orphan2", day, [("success", 20)] * 2)
    world.add_runs("other", day, [("success", 30)] * 4)
    return world


def hostile_world(url: str, now: datetime) -> Seeded:
    """Stored text written to be rendered: in a user name, a flow name, error types and
    messages; failures before and inside the last 7 days (so groups are old and new)."""
    world = Seeded(url)
    world.add_user(f"[mallory](http://{HOST}/u)")
    world.add_flow("bad", HOSTILE, f"[mallory](http://{HOST}/u)")
    world.add_flow("plain", "plain", None)
    for when in (now - timedelta(days=10), now - timedelta(days=2)):
        world.add_runs("bad", when, [("failure", 100)] * 3, HOSTILE_TYPE, HOSTILE)
        world.add_runs("plain", when, [("success", 50), ("failure", 60)], None, HOSTILE)
    world.add_runs(
        "bad", now - timedelta(days=1), [("failure", 70)], "Fresh`Error", f"new {HOSTILE}"
    )
    return world
