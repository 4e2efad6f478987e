"""/stats, /stats/timeseries and /stats/flows against pandas over the seeded rows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from apiworld import API, World
from fastapi.testclient import TestClient

FINISHED = ("success", "failure", "cancelled")


def expected_period(frame: pd.DataFrame) -> dict[str, Any]:
    durations = frame["duration_ms"].dropna().astype(float)
    finished = frame["status"].isin(FINISHED).sum()
    success = (frame["status"] == "success").sum()
    p50, p95, p99 = np.percentile(durations, [50, 95, 99]) if len(durations) else (None, None, None)
    return {
        "total_runs": len(frame),
        "success_count": int(success),
        "failure_count": int((frame["status"] == "failure").sum()),
        "running_count": int((frame["status"] == "running").sum()),
        "pending_count": int((frame["status"] == "pending").sum()),
        "success_rate": round(100 * success / finished, 2) if finished else 0.0,
        "avg_duration_ms": durations.mean() if len(durations) else None,
        "p50_duration_ms": p50,
        "p95_duration_ms": p95,
        "p99_duration_ms": p99,
        "max_duration_ms": int(durations.max()) if len(durations) else None,
        "trigger_counts": frame["trigger_type"].value_counts().to_dict(),
        "status_counts": frame["status"].value_counts().to_dict(),
    }


def assert_period(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    for key, value in expected.items():
        if isinstance(value, float):
            assert actual[key] == pytest.approx(value, rel=1e-9), key
        else:
            assert actual[key] == value, key


def between(frame: pd.DataFrame, start: Any, end: Any) -> pd.DataFrame:
    return frame[(frame["started_at"] >= start) & (frame["started_at"] < end)]


def get(client: TestClient, world: World, path: str, who: str = "admin", **params: Any) -> Any:
    response = client.get(API + path, params=params, headers=world.headers(who))
    assert response.status_code == 200, response.text
    return response.json()


def test_stats_for_an_explicit_range_and_the_previous_one(client: TestClient, world: World) -> None:
    start, end = world.now - timedelta(days=10), world.now - timedelta(days=2)
    body = get(
        client, world, "/stats", started_after=start.isoformat(), started_before=end.isoformat()
    )
    assert_period(body, expected_period(between(world.truth, start, end)))
    assert body["period_days"] == pytest.approx(8)
    previous = between(world.truth, start - timedelta(days=8), start)
    assert len(previous) > 0
    assert_period(body["previous"], expected_period(previous))


def test_stats_default_is_the_last_seven_days(client: TestClient, world: World) -> None:
    body = get(client, world, "/stats")
    week = world.truth[world.truth["started_at"] >= world.now - timedelta(days=7)]
    assert_period(body, expected_period(week))
    assert body["period_days"] == pytest.approx(7)
    two_weeks_ago = between(world.truth, world.now - timedelta(days=14), world.now - timedelta(7))
    assert body["previous"]["total_runs"] == len(two_weeks_ago)


def test_stats_filters_and_scope(client: TestClient, world: World) -> None:
    alpha = world.flows["Alpha"]
    body = get(client, world, "/stats", who="alice", days=30, flow_id=str(alpha))
    mine = world.runs_of("alice")
    assert_period(body, expected_period(mine[mine["flow_id"] == alpha]))


def test_stats_of_an_empty_period(client: TestClient, world: World) -> None:
    body = get(client, world, "/stats", started_after="2001-01-01", started_before="2001-01-08")
    assert body["total_runs"] == 0 and body["success_rate"] is None  # "no data", never 0.0
    assert body["avg_duration_ms"] is None and body["p95_duration_ms"] is None


@pytest.mark.parametrize(
    "params",
    [
        {"days": 0},
        {"days": 3651},
        {"days": 3, "started_after": "2026-01-01T00:00:00Z"},
        {"started_after": "2026-02-01", "started_before": "2026-01-01"},
    ],
)
def test_bad_stats_parameters_are_422(
    client: TestClient, world: World, params: dict[str, Any]
) -> None:
    response = client.get(API + "/stats", params=params, headers=world.headers("admin"))
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], str)


def test_daily_timeseries_matches_pandas(client: TestClient, world: World) -> None:
    end = pd.Timestamp(world.now).floor("D")
    start = end - pd.Timedelta(days=12)
    body = get(
        client,
        world,
        "/stats/timeseries",
        started_after=start.isoformat(),
        started_before=end.isoformat(),
        bucket="day",
    )
    assert body["bucket"] == "day"
    rows = between(world.truth, start, end)
    by_day = rows.groupby(rows["started_at"].dt.floor("D"))
    runs = by_day.size().reindex(
        pd.date_range(start, end, freq="D", inclusive="left"), fill_value=0
    )
    points = pd.DataFrame(body["points"])
    assert list(pd.to_datetime(points["bucket"], utc=True)) == list(runs.index)
    assert list(points["runs"]) == list(runs)
    failures = by_day["status"].apply(lambda s: (s == "failure").sum())
    assert list(points["failure"]) == list(failures.reindex(runs.index, fill_value=0))
    finished = by_day["status"].apply(lambda s: s.isin(FINISHED).sum())
    success = by_day["status"].apply(lambda s: (s == "success").sum())
    rate = (100 * success / finished.where(finished > 0)).reindex(runs.index)
    assert points["success_rate"].astype(float).tolist() == pytest.approx(
        rate.tolist(), nan_ok=True
    )


def test_timeseries_picks_hours_for_short_windows(client: TestClient, world: World) -> None:
    body = get(client, world, "/stats/timeseries", days=2)
    assert body["bucket"] == "hour"
    assert sum(p["runs"] for p in body["points"]) == len(
        world.truth[world.truth["started_at"] >= world.now - timedelta(days=2)]
    )


def test_timeseries_rejects_too_many_buckets(client: TestClient, world: World) -> None:
    response = client.get(
        API + "/stats/timeseries",
        params={"days": 3650, "bucket": "hour"},
        headers=world.headers("admin"),
    )
    assert response.status_code == 422 and "bucket" in response.json()["detail"]


def test_flow_breakdown_matches_pandas(client: TestClient, world: World) -> None:
    body = get(client, world, "/stats/flows", days=30)
    actual = {row["flow_name"]: row for row in body}
    for name, rows in world.truth.groupby("flow_name"):
        row = actual[name]
        assert row["runs"] == len(rows)
        assert row["failure"] == (rows["status"] == "failure").sum()
        durations = rows["duration_ms"].dropna()
        assert row["p50_ms"] == pytest.approx(np.percentile(durations, 50))
        finished = rows["status"].isin(FINISHED).sum()
        assert row["success_rate"] == pytest.approx(
            100 * (rows["status"] == "success").sum() / finished
        )
        assert pd.Timestamp(row["last_run_at"]) == rows["started_at"].max()
    assert [row["runs"] for row in body] == sorted((row["runs"] for row in body), reverse=True)


def test_bucket_sizes_do_not_leak_between_requests(client: TestClient, world: World) -> None:
    """Regression: the compiled-SQL cache once reused an hourly query for daily buckets."""
    window = {"started_after": (world.now - timedelta(days=6)).isoformat()}
    for bucket, step in (("hour", "1h"), ("day", "1D"), ("week", "7D"), ("hour", "1h")):
        body = get(client, world, "/stats/timeseries", bucket=bucket, **window)
        starts = pd.to_datetime([p["bucket"] for p in body["points"]], utc=True)
        assert body["bucket"] == bucket
        assert (starts[1:] - starts[:-1] == pd.Timedelta(step)).all(), bucket


def test_timeseries_days_of_another_time_zone(client: TestClient, world: World) -> None:
    """tz=Asia/Tokyo: buckets start at Tokyo midnight (15:00 UTC); counts follow pandas."""
    end = pd.Timestamp(world.now).floor("D")
    start = end - pd.Timedelta(days=6)
    body = get(
        client,
        world,
        "/stats/timeseries",
        started_after=start.isoformat(),
        started_before=end.isoformat(),
        bucket="day",
        tz="Asia/Tokyo",
    )
    points = pd.DataFrame(body["points"])
    buckets = pd.to_datetime(points["bucket"], utc=True)
    assert set(buckets.dt.tz_convert("Asia/Tokyo").dt.hour) == {0}
    rows = between(world.truth, start, end)
    local_days = rows["started_at"].dt.tz_convert("Asia/Tokyo").dt.normalize().dt.tz_convert("UTC")
    expected = local_days.value_counts()
    got = dict(zip(buckets, points["runs"], strict=True))
    assert {b: n for b, n in got.items() if n} == expected.to_dict()


def test_timeseries_unknown_time_zone_is_422(client: TestClient, world: World) -> None:
    response = client.get(
        API + "/stats/timeseries", params={"tz": "Mars/Olympus"}, headers=world.headers("admin")
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "tz: unknown time zone 'Mars/Olympus'"
