"""Issue 18 "Also": the paging ``Link`` is built on ``FLOWRUNS_PUBLIC_URL`` when it is
set, never on the request's ``Host`` (which the client chooses), and a regular user's
audited dry runs are capped per hour (429 with Retry-After; nothing written). Both
backends."""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit

import httpx
import pytest
from apiworld import API, World
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from data.settings import get_settings

LINK = re.compile(r'<([^>]+)>; rel="next"')
FORGED = {"host": "evil.example"}


def _walk(client: TestClient, world: World, first_url: str) -> list[str]:
    """Every run id, following each Link by its path and query (the host is checked
    separately: the TestClient answers whatever host a link names)."""
    seen: list[str] = []
    url = first_url
    headers = world.headers("admin") | FORGED
    while True:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        seen += [run["id"] for run in response.json()]
        link = response.headers.get("Link")
        if not link:
            return seen
        found = LINK.fullmatch(link)
        assert found is not None, link
        parts = urlsplit(found.group(1))
        assert f"{parts.scheme}://{parts.netloc}" == "https://runs.example.com", link
        assert parts.path.startswith("/flowruns" + API + "/"), link
        url = parts.path.removeprefix("/flowruns") + "?" + parts.query


def test_links_use_the_public_url_not_the_host_header(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWRUNS_PUBLIC_URL", "https://runs.example.com/flowruns/")
    get_settings.cache_clear()
    seen = _walk(client, world, API + "/?limit=7&order_dir=asc")
    assert len(seen) == len(set(seen)) == len(world.truth)
    assert set(seen) == {str(i) for i in world.truth["id"]}


def test_without_a_public_url_the_link_follows_the_request(
    client: TestClient, world: World
) -> None:
    response = client.get(API + "/?limit=3", headers=world.headers("admin"))
    link = LINK.fullmatch(response.headers["Link"])
    assert link is not None and link.group(1).startswith("http://testserver" + API + "/?")


def _audit_rows(engine: Engine, user_id: uuid.UUID) -> int:
    with engine.connect() as conn:
        query = text("SELECT count(*) FROM flowrun_audit WHERE actor_user_id = :u")
        value = user_id.hex if engine.dialect.name == "sqlite" else user_id
        return int(conn.execute(query, {"u": value}).scalar_one())


def _dry_run(client: TestClient, world: World, who: str) -> httpx.Response:
    params = {"older_than_days": "1", "dry_run": "true"}
    return client.delete(API + "/", params=params, headers=world.headers(who))


def test_a_regular_users_dry_runs_are_capped_per_hour(
    client: TestClient, world: World, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWRUNS_DRY_RUNS_PER_HOUR", "5")
    get_settings.cache_clear()
    alice = world.users["alice"]
    truth = world.truth
    before = len(truth)
    for _ in range(5):
        assert _dry_run(client, world, "alice").status_code == 200
    refused = _dry_run(client, world, "alice")
    assert refused.status_code == 429
    detail = refused.json()["detail"]
    assert "dry_run" in detail and "at most 5 dry runs per hour" in detail
    assert 1 <= int(refused.headers["Retry-After"]) <= 3600
    assert _audit_rows(engine, alice) == 5  # the refused one wrote nothing
    # Another user has their own quota; a superuser is not capped.
    assert _dry_run(client, world, "bob").status_code == 200
    for _ in range(7):
        assert _dry_run(client, world, "admin").status_code == 200
    # An hour later the quota is free again.
    with engine.begin() as conn:
        conn.execute(text("UPDATE flowrun_audit SET at = :old"), {"old": "2000-01-01 00:00:00"})
    assert _dry_run(client, world, "alice").status_code == 200
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM flow_run")).scalar_one() == before
