"""Crafted cursors: every well-formed-but-wrong cursor is a 400 naming the problem (never a
500, never PostgreSQL's "operator does not exist" turned into a 503), and hypothesis
fuzzing of cursor decoding yields only a valid page or ``InvalidCursor``."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
from apiworld import API, World
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from data import queries as q
from data.filters import FlowRunFilter
from data.queries.cursors import InvalidCursor

SORTS = tuple(q.SORT_KEYS)
ID = uuid.UUID(int=7).hex


def encode(payload: Any) -> str:
    text = payload if isinstance(payload, str) else json.dumps(payload, allow_nan=True)
    return base64.urlsafe_b64encode(text.encode("utf-8", "surrogatepass")).decode().rstrip("=")


def crafted(sort: str) -> list[tuple[str, str]]:
    """(cursor, what the detail must mention) for one sort column."""
    wrong_type = "x" if sort in ("started_at", "duration_ms") else 5
    keys: list[Any] = [None, [1, 2], 3.5, True, "text", {"ts": 5}, wrong_type, {}]
    keys += [{"ts": "0001-01-01T00:00:00+14:00"}, {"ts": "9999-12-31T23:59:59-14:00"}]
    keys += [{"ts": "2024-01-01", "x": 1}, {"ts": "yesterday"}, 2**70, -(2**64)]
    valid_key = 5 if sort == "duration_ms" else "a"
    cases = [
        (encode({"s": sort, "d": "desc", "k": key, "id": ID}), f"{sort} key")
        for key in keys
        if not (sort not in ("started_at", "duration_ms") and key == "text")
    ]
    cases += [
        (encode(f'{{"s": "{sort}", "d": "desc", "k": NaN, "id": "{ID}"}}'), "base64-encoded"),
        (encode({"s": sort, "d": "asc", "k": valid_key, "id": ID}), "different order"),
        (encode({"s": "password", "d": "desc", "k": valid_key, "id": ID}), "different order"),
        (encode({"s": sort, "d": "desc", "k": valid_key, "id": 5}), "run id"),
        (encode({"s": sort, "d": "desc", "k": valid_key, "id": "nope"}), "run id"),
        (encode({"s": sort, "d": "desc", "k": valid_key}), "expected an object"),
        (encode({"s": sort, "d": "desc", "k": valid_key, "id": ID, "x": 1}), "expected an object"),
        (encode([sort, "desc"]), "expected an object"),
        (encode("null"), "expected an object"),
        (encode("12"), "expected an object"),
        ("!!!not base64!!!", "base64"),
        (base64.urlsafe_b64encode(b"\xff\xfe{").decode(), "base64"),
    ]
    if sort not in ("started_at", "duration_ms"):
        for bad in ("\udc00", "a\x00b"):
            cases.append((encode({"s": sort, "d": "desc", "k": bad, "id": ID}), f"{sort} key"))
    return cases


def test_crafted_cursors_are_400_naming_the_problem(
    shared_client: TestClient, shared_world: World
) -> None:
    failures = []
    total = 0
    for sort in SORTS:
        for cursor, needle in crafted(sort):
            total += 1
            response = shared_client.get(
                API + "/",
                params={"cursor": cursor, "order_by": sort},
                headers=shared_world.headers("alice"),
            )
            detail = response.json().get("detail", "")
            if response.status_code != 400 or needle not in detail or "cursor" not in detail:
                failures.append(f"{sort} {cursor[:60]}: {response.status_code} {detail}")
    assert total > 100
    assert not failures, "\n".join(failures)


def test_a_real_cursor_of_every_sort_pages_on(
    shared_client: TestClient, shared_world: World
) -> None:
    for sort in SORTS:
        for direction in ("asc", "desc"):
            params = {"order_by": sort, "order_dir": direction, "limit": 7}
            first = shared_client.get(API + "/", params=params, headers=shared_world.headers("bob"))
            cursor = first.headers["X-Next-Cursor"]
            second = shared_client.get(
                API + "/", params={**params, "cursor": cursor}, headers=shared_world.headers("bob")
            )
            assert second.status_code == 200, (sort, direction, second.text)
            assert not {r["id"] for r in first.json()} & {r["id"] for r in second.json()}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
keys = json_values | st.builds(
    lambda ts: {"ts": ts}, st.text(max_size=30) | st.datetimes().map(lambda d: d.isoformat())
)
payloads = st.fixed_dictionaries(
    {
        "s": st.sampled_from(SORTS) | st.text(max_size=10),
        "d": st.sampled_from(("asc", "desc")) | st.text(max_size=5),
        "k": keys,
        "id": st.uuids().map(lambda u: u.hex) | json_values,
    }
)
cursors = payloads.map(encode) | json_values.map(encode) | st.text(max_size=60)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(cursor=cursors, sort=st.sampled_from(SORTS), direction=st.sampled_from(("asc", "desc")))
def test_fuzzed_cursors_give_a_page_or_invalid_cursor(
    shared_engine: Engine, shared_world: World, cursor: str, sort: str, direction: str
) -> None:
    scope = FlowRunFilter(user_id=shared_world.users["alice"])
    try:
        page = q.list_runs(shared_engine, scope, sort=sort, direction=direction, cursor=cursor)
    except InvalidCursor as exc:
        assert str(exc).startswith("cursor: ")
    else:
        assert all(run.user_id == shared_world.users["alice"] for run in page.runs)


@pytest.mark.parametrize("sort", ["status", "flow_name", "trigger_type"])
def test_numeric_key_on_a_text_sort_is_not_a_503(
    shared_client: TestClient, shared_world: World, sort: str
) -> None:
    cursor = encode({"s": sort, "d": "desc", "k": 12345, "id": ID})
    response = shared_client.get(
        API + "/",
        params={"cursor": cursor, "order_by": sort},
        headers=shared_world.headers("admin"),
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": f"cursor: not a cursor returned by this API (the {sort} key must be text)"
    }


@pytest.mark.parametrize(
    ("sort", "key"),
    [
        ("started_at", {"ts": "0001-01-01T00:00:00+00:00"}),
        ("started_at", {"ts": "9999-12-31T23:59:59.999999+00:00"}),
        ("duration_ms", -5000),
        ("duration_ms", 2**63 - 1),
    ],
)
def test_keys_a_stored_run_can_have_are_accepted(
    shared_client: TestClient, shared_world: World, sort: str, key: Any
) -> None:
    """Another engine may store a run dated year 1 or 9999, or a negative duration: the
    cursor the API issues after it must be accepted back."""
    for direction in ("asc", "desc"):
        cursor = encode({"s": sort, "d": direction, "k": key, "id": ID})
        params = {"cursor": cursor, "order_by": sort, "order_dir": direction, "limit": 500}
        response = shared_client.get(API + "/", params=params, headers=shared_world.headers("bob"))
        assert response.status_code == 200, response.text
        # Every seeded run lies strictly on one side of these extreme keys.
        assert len(response.json()) in (0, len(shared_world.runs_of("bob"))), (sort, direction)
