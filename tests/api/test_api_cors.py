"""CORS for a browser front end: off by default, and when configured the paging headers
are readable by the allowed origin only."""

from __future__ import annotations

import pytest
from apiworld import API, World
from fastapi.testclient import TestClient

from api.app import create_app
from data.settings import get_settings

UI = "https://flows.example.test"


def test_no_cors_headers_unless_configured(sqlite_url: str) -> None:
    client = TestClient(create_app(sqlite_url))
    response = client.get("/healthz", headers={"Origin": UI})
    assert "access-control-allow-origin" not in response.headers


def test_allowed_origin_can_read_paging_headers(
    monkeypatch: pytest.MonkeyPatch, db_url: str, world: World
) -> None:
    monkeypatch.setenv("FLOWRUNS_CORS_ORIGINS", f"{UI}, http://localhost:3000")
    get_settings.cache_clear()
    client = TestClient(create_app(db_url))
    preflight = client.options(
        API + "/",
        headers={
            "Origin": UI,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-api-key",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == UI
    listing = client.get(API + "/", headers={"Origin": UI, **world.headers("admin")})
    assert listing.status_code == 200
    exposed = listing.headers["access-control-expose-headers"].lower()
    assert {"x-total-count", "link"} <= {h.strip() for h in exposed.split(",")}
    other = client.get(API + "/", headers={"Origin": "https://evil.test", **world.headers("admin")})
    assert "access-control-allow-origin" not in other.headers
