"""Steps and tokens over REST: a runner reports them with the finish, and the run's steps
route reads them back (scoped like the run); bad steps are refused naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from apiworld import API, World
from fastapi.testclient import TestClient

T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)


def started(client: TestClient, world: World, who: str = "alice") -> str:
    body = {"flow_id": str(world.flows["Alpha"]), "inputs": {"q": "hi"}}
    created = client.post(API + "/", json=body, headers=world.headers(who))
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


STEPS: list[dict[str, Any]] = [
    {"name": "retrieve", "step_type": "retriever", "started_at": T0.isoformat(),
     "ended_at": (T0 + timedelta(milliseconds=300)).isoformat(), "latency_ms": 300},
    {"name": "answer", "step_type": "llm", "started_at": (T0 + timedelta(seconds=1)).isoformat(),
     "ended_at": (T0 + timedelta(seconds=3)).isoformat(), "latency_ms": 2000,
     "inputs": {"prompt": "hi"}, "outputs": {"text": "hello"}},
    {"name": "ChatModel gpt-x", "step_type": "llm", "parent": 1, "model": "gpt-x",
     "input_tokens": 120, "output_tokens": 30, "latency_ms": 1900},
]  # fmt: skip


def test_steps_and_tokens_reported_then_read_back(client: TestClient, world: World) -> None:
    run_id = started(client, world)
    finish = {"status": "success", "total_tokens": 150, "steps": STEPS}
    done = client.patch(f"{API}/{run_id}", json=finish, headers=world.headers("alice"))
    assert done.status_code == 200, done.text
    assert done.json()["total_tokens"] == 150
    read = client.get(f"{API}/{run_id}/steps", headers=world.headers("alice"))
    assert read.status_code == 200, read.text
    body = read.json()
    steps = body["steps"]
    assert [s["name"] for s in steps] == [s["name"] for s in STEPS]
    assert [s["position"] for s in steps] == [0, 1, 2]
    assert steps[2]["parent_id"] == steps[1]["id"] and steps[0]["parent_id"] is None
    assert (steps[2]["model"], steps[2]["input_tokens"], steps[2]["output_tokens"]) == (
        "gpt-x",
        120,
        30,
    )
    assert steps[1]["outputs"] == {"text": "hello"}
    spent = body["where_time_went"]
    assert spent["slowest_step_id"] == steps[1]["id"]
    assert spent["in_steps_ms"] == pytest.approx(300 + 2000)  # the gap between is outside
    stats = client.get(API + "/stats", params={"exact": "true"}, headers=world.headers("alice"))
    assert stats.json()["total_tokens"] >= 150 and stats.json()["runs_with_tokens"] >= 1


def test_another_users_run_steps_are_not_found(client: TestClient, world: World) -> None:
    run_id = started(client, world, "alice")
    read = client.get(f"{API}/{run_id}/steps", headers=world.headers("bob"))
    assert read.status_code == 404 and read.json()["detail"] == f"Flow run {run_id} not found"
    assert client.get(f"{API}/{run_id}/steps", headers=world.headers("admin")).status_code == 200


@pytest.mark.parametrize(
    ("finish", "names"),
    [
        ({"status": "success", "total_tokens": -1}, "total_tokens"),
        ({"status": "success", "total_tokens": 2**41}, "total_tokens"),
        ({"status": "success", "steps": [{"name": ""}]}, "steps.0.name"),
        ({"status": "success", "steps": [{"name": "a", "bogus": 1}]}, "steps.0.bogus"),
        ({"status": "success", "steps": [{"name": "a", "input_tokens": -5}]}, "input_tokens"),
        ({"status": "success", "steps": [{"name": "a", "started_at": "yesterday"}]}, "started_at"),
        ({"status": "success", "steps": [{"name": "a", "parent": 0}]}, "steps[0].parent"),
        ({"status": "success", "steps": [{"name": "a"}] * 1001}, "steps"),
    ],
)
def test_bad_steps_are_refused_naming_the_field(
    client: TestClient, world: World, finish: dict[str, Any], names: str
) -> None:
    run_id = started(client, world)
    done = client.patch(f"{API}/{run_id}", json=finish, headers=world.headers("alice"))
    assert done.status_code in (400, 422), done.text
    assert names in done.json()["detail"]
    # Nothing was half-written: the run is still running, without steps.
    still = client.get(f"{API}/{run_id}", headers=world.headers("alice")).json()
    assert still["status"] == "running"
    steps = client.get(f"{API}/{run_id}/steps", headers=world.headers("alice")).json()["steps"]
    assert steps == []
