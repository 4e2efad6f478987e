"""Who may record on a flow, and who sees which runs (docs/api.md, "Scope").

- Recording needs the flow to be the caller's own (a superuser: any flow); any other
  flow id answers exactly like a missing one.
- A run belongs to the user who triggered it: the flow's owner does not see runs
  someone else triggered on that flow; runs whose user was deleted (``user_id`` NULL)
  are visible to superusers only.
"""

from __future__ import annotations

import uuid

from apiworld import API, World, ids
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, insert

from data.accounts import create_user
from data.models import FlowRun, User, utcnow


def count_runs(client: TestClient, world: World, who: str) -> int:
    response = client.get(API + "/", params={"limit": 1}, headers=world.headers(who))
    return int(response.headers["X-Total-Count"])


def test_recording_on_someone_elses_flow_looks_like_a_missing_flow(
    client: TestClient, world: World
) -> None:
    before = count_runs(client, world, "admin")
    bobs_flow = world.flows["Beta"]
    missing = uuid.uuid4()
    for flow_id in (bobs_flow, missing):
        response = client.post(
            API + "/", json={"flow_id": str(flow_id)}, headers=world.headers("alice")
        )
        assert response.status_code == 404
        assert response.json() == {"detail": f"Flow {flow_id} not found"}
    assert count_runs(client, world, "admin") == before
    own = client.post(
        API + "/", json={"flow_id": str(world.flows["Alpha"])}, headers=world.headers("alice")
    )
    assert own.status_code == 201 and own.json()["user_id"] == str(world.users["alice"])


def test_a_run_is_seen_by_whoever_triggered_it(client: TestClient, world: World) -> None:
    # The superuser records on bob's flow: the run is the superuser's, not bob's.
    created = client.post(
        API + "/", json={"flow_id": str(world.flows["Beta"])}, headers=world.headers("admin")
    )
    assert created.status_code == 201
    run_id = created.json()["id"]
    assert created.json()["user_id"] == str(world.users["admin"])
    assert client.get(f"{API}/{run_id}", headers=world.headers("bob")).status_code == 404
    bobs = client.get(API + "/", params={"limit": 500}, headers=world.headers("bob")).json()
    assert uuid.UUID(run_id) not in ids(bobs)
    assert client.get(f"{API}/{run_id}", headers=world.headers("admin")).status_code == 200


def _insert_run(engine: Engine, flow_id: uuid.UUID, user_id: uuid.UUID | None) -> uuid.UUID:
    run_id = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            insert(FlowRun).values(
                id=run_id,
                flow_id=flow_id,
                user_id=user_id,
                status="success",
                started_at=utcnow(),
                duration_ms=5,
                trigger_type="api",
            )
        )
    return run_id


def test_runs_of_a_deleted_user_are_for_superusers_only(
    client: TestClient, world: World, engine: Engine
) -> None:
    carol = create_user(engine, "carol")
    # A run carol triggered on alice's flow (written by an embedded recorder, or before
    # recording required ownership); then carol's account is deleted.
    orphan = _insert_run(engine, world.flows["Alpha"], carol)
    with engine.begin() as conn:
        conn.execute(delete(User).where(User.id == carol))
    as_admin = client.get(f"{API}/{orphan}", headers=world.headers("admin"))
    assert as_admin.status_code == 200
    assert as_admin.json()["user_id"] is None and as_admin.json()["username"] is None
    for who in ("alice", "bob"):
        assert client.get(f"{API}/{orphan}", headers=world.headers(who)).status_code == 404
        csv = client.get(API + "/export.csv", headers=world.headers(who)).text
        assert str(orphan) not in csv
    # alice deletes "everything" of hers: the orphan is not hers, so it stays.
    wiped = client.delete(API + "/", params={"all": "true"}, headers=world.headers("alice"))
    assert wiped.status_code == 200
    assert client.get(f"{API}/{orphan}", headers=world.headers("admin")).status_code == 200
    stats = client.get(API + "/stats", params={"days": 30}, headers=world.headers("admin"))
    assert stats.json()["total_runs"] == count_runs(client, world, "admin")
    assert client.delete(f"{API}/{orphan}", headers=world.headers("admin")).status_code == 200


def test_flow_owner_does_not_see_runs_others_triggered(
    client: TestClient, world: World, engine: Engine
) -> None:
    bobs_run_on_alices_flow = _insert_run(engine, world.flows["Alpha"], world.users["bob"])
    alice = world.headers("alice")
    assert client.get(f"{API}/{bobs_run_on_alices_flow}", headers=alice).status_code == 404
    listed = client.get(
        API + "/", params={"flow_id": str(world.flows["Alpha"]), "limit": 500}, headers=alice
    )
    assert bobs_run_on_alices_flow not in ids(listed.json())
    bob = client.get(f"{API}/{bobs_run_on_alices_flow}", headers=world.headers("bob"))
    assert bob.status_code == 200 and bob.json()["flow_name"] == "Alpha"
