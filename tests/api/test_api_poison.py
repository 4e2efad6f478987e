"""Reading never fails on a stored value: payloads and texts another engine wrote
straight into the tables (lone surrogates, NaN, 1e400, 300-level nesting, text that is
not JSON, bytes that are not UTF-8) degrade to that one value, and GET /{id}, the list,
the CSV export and the stats keep answering for the owner and for a superuser.
(tests/reliability/test_reliability_poison.py walks every endpoint over more shapes.)"""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import pandas as pd
from apiworld import API, World, ids
from fastapi.testclient import TestClient
from sqlalchemy import JSON, Engine, Text, cast, literal, literal_column, update

from data.json_values import UNREADABLE_PREFIX
from data.models import FlowRun

DEEP = "[" * 300 + "]" * 300
# column -> (stored JSON text, what the API answers); PostgreSQL's json type holds these.
BOTH: dict[str, tuple[str, Any]] = {
    "inputs": (
        '{"a": "\\udc00", "k\\ud800": ["\\udfff ok"]}',
        {"a": "\ufffd", "k\ufffd": ["\ufffd ok"]},
    ),
    "outputs": ('{"big": 1e400, "n": 1}', {"big": None, "n": 1}),
    "metadata": (DEEP, UNREADABLE_PREFIX + DEEP),
}
# Only SQLite can hold these (PostgreSQL refuses them on write).
SQLITE_ONLY: dict[str, tuple[str, Any]] = {
    "inputs": ('{"x": NaN, "y": -Infinity}', {"x": None, "y": None}),
    "outputs": ("not json {", UNREADABLE_PREFIX + "not json {"),
}


def _poison(engine: Engine, run_id: uuid.UUID, values: dict[str, tuple[str, Any]]) -> None:
    columns = {"inputs": FlowRun.inputs, "outputs": FlowRun.outputs, "metadata": FlowRun.metadata_}
    changes: dict[Any, Any] = {}
    for name, (stored, _) in values.items():
        raw = literal(stored, Text())
        # SQLite takes the text as it is (a CAST to JSON would apply numeric affinity).
        changes[columns[name]] = raw if engine.dialect.name == "sqlite" else cast(raw, JSON)
    if engine.dialect.name == "sqlite":
        changes[FlowRun.error_message] = literal_column("CAST(X'626164ff20627974' AS TEXT)")
    with engine.begin() as conn:
        conn.execute(update(FlowRun).where(FlowRun.id == run_id).values(changes))


def test_poison_rows_degrade_one_value_and_every_read_answers(
    client: TestClient, world: World, engine: Engine
) -> None:
    alices = world.runs_of("alice")
    first, second = (uuid.UUID(str(v)) for v in alices["id"].iloc[:2])
    _poison(engine, first, BOTH)
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:
        _poison(engine, second, SQLITE_ONLY)
    for who in ("alice", "admin"):
        headers = world.headers(who)
        run = client.get(f"{API}/{first}", headers=headers)
        assert run.status_code == 200, run.text
        for name, (_, expected) in BOTH.items():
            assert run.json()[name] == expected, name
        other = client.get(f"{API}/{second}", headers=headers).json()
        if sqlite:
            assert other["inputs"] == {"x": None, "y": None}
            assert other["outputs"] == UNREADABLE_PREFIX + "not json {"
            assert other["error_message"] == "bad\ufffd byt"
        page = client.get(API + "/", params={"limit": 500}, headers=headers)
        assert page.status_code == 200 and {first, second} <= set(ids(page.json()))
        json.loads(page.text)  # strict JSON: no NaN, no surrogate escapes left over
        assert "\\ud" not in page.text.lower()
        csv = client.get(API + "/export.csv", headers=headers)
        frame = pd.read_csv(io.StringIO(csv.text))
        assert csv.status_code == 200 and str(first) in set(frame["id"])
        for path in ("/stats", "/stats/timeseries", "/stats/flows"):
            assert client.get(API + path, params={"days": 30}, headers=headers).status_code == 200
