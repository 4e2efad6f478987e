"""GET /api/v1/flow-runs/: every filter, ordering, headers and pagination, checked against
pandas over the seeded rows."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pandas as pd
import pytest
from apiworld import API, World, expected_ids, ids
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from data.recorder import start_run


def fetch(client: TestClient, world: World, who: str = "admin", **params: Any) -> Any:
    response = client.get(API + "/", params={"limit": 500, **params}, headers=world.headers(who))
    assert response.status_code == 200, response.text
    return response


def test_default_page_is_newest_first_with_total(client: TestClient, world: World) -> None:
    response = client.get(API + "/", headers=world.headers("admin"))
    assert response.status_code == 200
    body = response.json()
    assert isinstance(body, list) and len(body) == 50
    assert ids(body) == expected_ids(world.truth)[:50]
    assert int(response.headers["X-Total-Count"]) == len(world.truth)
    assert 'rel="next"' in response.headers["Link"]
    first = world.truth.set_index("id").loc[ids(body)[0]]
    assert body[0]["flow_name"] == first["flow_name"]
    assert body[0]["inputs"] == first["inputs"]


def _filters(world: World) -> list[tuple[dict[str, Any], pd.Series]]:
    t = world.truth
    alpha, beta = world.flows["Alpha"], world.flows["Beta"]
    after = world.now - timedelta(days=5)
    before = world.now - timedelta(days=2)
    return [
        ({"flow_id": [str(alpha)]}, t["flow_id"] == alpha),
        ({"flow_id": [str(alpha), str(beta)]}, t["flow_id"].isin([alpha, beta])),
        ({"status": ["failure"]}, t["status"] == "failure"),
        ({"status": ["success", "cancelled"]}, t["status"].isin(["success", "cancelled"])),
        ({"trigger_type": ["api", "cron"]}, t["trigger_type"] == "api"),
        ({"session_id": "s-3"}, t["session_id"] == "s-3"),
        ({"started_after": after.isoformat()}, t["started_at"] >= after),
        ({"started_before": before.isoformat()}, t["started_at"] < before),
        ({"q": "RATE LIMIT"}, t["error_message"].fillna("").str.lower().str.contains("rate limit")),
        ({"min_duration_ms": 40_000}, t["duration_ms"] >= 40_000),
        ({"max_duration_ms": 1_000}, t["duration_ms"] <= 1_000),
        ({"error_type": ["ValueError"]}, t["error_type"] == "ValueError"),
        (
            {"status": ["success"], "flow_id": [str(beta)], "started_after": after.isoformat()},
            (t["status"] == "success") & (t["flow_id"] == beta) & (t["started_at"] >= after),
        ),
    ]


def test_every_filter_matches_pandas(client: TestClient, world: World) -> None:
    for params, mask in _filters(world):
        expected = world.truth[mask.fillna(False).astype(bool)]
        assert len(expected) > 0, f"seed gives no rows for {params}"
        response = fetch(client, world, **params)
        assert ids(response.json()) == expected_ids(expected), params
        assert int(response.headers["X-Total-Count"]) == len(expected), params


@pytest.mark.parametrize("key", ["started_at", "duration_ms", "status", "flow_name"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_order_by_whitelisted_keys(
    client: TestClient, world: World, key: str, direction: str
) -> None:
    body = fetch(client, world, order_by=key, order_dir=direction).json()
    values = [run[key] if run[key] is not None else -1 for run in body]
    if key == "started_at":
        values = [pd.Timestamp(v) for v in values]
    expected = world.truth[key].fillna(-1).astype(int) if key == "duration_ms" else world.truth[key]
    if key == "flow_name":  # collation-independent: each flow's runs are contiguous
        groups = [name for i, name in enumerate(values) if i == 0 or values[i - 1] != name]
        assert len(groups) == len(set(values))
    else:
        assert values == sorted(values, reverse=direction == "desc")
    assert sorted(map(str, values)) == sorted(map(str, expected.tolist()))


def test_invalid_list_parameters_are_422(client: TestClient, world: World) -> None:
    headers = world.headers("admin")
    cases = [
        {"limit": 501},
        {"limit": 0},
        {"offset": -1},
        {"order_by": "password"},
        {"order_dir": "sideways"},
        {"status": "exploded"},
        {"flow_id": "not-a-uuid"},
        {"started_after": "yesterday"},
        {"started_after": "1800-01-01T00:00:00"},
        {"q": "a\x00b"},
        {"started_after": "2026-01-02", "started_before": "2026-01-01"},
    ]
    for params in cases:
        response = client.get(API + "/", params=params, headers=headers)
        assert response.status_code == 422, (params, response.text)
        assert isinstance(response.json()["detail"], str) and response.json()["detail"]


def test_cursor_from_another_order_is_rejected(client: TestClient, world: World) -> None:
    cursor = fetch(client, world, limit=5).headers["X-Next-Cursor"]
    response = client.get(
        API + "/", params={"cursor": cursor, "order_by": "status"}, headers=world.headers("admin")
    )
    assert response.status_code == 400
    assert "order_by" in response.json()["detail"]


def _follow_links(client: TestClient, world: World, first: dict[str, Any]) -> list[uuid.UUID]:
    seen: list[uuid.UUID] = []
    response = client.get(API + "/", params=first, headers=world.headers("admin"))
    while True:
        assert response.status_code == 200
        seen += ids(response.json())
        link = response.headers.get("Link")
        if not link:
            return seen
        url = re.fullmatch(r'<([^>]+)>; rel="next"', link)
        assert url is not None, link
        response = client.get(url.group(1), headers=world.headers("admin"))


@pytest.mark.parametrize("order_by", ["started_at", "duration_ms", "flow_name"])
def test_offset_and_cursor_pages_equal_one_big_page(
    client: TestClient, world: World, order_by: str
) -> None:
    big = ids(fetch(client, world, order_by=order_by, order_dir="asc").json())
    assert len(big) == len(world.truth)
    by_cursor = _follow_links(
        client, world, {"limit": 17, "order_by": order_by, "order_dir": "asc"}
    )
    by_offset: list[uuid.UUID] = []
    for offset in range(0, len(big), 17):
        page = fetch(client, world, limit=17, offset=offset, order_by=order_by, order_dir="asc")
        by_offset += ids(page.json())
    assert by_cursor == big
    assert by_offset == big


def test_cursor_paging_has_no_duplicates_or_gaps_while_runs_arrive(
    client: TestClient, world: World, engine: Engine
) -> None:
    before = expected_ids(world.truth)
    seen: list[uuid.UUID] = []
    params: dict[str, Any] = {"limit": 20}
    alpha = world.flows["Alpha"]
    while True:
        response = fetch(client, world, **params)
        seen += ids(response.json())
        # New runs land at the top of the newest-first order while we page.
        start_run(engine, alpha, user_id=world.users["alice"])
        cursor = response.headers.get("X-Next-Cursor")
        if cursor is None:
            break
        params = {"limit": 20, "cursor": cursor}
    assert seen[: len(before)] == before
    assert len(seen) == len(set(seen))


def test_offset_paging_would_duplicate_while_runs_arrive(
    client: TestClient, world: World, engine: Engine
) -> None:
    """Why the Link header carries a cursor: offsets shift when runs are inserted."""
    first = ids(fetch(client, world, limit=20).json())
    start_run(engine, world.flows["Alpha"], user_id=world.users["alice"])
    second = ids(fetch(client, world, limit=20, offset=20).json())
    assert first[-1] == second[0]


def test_total_can_be_left_out(client: TestClient, world: World) -> None:
    response = fetch(client, world, limit=5, include_total="false")
    assert "X-Total-Count" not in response.headers
    assert ids(response.json()) == expected_ids(world.truth)[:5]


def test_payloads_can_be_left_out(client: TestClient, world: World) -> None:
    body = fetch(client, world, limit=5, include_payloads="false").json()
    assert all(run["inputs"] is None and run["outputs"] is None for run in body)


def test_get_one_run(client: TestClient, world: World) -> None:
    row = world.truth.iloc[3]
    response = client.get(f"{API}/{row['id']}", headers=world.headers("admin"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == row["status"] and body["flow_name"] == row["flow_name"]
    assert pd.Timestamp(body["started_at"]) == row["started_at"]
    assert body["metadata"] == {"seeded": True}


def test_get_missing_and_malformed_run(client: TestClient, world: World) -> None:
    missing = uuid.uuid4()
    response = client.get(f"{API}/{missing}", headers=world.headers("admin"))
    assert response.status_code == 404
    assert response.json() == {"detail": f"Flow run {missing} not found"}
    assert client.get(f"{API}/12345", headers=world.headers("admin")).status_code == 422
