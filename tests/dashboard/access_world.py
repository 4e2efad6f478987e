"""Two regular users and an admin with runs of their own, for the sign-in and scope tests,
and a way to read everything a page shows (text, tables, pickers, charts)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, text
from streamlit.testing.v1 import AppTest

from data.accounts import create_user
from data.db import build_engine
from data.models import Flow, FlowRun, Step

PASSWORDS = {"alice": "alice passphrase", "bob": "bob passphrase", "root": "root passphrase"}
STATUSES = ("success", "success", "failure", "cancelled")


@dataclass
class AccessWorld:
    url: str
    users: dict[str, uuid.UUID]
    bob_run: uuid.UUID
    alice_run: uuid.UUID

    def count(self, sql: str, **params: Any) -> int:
        """An independent count, straight from the table."""
        engine = build_engine(self.url)
        try:
            with engine.connect() as conn:
                return int(conn.execute(text(sql), params).scalar_one())
        finally:
            engine.dispose()

    def runs_of(self, name: str) -> int:
        return self.count(
            "SELECT count(*) FROM flow_run WHERE user_id = :u", u=_uuid_param(self, name)
        )


def _uuid_param(world: AccessWorld, name: str) -> Any:
    # SQLite stores our Uuid as 32 hex characters, PostgreSQL as uuid.
    user_id = world.users[name]
    return user_id.hex if world.url.startswith("sqlite") else user_id


def _runs(
    engine: Engine, flow_id: uuid.UUID, user_id: uuid.UUID, n: int, tag: str
) -> list[uuid.UUID]:
    now = datetime.now(UTC).replace(microsecond=0)
    rows = []
    for i in range(n):
        status = STATUSES[i % len(STATUSES)]
        started = now - timedelta(hours=2 + i * 3)
        rows.append(
            {
                "id": uuid.uuid4(),
                "flow_id": flow_id,
                "user_id": user_id,
                "status": status,
                "trigger_type": "api" if i % 2 else "manual",
                "started_at": started,
                "ended_at": started + timedelta(seconds=1 + i),
                "duration_ms": 1000 + 1000 * i,
                "components_executed": 2,
                "error_type": f"{tag}Error" if status == "failure" else None,
                "error_message": f"{tag}-secret-error {i}" if status == "failure" else None,
                "inputs": {"prompt": f"{tag}-secret-input {i}"},
                "outputs": {"answer": f"{tag}-secret-output {i}"},
                "total_tokens": 150,
            }
        )
    steps = [
        {
            "id": uuid.uuid4(),
            "run_id": row["id"],
            "position": position,
            "name": f"{tag}-secret-component {position}",
            "step_type": "llm" if position else "component",
            "status": "success",
            "started_at": row["started_at"],
            "ended_at": row["ended_at"],
            "latency_ms": 500,
            "model": f"{tag}-secret-model" if position else None,
            "input_tokens": 100 if position else None,
            "output_tokens": 50 if position else None,
        }
        for row in rows
        for position in (0, 1)
    ]
    with engine.begin() as conn:
        conn.execute(insert(FlowRun), rows)
        conn.execute(insert(Step), steps)
    return [row["id"] for row in rows]


def build_world(url: str) -> AccessWorld:
    engine = build_engine(url)
    try:
        users = {
            name: create_user(engine, name, superuser=name == "root", password=password)
            for name, password in PASSWORDS.items()
        }
        flows = {"alice": uuid.uuid4(), "bob": uuid.uuid4()}
        with engine.begin() as conn:
            conn.execute(
                insert(Flow),
                [
                    {"id": flows["alice"], "name": "Alice flow", "user_id": users["alice"]},
                    {"id": flows["bob"], "name": "Bob flow", "user_id": users["bob"]},
                ],
            )
        alice_runs = _runs(engine, flows["alice"], users["alice"], 14, "alice")
        bob_runs = _runs(engine, flows["bob"], users["bob"], 23, "bob")
    finally:
        engine.dispose()
    return AccessWorld(url, users, bob_run=bob_runs[0], alice_run=alice_runs[0])


def sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input[0].input(name)
    at.text_input[1].input(password)
    return at.button[0].click().run()


def shown_text(at: AppTest) -> str:
    """Everything the page shows, as one text: elements, tables, picker options, charts."""
    parts: list[str] = []
    for kind in ("markdown", "caption", "text", "code", "error", "warning", "info", "json"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    parts += [e.value.to_csv() for e in at.dataframe]
    for kind in ("selectbox", "multiselect"):
        parts += [" ".join(map(str, e.options)) for e in getattr(at, kind)]
    parts += [str(e.proto) for e in at.get("plotly_chart")]
    return "\n".join(parts)
