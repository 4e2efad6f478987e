"""API keys (401 paths) and per-user scope: a regular user sees, counts, aggregates,
exports and deletes only their own runs; another user's run is a 404."""

from __future__ import annotations

import io
import uuid

import pandas as pd
from apiworld import API, World, expected_ids, ids
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from data.accounts import list_api_keys, revoke_api_key


def test_missing_and_invalid_keys_are_401(client: TestClient, world: World) -> None:
    for headers in (
        {},
        {"x-api-key": "frh_not-a-real-key"},
        {"x-api-key": "wrong-prefix"},
        {"Authorization": "Bearer frh_nope"},
        {"Authorization": f"Basic {world.keys['alice']}"},
    ):
        response = client.get(API + "/", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert "API key" in response.json()["detail"]


def test_every_api_route_requires_a_key(client: TestClient, world: World) -> None:
    run_id = world.truth["id"].iloc[0]
    for method, path in (
        ("GET", "/"),
        ("GET", "/stats"),
        ("GET", "/stats/timeseries"),
        ("GET", "/stats/flows"),
        ("GET", "/export.csv"),
        ("GET", f"/{run_id}"),
        ("DELETE", f"/{run_id}"),
        ("DELETE", "/?all=true"),
        ("PATCH", f"/{run_id}"),
        ("POST", "/"),
    ):
        assert client.request(method, API + path).status_code == 401, (method, path)
    assert client.get("/healthz").json() == {"status": "ok"}


def test_bearer_and_header_keys_both_work(client: TestClient, world: World) -> None:
    bearer = {"Authorization": f"Bearer {world.keys['bob']}"}
    by_bearer = client.get(API + "/", headers=bearer, params={"limit": 500})
    by_header = client.get(API + "/", headers=world.headers("bob"), params={"limit": 500})
    assert by_bearer.status_code == by_header.status_code == 200
    assert ids(by_bearer.json()) == ids(by_header.json()) == expected_ids(world.runs_of("bob"))


def test_revoked_key_is_refused(client: TestClient, world: World, engine: Engine) -> None:
    assert client.get(API + "/", headers=world.headers("bob")).status_code == 200
    bob_key = next(k for k in list_api_keys(engine) if k.username == "bob")
    revoke_api_key(engine, bob_key.id)
    assert client.get(API + "/", headers=world.headers("bob")).status_code == 401


def test_regular_users_see_only_their_runs(client: TestClient, world: World) -> None:
    for who in ("alice", "bob", "admin"):
        mine = world.runs_of(who)
        response = client.get(API + "/", params={"limit": 500}, headers=world.headers(who))
        assert ids(response.json()) == expected_ids(mine), who
        assert int(response.headers["X-Total-Count"]) == len(mine)
        stats = client.get(API + "/stats", params={"days": 30}, headers=world.headers(who))
        assert stats.json()["total_runs"] == len(mine), who
        flows = client.get(API + "/stats/flows", params={"days": 30}, headers=world.headers(who))
        assert sum(f["runs"] for f in flows.json()) == len(mine)
        csv = client.get(API + "/export.csv", headers=world.headers(who))
        exported = pd.read_csv(io.StringIO(csv.text))
        assert sorted(exported["id"]) == sorted(map(str, mine["id"])), who
    assert len(world.runs_of("alice")) + len(world.runs_of("bob")) < len(world.truth)


def test_another_users_run_is_a_404(client: TestClient, world: World) -> None:
    bobs_run = uuid.UUID(str(world.runs_of("bob")["id"].iloc[0]))
    alice = world.headers("alice")
    expected = {"detail": f"Flow run {bobs_run} not found"}
    assert client.get(f"{API}/{bobs_run}", headers=alice).json() == expected
    assert client.delete(f"{API}/{bobs_run}", headers=alice).status_code == 404
    finish = client.patch(f"{API}/{bobs_run}", json={"status": "success"}, headers=alice)
    assert finish.status_code == 404
    # Untouched, as the owner and the superuser can tell.
    assert client.get(f"{API}/{bobs_run}", headers=world.headers("bob")).status_code == 200
    assert client.get(f"{API}/{bobs_run}", headers=world.headers("admin")).status_code == 200


def test_bulk_delete_is_scoped(client: TestClient, world: World) -> None:
    response = client.delete(API + "/", params={"all": "true"}, headers=world.headers("alice"))
    assert response.status_code == 200
    finished = ("success", "failure", "cancelled")
    alices = world.runs_of("alice")
    assert response.json()["deleted"] == int(alices["status"].isin(finished).sum())
    left = client.get(API + "/", params={"limit": 500}, headers=world.headers("admin"))
    remaining = world.truth[
        ~(world.truth["id"].isin(alices["id"]) & world.truth["status"].isin(finished))
    ]
    assert ids(left.json()) == expected_ids(remaining)
