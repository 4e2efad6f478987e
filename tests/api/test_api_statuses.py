"""Statuses as real tables hold them, through the API (issue 8 item 9; rule in data.statuses):
upper case counts as the known status, an unknown value the caller's runs have is a valid
filter and lands in ``other``, a typo is a 422, and "no data" is null."""

from __future__ import annotations

import pandas as pd
from apiworld import World
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from data.models import FlowRun

API = "/api/v1/flow-runs"


def restatus(engine: Engine, runs: pd.DataFrame, status: str) -> list[str]:
    """Rewrite these runs' status as another engine would have stored it."""
    ids = list(runs["id"])
    with engine.begin() as conn:
        conn.execute(update(FlowRun).where(FlowRun.id.in_(ids)).values(status=status))
    return [str(i) for i in ids]


def test_status_rule_through_the_api(client: TestClient, world: World, engine: Engine) -> None:
    alice = world.runs_of("alice")
    upper = restatus(engine, alice[alice["status"] == "success"].head(4), "SUCCESS")
    weird = restatus(engine, alice[alice["status"] == "failure"].head(3), "weird")
    headers = world.headers("alice")

    listed = client.get(f"{API}/", params={"status": "Weird", "limit": 50}, headers=headers)
    assert listed.status_code == 200
    assert sorted(run["id"] for run in listed.json()) == sorted(weird)

    successes = client.get(f"{API}/", params={"status": "success", "limit": 500}, headers=headers)
    expected = int((alice["status"] == "success").sum())
    assert len(successes.json()) == expected and set(upper) <= {r["id"] for r in successes.json()}

    stats = client.get(f"{API}/stats", params={"days": 3650}, headers=headers).json()
    assert stats["success_count"] == expected and stats["other_count"] == 3
    assert stats["status_counts"]["weird"] == 3
    known = ("success", "failure", "cancelled", "running", "pending")
    assert sum(stats[f"{s}_count"] for s in known) + stats["other_count"] == stats["total_runs"]

    params = {"days": 3650, "status": "WEIRD"}
    only_weird = client.get(f"{API}/stats", params=params, headers=headers)
    assert only_weird.json()["success_rate"] is None  # nothing finished: no data, not 0

    for name in ("bogus", "sucess"):
        refused = client.get(f"{API}/", params={"status": name}, headers=headers)
        assert refused.status_code == 422
        assert refused.json()["detail"].startswith(f"status: unknown status '{name}'")
    # Bob's runs have no "weird": for him it is not a status (no peeking at Alice's data).
    as_bob = client.get(f"{API}/", params={"status": "weird"}, headers=world.headers("bob"))
    assert as_bob.status_code == 422
