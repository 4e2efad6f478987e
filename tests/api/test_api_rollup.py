"""The stats routes read the rollup for whole-day windows and say so (`approximate`),
`exact=true` answers from raw rows; counts agree either way (pandas over the seed)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from apiworld import API, World
from fastapi.testclient import TestClient

from data.rollup import reader
from data.rollup.histogram import RELATIVE_ERROR


def window(world: World) -> dict[str, str]:
    end = world.now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return {
        "started_after": (end - timedelta(days=30)).isoformat(),
        "started_before": end.isoformat(),
    }


def test_stats_routes_flag_rollup_percentiles_and_exact_turns_them_off(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader, "RAW_LIMIT", 1)
    params, headers = window(world), world.headers("admin")
    rolled = client.get(f"{API}/stats", params=params, headers=headers).json()
    exact = client.get(f"{API}/stats", params={**params, "exact": "true"}, headers=headers).json()
    assert rolled["approximate"] is True and exact["approximate"] is False
    assert rolled["total_runs"] == exact["total_runs"] > 0
    assert rolled["status_counts"] == exact["status_counts"]
    frame = world.truth
    frame = frame[(frame["started_at"] >= params["started_after"])]
    durations = np.sort(frame["duration_ms"].dropna().astype(float).to_numpy())
    assert exact["p95_duration_ms"] == pytest.approx(np.percentile(durations, 95))
    assert abs(rolled["p95_duration_ms"] - exact["p95_duration_ms"]) <= RELATIVE_ERROR * max(
        durations
    )
    series = client.get(f"{API}/stats/timeseries", params=params, headers=headers).json()
    assert series["approximate"] is True
    flows = client.get(
        f"{API}/stats/flows", params={**params, "exact": "true"}, headers=headers
    ).json()
    assert flows and all(row["approximate"] is False for row in flows)
    flows = client.get(f"{API}/stats/flows", params=params, headers=headers).json()
    assert all(row["approximate"] is True for row in flows if row["p50_ms"] is not None)


def test_exact_must_be_a_boolean(client: TestClient, world: World) -> None:
    answer = client.get(f"{API}/stats", params={"exact": "maybe"}, headers=world.headers("admin"))
    assert answer.status_code in (400, 422) and "exact" in answer.text
