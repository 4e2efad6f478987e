"""Poison rows (see poisonrows.py) against the API: every operation of the OpenAPI schema
(so a new endpoint is covered automatically) answers without a 5xx or a traceback, with
strict JSON and UTF-8 CSV; every stored row stays readable by id and appears exactly once
in a full cursor walk in every sort order, and every poison row can end a page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from poisonrows import PoisonedDatabase, strict_json
from sqlalchemy import select

from api.app import create_app
from data.db import build_engine
from data.models import FlowRun

SORT_KEYS = ("started_at", "duration_ms", "status", "flow_name", "trigger_type")
LIST_VARIANTS: list[dict[str, Any]] = [
    {},
    {"include_payloads": "false"},
    {"format": "csv"},
    {"status": "SUCCESS"},
    {"status": "weird"},
    {"trigger_type": "CRON"},
    {"q": "<script>"},
    {"min_duration_ms": 0},
    {"started_after": "0001-01-01T00:00:00Z"},
    {"order_by": "duration_ms", "order_dir": "asc", "limit": 500},
]
WINDOW_VARIANTS: list[dict[str, Any]] = [
    {},
    {"days": 3650},
    {"status": "weird", "days": 3650},
    {"bucket": "hour"},
    {"bucket": "day", "days": 3650},
    {"bucket": "week", "days": 3650, "tz": "Asia/Kolkata"},
]


def _check(response: Response, what: str) -> None:
    """An answer, not a crash: < 500, a JSON detail on errors, valid JSON or UTF-8 CSV."""
    assert response.status_code < 500, (what, response.status_code, response.text[:300])
    assert "Traceback" not in response.text, what
    kind = response.headers.get("content-type", "")
    if kind.startswith("application/json"):
        body = strict_json(response.text)
        if response.status_code >= 400:
            assert isinstance(body.get("detail"), str) and body["detail"], (what, body)
    elif kind.startswith("text/csv"):
        response.content.decode("utf-8")  # strict: an unencodable value would raise


def _params_of(operation: dict[str, Any]) -> set[str]:
    return {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}


def _get_variants(path: str, operation: dict[str, Any]) -> list[dict[str, Any]]:
    names = _params_of(operation)
    if "cursor" in names:
        return LIST_VARIANTS
    if "days" in names:
        return [v for v in WINDOW_VARIANTS if set(v) <= names]
    return [{}]


def _walk(client: TestClient, headers: dict[str, str], limit: int, **params: Any) -> list[str]:
    """Every id of a full cursor walk, ``limit`` per page."""
    seen: list[str] = []
    cursor = None
    for _ in range(1000):
        query = {"limit": limit, "include_total": "false", **params}
        if cursor:
            query["cursor"] = cursor
        response = client.get("/api/v1/flow-runs/", params=query, headers=headers)
        _check(response, f"walk {params}")
        assert response.status_code == 200, response.text[:300]
        seen += [run["id"] for run in response.json()]
        cursor = response.headers.get("X-Next-Cursor")
        if not cursor:
            return seen
    raise AssertionError("the walk did not end")


def _all_ids(url: str) -> set[str]:
    engine = build_engine(url)
    try:
        with engine.connect() as conn:
            return {str(i) for i in conn.execute(select(FlowRun.id)).scalars()}
    finally:
        engine.dispose()


def test_every_api_endpoint_answers_over_poison_rows(
    poisoned: PoisonedDatabase, record_figure: Callable[[str, object], None]
) -> None:
    admin, owner = poisoned.headers["admin"], poisoned.headers["owner"]
    app = create_app(poisoned.url)
    answered: list[int] = []
    with TestClient(app, raise_server_exceptions=False) as client:
        client.event_hooks["response"].append(lambda r: answered.append(r.status_code))
        covered = 0
        for path, operations in app.openapi()["paths"].items():
            for method, operation in operations.items():
                covered += _exercise(client, poisoned, path, method, operation, admin, owner)
        assert covered >= 12, "the schema lost endpoints?"
    record_figure("operations", covered)
    record_figure("requests", len(answered))
    record_figure("poison_rows", len(poisoned.runs))


def _exercise(
    client: TestClient,
    world: PoisonedDatabase,
    path: str,
    method: str,
    operation: dict[str, Any],
    admin: dict[str, str],
    owner: dict[str, str],
) -> int:
    """Call one operation in the ways that touch the poison rows; 1 when done."""
    path_params = set(re.findall(r"{(\w+)}", path))
    assert path_params <= {"run_id"}, f"{method} {path}: add its path parameters here"
    if method == "get" and path_params:
        for label, run_id in world.runs.items():
            response = client.get(path.format(run_id=run_id), headers=admin)
            _check(response, f"GET {label}")
            assert response.status_code == 200, (label, response.text[:300])
            body = response.json()  # a run, or its steps
            assert body.get("id", body.get("run_id")) == str(run_id), (label, path)
            # The owner sees their rows; a run without a user is a superuser's only.
            _check(client.get(path.format(run_id=run_id), headers=owner), f"GET {label}")
    elif method == "get":
        for params in _get_variants(path, operation):
            for headers in (admin, owner):
                _check(client.get(path, params=params, headers=headers), f"GET {path} {params}")
    elif method == "patch":
        for label, run_id in world.runs.items():
            body = {"status": "failure", "error_type": "X", "components_executed": 1}
            response = client.patch(path.format(run_id=run_id), json=body, headers=admin)
            _check(response, f"PATCH {label}")
    elif method == "post":
        for flow_id in world.flow_ids:
            body = {"flow_id": str(flow_id), "inputs": {"ok": True}}
            _check(client.post(path, json=body, headers=owner), f"POST on {flow_id}")
    elif method == "delete" and path_params:
        victim = world.runs["lone surrogate in inputs"]
        response = client.delete(path.format(run_id=victim), headers=admin)
        _check(response, "DELETE one")
        assert response.status_code == 200
        del world.runs["lone surrogate in inputs"]
    elif method == "delete":
        for params in (
            {"status": "success", "dry_run": "true"},
            {"all": "true", "dry_run": "true"},
        ):
            _check(client.delete(path, params=params, headers=admin), f"DELETE {params}")
    else:
        raise AssertionError(f"{method} {path}: not exercised by the poison test")
    return 1


@pytest.mark.parametrize("sort_key", SORT_KEYS)
def test_full_cursor_walks_see_every_poison_row_once(
    poisoned: PoisonedDatabase, sort_key: str
) -> None:
    admin = poisoned.headers["admin"]
    stored = _all_ids(poisoned.url)
    assert {str(i) for i in poisoned.runs.values()} <= stored
    with TestClient(create_app(poisoned.url), raise_server_exceptions=False) as client:
        for direction, limit in (("desc", 7), ("asc", 3)):
            seen = _walk(client, admin, limit, order_by=sort_key, order_dir=direction)
            walk = f"{direction} walk by {limit}"
            assert len(seen) == len(set(seen)), f"duplicates in the {walk}"
            assert set(seen) == stored, f"{walk}: {len(stored - set(seen))} missing"


@pytest.mark.parametrize("sort_key", SORT_KEYS)
def test_every_poison_row_can_be_a_page_boundary(poisoned: PoisonedDatabase, sort_key: str) -> None:
    """Pages of one run over the poison flows: each poison row's sort key goes into a
    cursor, which the API must accept back (year 1/9999 times; on SQLite, times another
    engine stored as non-canonical text, compared as stored: data.types.StoredTimeKey)."""
    flows = [str(flow_id) for flow_id in poisoned.flow_ids]
    with TestClient(create_app(poisoned.url), raise_server_exceptions=False) as client:
        both = [
            _walk(
                client, poisoned.headers["admin"], 1, order_by=sort_key, order_dir=d, flow_id=flows
            )
            for d in ("desc", "asc")
        ]
    assert len(both[0]) == len(set(both[0])) and set(both[0]) == set(both[1])
    assert {str(i) for i in poisoned.runs.values()} <= set(both[0])
