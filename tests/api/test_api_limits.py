"""Size limits answered as JSON: the body cap (``FLOWRUNS_MAX_BODY_BYTES``, checked on
Content-Length and counted while a chunked body streams in), the JSON depth cap, and the
URL and header caps below uvicorn's own 16 KiB limit."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from apiworld import API, World
from fastapi.testclient import TestClient

from api.app import create_app
from api.limits import MAX_HEADER_BYTES, MAX_URL_BYTES
from data.settings import get_settings

CHUNK = 64 * 1024


def runs_total(client: TestClient, world: World) -> int:
    response = client.get(API + "/", params={"limit": 1}, headers=world.headers("admin"))
    return int(response.headers["X-Total-Count"])


def post_inputs(client: TestClient, world: World, size: int) -> Any:
    body = {"flow_id": str(world.flows["Alpha"]), "inputs": {"blob": "x" * size}}
    return client.post(API + "/", json=body, headers=world.headers("alice"))


def test_default_cap_is_one_megabyte(client: TestClient, world: World) -> None:
    before = runs_total(client, world)
    too_big = post_inputs(client, world, 1_100_000)
    assert too_big.status_code == 413
    assert too_big.json() == {
        "detail": "body: larger than the limit of 1048576 bytes (FLOWRUNS_MAX_BODY_BYTES)"
    }
    assert runs_total(client, world) == before
    assert post_inputs(client, world, 900_000).status_code == 201


def test_cap_is_configurable(db_url: str, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWRUNS_MAX_BODY_BYTES", "2048")
    get_settings.cache_clear()
    client = TestClient(create_app(db_url))
    assert post_inputs(client, world, 3000).status_code == 413
    assert post_inputs(client, world, 1000).status_code == 201


def test_chunked_body_is_refused_while_streaming(sqlite_url: str) -> None:
    """Driven at the ASGI level to see how much of an endless chunked body is read."""
    app = create_app(sqlite_url)
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b"x" * CHUNK, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": API + "/",
        "raw_path": (API + "/").encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"x-api-key", b"frh_x")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 413
    assert "FLOWRUNS_MAX_BODY_BYTES" in json.loads(sent[1]["body"])["detail"]
    # Reading stopped just past the cap: never more than the cap plus one chunk.
    assert pulled * CHUNK <= get_settings().max_body_bytes + CHUNK


def test_declared_length_above_the_cap_is_refused_unread(client: TestClient, world: World) -> None:
    response = client.post(
        API + "/",
        content=b"{}",
        headers={
            **world.headers("alice"),
            "content-type": "application/json",
            "content-length": "99999999",
        },
    )
    assert response.status_code == 413 and "FLOWRUNS_MAX_BODY_BYTES" in response.json()["detail"]


def test_json_nested_beyond_any_parser_is_a_422(client: TestClient, world: World) -> None:
    deep = b'{"flow_id": "' + str(world.flows["Alpha"]).encode() + b'", "inputs": '
    deep += b"[" * 200_000 + b"]" * 200_000 + b"}"
    response = client.post(
        API + "/",
        content=deep,
        headers={**world.headers("alice"), "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "body: nested deeper than 64 levels"


def test_long_url_and_large_headers_are_json_errors(client: TestClient, world: World) -> None:
    long_url = client.get(
        API + "/", params={"q": "x" * (MAX_URL_BYTES + 1)}, headers=world.headers("admin")
    )
    assert long_url.status_code == 414
    assert long_url.json() == {"detail": f"URL: longer than {MAX_URL_BYTES} bytes"}
    big_headers = {**world.headers("admin"), "x-padding": "p" * MAX_HEADER_BYTES}
    large = client.get(API + "/", headers=big_headers)
    assert large.status_code == 431
    assert large.json() == {"detail": f"headers: larger than {MAX_HEADER_BYTES} bytes in total"}
    # Just under the caps, the same requests are served.
    fits = {**world.headers("admin"), "x-padding": "p" * (MAX_HEADER_BYTES - 500)}
    assert client.get(API + "/", headers=fits).status_code == 200
