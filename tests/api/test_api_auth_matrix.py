"""The auth matrix: two users and a superuser x every endpoint x read, count, aggregate,
export and delete. Expected answers come from the seeded rows (pandas), never from the
API itself; any cross-user read, count or delete is a failure."""

from __future__ import annotations

import io
import uuid

import pandas as pd
from apiworld import API, World, expected_ids, ids
from fastapi.testclient import TestClient

WHO = ("alice", "bob", "admin")
FINISHED = ("success", "failure", "cancelled")


class Matrix:
    """Runs named checks and keeps the failures (a check returns why it failed)."""

    def __init__(self) -> None:
        self.count = 0
        self.failures: list[str] = []

    def check(self, name: str, ok: bool, detail: object = "") -> None:
        self.count += 1
        if not ok:
            self.failures.append(f"{name}: {detail}")


def _visible(world: World, who: str) -> set[uuid.UUID]:
    return set(world.runs_of(who)["id"])


def _reads(m: Matrix, client: TestClient, world: World, who: str) -> None:
    headers = world.headers(who)
    mine = world.runs_of(who)
    listed = client.get(API + "/", params={"limit": 500}, headers=headers)
    m.check(f"{who} list", ids(listed.json()) == expected_ids(mine))
    m.check(f"{who} count", int(listed.headers["X-Total-Count"]) == len(mine))
    for name, flow_id in world.flows.items():
        subset = mine[mine["flow_id"] == flow_id]
        page = client.get(
            API + "/", params={"flow_id": str(flow_id), "limit": 500}, headers=headers
        )
        m.check(f"{who} list {name}", ids(page.json()) == expected_ids(subset))
        m.check(f"{who} count {name}", int(page.headers["X-Total-Count"]) == len(subset))
    visible = _visible(world, who)
    # Every run of the other callers, and a few of the caller's own.
    sample = pd.concat([world.truth[~world.truth["id"].isin(visible)], mine.head(10)])
    for run_id in sample["id"]:
        response = client.get(f"{API}/{run_id}", headers=headers)
        expected = 200 if run_id in visible else 404
        m.check(f"{who} GET {run_id}", response.status_code == expected, response.status_code)
        steps = client.get(f"{API}/{run_id}/steps", headers=headers)
        m.check(f"{who} GET {run_id}/steps", steps.status_code == expected, steps.status_code)


def _aggregates(m: Matrix, client: TestClient, world: World, who: str) -> None:
    headers = world.headers(who)
    mine = world.runs_of(who)
    params = {"days": 30}
    stats = client.get(API + "/stats", params=params, headers=headers).json()
    m.check(f"{who} stats total", stats["total_runs"] == len(mine), stats["total_runs"])
    by_status = mine["status"].value_counts().to_dict()
    m.check(f"{who} stats statuses", stats["status_counts"] == by_status, stats["status_counts"])
    series = client.get(API + "/stats/timeseries", params=params, headers=headers).json()
    m.check(f"{who} timeseries", sum(p["runs"] for p in series["points"]) == len(mine))
    flows = client.get(API + "/stats/flows", params=params, headers=headers).json()
    per_flow = {uuid.UUID(f["flow_id"]): f["runs"] for f in flows}
    m.check(f"{who} flows", per_flow == mine["flow_id"].value_counts().to_dict(), per_flow)


def _exports(m: Matrix, client: TestClient, world: World, who: str) -> None:
    headers = world.headers(who)
    expected = sorted(map(str, world.runs_of(who)["id"]))
    for path, params in (("/export.csv", {}), ("/", {"format": "csv"})):
        response = client.get(API + path, params=params, headers=headers)
        exported = pd.read_csv(io.StringIO(response.text))
        m.check(f"{who} export {path}", sorted(exported["id"]) == expected)


def _foreign_writes(m: Matrix, client: TestClient, world: World, who: str) -> None:
    """Deleting or finishing someone else's run: a 404, and the run unchanged."""
    if who == "admin":
        return
    headers = world.headers(who)
    others = world.truth[~world.truth["id"].isin(_visible(world, who))]
    for run_id, status in zip(others["id"][:15], others["status"][:15], strict=True):
        gone = client.delete(f"{API}/{run_id}", headers=headers)
        m.check(f"{who} DELETE foreign {run_id}", gone.status_code == 404, gone.status_code)
        done = client.patch(f"{API}/{run_id}", json={"status": "success"}, headers=headers)
        m.check(f"{who} PATCH foreign {run_id}", done.status_code == 404, done.status_code)
        still = client.get(f"{API}/{run_id}", headers=world.headers("admin")).json()
        m.check(f"{who} foreign run intact {run_id}", still["status"] == status)
    for name, flow_id in world.flows.items():
        mine = world.runs_of(who)
        finished = mine[(mine["flow_id"] == flow_id) & mine["status"].isin(FINISHED)]
        dry = client.delete(
            API + "/",
            params={"flow_id": str(flow_id), "all": "true", "dry_run": "true"},
            headers=headers,
        ).json()
        m.check(f"{who} dry-run delete {name}", dry["deleted"] == len(finished), dry)


def test_no_cross_user_read_count_aggregate_export_or_delete(
    shared_client: TestClient, shared_world: World
) -> None:
    m = Matrix()
    for who in WHO:
        _reads(m, shared_client, shared_world, who)
        _aggregates(m, shared_client, shared_world, who)
        _exports(m, shared_client, shared_world, who)
        _foreign_writes(m, shared_client, shared_world, who)
    # Real bulk deletes last: alice's "everything" takes only her finished runs.
    truth = shared_world.truth
    wiped = shared_client.delete(
        API + "/", params={"all": "true"}, headers=shared_world.headers("alice")
    )
    alices = shared_world.runs_of("alice")
    gone = set(alices[alices["status"].isin(FINISHED)]["id"])
    m.check("alice wipe count", wiped.json()["deleted"] == len(gone), wiped.json())
    left = shared_client.get(
        API + "/", params={"limit": 500}, headers=shared_world.headers("admin")
    )
    m.check("others untouched", ids(left.json()) == expected_ids(truth[~truth["id"].isin(gone)]))
    assert m.count > 300
    assert not m.failures, f"{len(m.failures)} of {m.count} checks:\n" + "\n".join(m.failures)
