"""Recording (POST -> PATCH -> 409) and deletes (one, bulk with protections)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pandas as pd
import pytest
from apiworld import API, World, expected_ids, ids
from fastapi.testclient import TestClient

FINISHED = ("success", "failure", "cancelled")


def all_ids(client: TestClient, world: World) -> list[uuid.UUID]:
    response = client.get(API + "/", params={"limit": 500}, headers=world.headers("admin"))
    return ids(response.json())


def test_record_lifecycle(client: TestClient, world: World) -> None:
    headers = world.headers("alice")
    body = {
        "flow_id": str(world.flows["Alpha"]),
        "trigger_type": "webhook",
        "session_id": "sess-1",
        "inputs": {"question": "hi"},
        "metadata": {"runner": "tests"},
    }
    created = client.post(API + "/", json=body, headers=headers)
    assert created.status_code == 201, created.text
    run = created.json()
    assert run["status"] == "running" and run["ended_at"] is None
    assert run["user_id"] == str(world.users["alice"]) and run["flow_name"] == "Alpha"
    assert run["inputs"] == {"question": "hi"} and run["metadata"] == {"runner": "tests"}
    assert created.headers["Location"] == f"{API}/{run['id']}"

    finish = {
        "status": "failure",
        "error_type": "TimeoutError",
        "error_message": "took too long",
        "components_executed": 4,
        "outputs": {"partial": True},
    }
    done = client.patch(f"{API}/{run['id']}", json=finish, headers=headers)
    assert done.status_code == 200, done.text
    finished = done.json()
    assert finished["status"] == "failure" and finished["components_executed"] == 4
    elapsed = pd.Timestamp(finished["ended_at"]) - pd.Timestamp(finished["started_at"])
    assert finished["duration_ms"] == pytest.approx(elapsed.total_seconds() * 1000, abs=1)
    assert client.get(f"{API}/{run['id']}", headers=headers).json() == finished

    again = client.patch(f"{API}/{run['id']}", json={"status": "success"}, headers=headers)
    assert again.status_code == 409
    assert "already finished" in again.json()["detail"]


def test_recording_errors(client: TestClient, world: World) -> None:
    headers = world.headers("alice")
    missing_flow = client.post(API + "/", json={"flow_id": str(uuid.uuid4())}, headers=headers)
    assert missing_flow.status_code == 404 and "Flow" in missing_flow.json()["detail"]
    bad_trigger = {"flow_id": str(world.flows["Alpha"]), "trigger_type": "telepathy"}
    assert client.post(API + "/", json=bad_trigger, headers=headers).status_code == 422
    run_id = client.post(
        API + "/", json={"flow_id": str(world.flows["Alpha"])}, headers=headers
    ).json()["id"]
    nul_session = {"flow_id": str(world.flows["Alpha"]), "session_id": "a\x00b"}
    assert client.post(API + "/", json=nul_session, headers=headers).status_code == 422
    for bad in (
        {"status": "running"},
        {"status": "success", "components_executed": -1},
        {"status": "failure", "error_message": "nul \x00 inside"},
        {},
    ):
        assert client.patch(f"{API}/{run_id}", json=bad, headers=headers).status_code == 422
    unknown = client.patch(f"{API}/{uuid.uuid4()}", json={"status": "success"}, headers=headers)
    assert unknown.status_code == 404


def test_delete_one(client: TestClient, world: World) -> None:
    run_id = world.truth["id"].iloc[5]
    response = client.delete(f"{API}/{run_id}", headers=world.headers("admin"))
    assert response.status_code == 200 and response.json()["deleted"] == 1
    assert client.get(f"{API}/{run_id}", headers=world.headers("admin")).status_code == 404
    assert client.delete(f"{API}/{run_id}", headers=world.headers("admin")).status_code == 404
    assert run_id not in all_ids(client, world)
    assert len(all_ids(client, world)) == len(world.truth) - 1


def test_bulk_delete_refuses_without_a_filter(client: TestClient, world: World) -> None:
    response = client.delete(API + "/", headers=world.headers("admin"))
    assert response.status_code == 400
    assert "all=true" in response.json()["detail"]
    assert len(all_ids(client, world)) == len(world.truth)


def test_bulk_delete_all_keeps_active_runs_unless_asked(client: TestClient, world: World) -> None:
    admin = world.headers("admin")
    active = world.truth[~world.truth["status"].isin(FINISHED)]
    response = client.delete(API + "/", params={"all": "true"}, headers=admin)
    assert response.json() == {
        "deleted": len(world.truth) - len(active),
        "dry_run": False,
        "message": f"Deleted {len(world.truth) - len(active)} flow run(s)",
    }
    assert all_ids(client, world) == expected_ids(active)
    named = client.delete(API + "/", params={"status": "running"}, headers=admin)
    assert named.status_code == 400 and "include_active" in named.json()["detail"]
    everything = client.delete(
        API + "/", params={"all": "true", "include_active": "true"}, headers=admin
    )
    assert everything.json()["deleted"] == len(active)
    assert all_ids(client, world) == []


def test_dry_run_count_equals_deleted_count(client: TestClient, world: World) -> None:
    admin = world.headers("admin")
    params = {"flow_id": str(world.flows["Beta"]), "older_than_days": 3}
    cutoff = world.now - timedelta(days=3)
    t = world.truth
    expected = t[(t["flow_id"] == world.flows["Beta"]) & (t["started_at"] < cutoff)]
    expected = expected[expected["status"].isin(FINISHED)]
    dry = client.delete(API + "/", params={**params, "dry_run": "true"}, headers=admin).json()
    assert dry["dry_run"] is True and dry["deleted"] == len(expected) > 0
    assert len(all_ids(client, world)) == len(t)
    real = client.delete(API + "/", params=params, headers=admin).json()
    assert real["deleted"] == dry["deleted"]
    assert set(all_ids(client, world)) == set(t["id"]) - set(expected["id"])


def test_read_only_deployment_refuses_deletes(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from data.settings import get_settings

    monkeypatch.setenv("FLOWRUNS_READ_ONLY", "true")
    get_settings.cache_clear()
    run_id = world.truth["id"].iloc[0]
    response = client.delete(f"{API}/{run_id}", headers=world.headers("admin"))
    assert response.status_code == 403 and "read-only" in response.json()["detail"]
    assert client.get(f"{API}/{run_id}", headers=world.headers("admin")).status_code == 200
