"""Issue 8 item 3: a run started 40 days ago can be finished through the API on both
backends (kozmoai's 32-bit duration_ms answered 422 on PostgreSQL past 24.8 days)."""

from __future__ import annotations

from datetime import timedelta

from apiworld import World
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from data.models import utcnow
from data.recorder import start_run

FORTY_DAYS_MS = 40 * 86_400_000


def test_a_forty_day_run_is_finished_with_its_full_duration(
    client: TestClient, world: World, engine: Engine
) -> None:
    run_id = start_run(
        engine,
        world.flows["Alpha"],
        user_id=world.users["alice"],
        started_at=utcnow() - timedelta(days=40),
    )
    response = client.patch(
        f"/api/v1/flow-runs/{run_id}",
        json={"status": "failure", "error_type": "Timeout"},
        headers=world.headers("alice"),
    )
    assert response.status_code == 200, response.text
    duration = response.json()["duration_ms"]
    assert duration > 2**31 - 1
    assert abs(duration - FORTY_DAYS_MS) < 60_000
    again = client.get(f"/api/v1/flow-runs/{run_id}", headers=world.headers("alice"))
    assert again.json()["duration_ms"] == duration
