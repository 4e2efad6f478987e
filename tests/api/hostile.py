"""Helpers for the hostile-input tests: a database fingerprint (a refused request must
change nothing) and the check every refused request must pass."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine, Text, cast, func, select

from data.models import Base, FlowRun

RUN_CONTENT = (
    FlowRun.id,
    FlowRun.flow_id,
    FlowRun.user_id,
    FlowRun.session_id,
    FlowRun.status,
    FlowRun.started_at,
    FlowRun.ended_at,
    FlowRun.duration_ms,
    FlowRun.error_type,
    FlowRun.error_message,
    FlowRun.components_executed,
    cast(FlowRun.inputs, Text),
    cast(FlowRun.outputs, Text),
)


# An attempted delete of a missing run is audited (that is the point of an audit log).
UNFINGERPRINTED = frozenset({"flowrun_audit"})


def fingerprint(engine: Engine) -> tuple[tuple[int, ...], str]:
    """Row counts of every table (but the audit log), and a digest of every run."""
    tables = [t for t in Base.metadata.sorted_tables if t.name not in UNFINGERPRINTED]
    with engine.connect() as conn:
        counts = tuple(
            int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table in tables
        )
        rows = conn.execute(select(*RUN_CONTENT).order_by(FlowRun.id)).all()
    return counts, hashlib.sha256(repr(rows).encode()).hexdigest()


@dataclass(frozen=True)
class Case:
    """One hostile request and what it must answer: ``status`` and a ``detail`` that
    contains ``needle`` (the parameter or field it names)."""

    method: str
    path: str
    status: int
    needle: str
    params: Any = None
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    who: str = "admin"


def send(client: TestClient, case: Case, key_headers: dict[str, str]) -> httpx.Response:
    """``case`` as a request. JSON bodies are encoded here with ASCII escapes, as a real
    client would: httpx refuses to encode lone surrogates itself."""
    content = case.content
    headers = {**key_headers, **case.headers}
    if case.json is not None:
        content = json.dumps(case.json).encode()
        headers.setdefault("content-type", "application/json")
    return client.request(
        case.method, case.path, params=case.params, content=content, headers=headers
    )


def problem_with(response: httpx.Response, case: Case) -> str | None:
    """Why ``response`` is not the precise refusal ``case`` expects; None if it is."""
    text = response.text
    if "Traceback" in text or 'File "' in text:
        return f"traceback in the body: {text[:200]}"
    if response.status_code != case.status:
        return f"status {response.status_code}, expected {case.status}: {text[:300]}"
    if not response.headers.get("content-type", "").startswith("application/json"):
        return f"not JSON: {response.headers.get('content-type')}"
    detail = response.json().get("detail")
    if not isinstance(detail, str) or case.needle.lower() not in detail.lower():
        return f"detail {detail!r} does not name {case.needle!r}"
    return None
