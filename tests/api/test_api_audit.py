"""GET /api/v1/audit/ and /export.csv: every API delete is an entry with the caller's
name; a user reads only their own entries, a superuser all; unknown parameters are 400."""

from __future__ import annotations

import csv
import io

from apiworld import World
from fastapi.testclient import TestClient

from data.audit import AUDIT_COLUMNS
from data.models import FlowRunStatus

RUNS, AUDIT = "/api/v1/flow-runs/", "/api/v1/audit/"


def make_three_deletes(client: TestClient, world: World) -> dict[str, int]:
    """alice deletes one run, bob dry-runs everything of his, admin deletes cancellations."""
    truth = world.truth
    alice_run = truth[truth["user_id"] == world.users["alice"]]["id"].iloc[0]
    response = client.delete(f"{RUNS}{alice_run}", headers=world.headers("alice"))
    assert response.status_code == 200, response.text
    bob = client.delete(
        RUNS, params={"all": "true", "dry_run": "true"}, headers=world.headers("bob")
    )
    assert bob.status_code == 200, bob.text
    admin = client.delete(RUNS, params={"status": "cancelled"}, headers=world.headers("admin"))
    assert admin.status_code == 200, admin.text
    bob_runs = truth[truth["user_id"] == world.users["bob"]]
    return {
        "bob": int((~bob_runs["status"].isin(FlowRunStatus.active())).sum()),
        "admin": int((truth["status"] == "cancelled").sum()),
    }


def test_users_read_their_own_entries_and_the_superuser_all(
    client: TestClient, world: World
) -> None:
    expected = make_three_deletes(client, world)
    alice = client.get(AUDIT, headers=world.headers("alice")).json()
    assert alice["total"] == 1
    [entry] = alice["entries"]
    assert (entry["action"], entry["surface"], entry["actor"], entry["dry_run"]) == (
        "delete_run",
        "api",
        "alice",
        False,
    )
    assert (entry["affected"], entry["status"], entry["actor_user_id"]) == (
        1,
        "completed",
        str(world.users["alice"]),
    )
    assert entry["criteria"]["scope"] == {"user_id": str(world.users["alice"])}
    [bob] = client.get(AUDIT, headers=world.headers("bob")).json()["entries"]
    assert (bob["action"], bob["dry_run"], bob["matched"], bob["affected"]) == (
        "bulk_delete",
        True,
        expected["bob"],
        0,
    )
    admin = client.get(AUDIT, headers=world.headers("admin")).json()
    assert admin["total"] == 3
    assert [e["actor"] for e in admin["entries"]] == ["admin", "bob", "alice"]
    deleted = admin["entries"][0]
    assert (deleted["affected"], deleted["matched"]) == (expected["admin"], expected["admin"])
    assert deleted["criteria"]["filter"]["statuses"] == ["cancelled"]
    page = client.get(AUDIT, params={"limit": 1, "offset": 1}, headers=world.headers("admin"))
    assert [e["actor"] for e in page.json()["entries"]] == ["bob"]
    assert page.json()["total"] == 3


def read_csv(client: TestClient, world: World, who: str) -> list[dict[str, str]]:
    response = client.get(f"{AUDIT}export.csv", headers=world.headers(who))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    text = response.text
    assert text.splitlines()[0] == ",".join(AUDIT_COLUMNS)
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_export_is_scoped_like_the_listing(client: TestClient, world: World) -> None:
    make_three_deletes(client, world)
    assert [r["actor"] for r in read_csv(client, world, "alice")] == ["alice"]
    assert [r["action"] for r in read_csv(client, world, "bob")] == ["bulk_delete"]
    rows = read_csv(client, world, "admin")
    listed = client.get(AUDIT, headers=world.headers("admin")).json()["entries"]
    assert [r["id"] for r in rows] == [e["id"] for e in listed]
    assert [int(r["affected"]) for r in rows] == [e["affected"] for e in listed]


def test_bad_requests_are_precise_4xx(client: TestClient, world: World) -> None:
    admin = world.headers("admin")
    for path, params in (
        (AUDIT, {"actor": "alice"}),
        (AUDIT, {"limt": "5"}),
        (f"{AUDIT}export.csv", {"user": "x"}),
    ):
        response = client.get(path, params=params, headers=admin)
        assert response.status_code == 400, (path, params, response.text)
        assert next(iter(params)) in response.json()["detail"]
    for params in ({"limit": "0"}, {"limit": "501"}, {"offset": "-1"}, {"limit": "x"}):
        response = client.get(AUDIT, params=params, headers=admin)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["detail"].startswith("query.")
    for path in (AUDIT, f"{AUDIT}export.csv"):
        assert client.get(path).status_code == 401


def test_a_refused_delete_writes_no_entry(client: TestClient, world: World) -> None:
    refused = client.delete(RUNS, headers=world.headers("alice"))
    assert refused.status_code == 400
    assert client.get(AUDIT, headers=world.headers("admin")).json()["total"] == 0
