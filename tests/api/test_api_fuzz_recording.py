"""Hypothesis fuzzing of the recording API with arbitrary JSON: lone surrogates (in
values and keys), NaN/Infinity, huge integers, deep nesting. Never a 5xx: either the
run is stored and reads back exactly as sent, or the request is a 422 naming the body
field, and nothing is stored."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from apiworld import API, World
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data.json_values import MAX_JSON_DEPTH

characters = st.characters(codec=None, categories=("L", "N", "P", "S", "Zs", "Cc", "Cs"))
texts = st.text(characters, max_size=12) | st.sampled_from(["\udc00", "a\ud800b", "\udfff"])
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([2**64, -(10**40), 10**4500])
    | st.floats(allow_nan=True, allow_infinity=True)
    | texts
)
trees = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)


def nest(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"n": value}
    return value


payloads = trees | st.integers(MAX_JSON_DEPTH - 3, MAX_JSON_DEPTH + 3).map(nest)


@pytest.fixture(scope="module", autouse=True)
def _unlimited_int_text() -> Iterator[None]:
    """Lets the test encode 4500-digit integers (the server must refuse them itself)."""
    previous = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    yield
    sys.set_int_max_str_digits(previous)


def send_json(client: TestClient, method: str, path: str, body: Any, headers: Any) -> Any:
    content = json.dumps(body, allow_nan=True)  # ASCII escapes, as a real client sends
    headers = {**headers, "content-type": "application/json"}
    return client.request(method, path, content=content, headers=headers)


def total(client: TestClient, world: World) -> int:
    listed = client.get(API + "/", params={"limit": 1}, headers=world.headers("admin"))
    assert listed.status_code == 200
    return int(listed.headers["X-Total-Count"])


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(inputs=payloads, metadata=payloads, outputs=payloads, session=st.none() | texts)
def test_recording_arbitrary_json_never_fails(
    shared_client: TestClient,
    shared_world: World,
    inputs: Any,
    metadata: Any,
    outputs: Any,
    session: str | None,
) -> None:
    headers = shared_world.headers("alice")
    before = total(shared_client, shared_world)
    body = {"flow_id": str(shared_world.flows["Alpha"]), "inputs": inputs, "metadata": metadata}
    if session is not None:
        body["session_id"] = session
    created = send_json(shared_client, "POST", API + "/", body, headers)
    assert created.status_code in (201, 422), created.text
    if created.status_code == 422:
        assert created.json()["detail"].startswith("body")
        assert total(shared_client, shared_world) == before
        return
    run = shared_client.get(created.headers["Location"], headers=headers).json()
    assert run["inputs"] == inputs and run["metadata"] == metadata
    finished = send_json(
        shared_client,
        "PATCH",
        created.headers["Location"],
        {"status": "success", "outputs": outputs},
        headers,
    )
    assert finished.status_code in (200, 422), finished.text
    if finished.status_code == 200:
        assert finished.json()["outputs"] == outputs
    else:
        assert finished.json()["detail"].startswith("body.outputs")
