"""A bounded soak on each backend: the real API (uvicorn) with writers recording runs
(POST then PATCH), readers walking every page by cursor and asking for stats, a feeder
bulk-inserting old runs as another engine would, and a retention prune deleting them in
small batches, all at once for FLOWRUNS_SOAK_SECONDS (default 10 s per backend in CI;
docs/reliability.md reports a 50 s run).

Required: no 5xx and no transport error; no run lost or duplicated: every recorded run
is seen exactly once by a full cursor walk afterwards (recorded runs are recent, so the
prune never matches them), every walk made during the soak holds no duplicate and every
run acknowledged before it began, and the table holds exactly the acknowledged runs.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from types import ModuleType

import httpx
import pytest
from reliakit import API, Tenant, env_number, make_tenant
from sqlalchemy import Engine, func, insert, select

from data.models import FlowRun, utcnow
from data.retention import RetentionPolicy, prune

OLD_AGE = timedelta(days=400)
POLICY = RetentionPolicy(max_age_days=365)


@pytest.fixture(scope="module")
def soak_seconds() -> float:
    # Module scope: read before the per-test fixture clears FLOWRUNS_* variables.
    return env_number("FLOWRUNS_SOAK_SECONDS", 10)


@dataclass
class Ledger:
    """What every actor saw, shared between threads."""

    acked: dict[str, float] = field(default_factory=dict)  # run id -> when its POST answered
    finished: set[str] = field(default_factory=set)
    walks: list[tuple[float, list[str]]] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    pruned: int = 0
    fed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def saw(self, response: httpx.Response, what: str) -> None:
        with self.lock:
            self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
            if response.status_code >= 500:
                self.failures.append(f"{what}: {response.status_code} {response.text[:200]}")


def _old_rows(flow_id: uuid.UUID, count: int) -> list[dict[str, object]]:
    started = utcnow() - OLD_AGE
    return [
        {
            "id": uuid.uuid4(),
            "flow_id": flow_id,
            "status": "success",
            "trigger_type": "schedule",
            "started_at": started - timedelta(seconds=i),
            "ended_at": started - timedelta(seconds=i) + timedelta(milliseconds=500),
            "duration_ms": 500,
            "components_executed": 1,
        }
        for i in range(count)
    ]


def _writer(client: httpx.Client, tenant: Tenant, ledger: Ledger, index: int) -> None:
    post = client.post(API + "/", json={"flow_id": str(tenant.flow_id), "inputs": {"w": index}})
    ledger.saw(post, "POST")
    if post.status_code != 201:
        with ledger.lock:
            ledger.failures.append(f"POST {post.status_code} {post.text[:200]}")
        return
    run_id = post.json()["id"]
    with ledger.lock:
        ledger.acked[run_id] = time.monotonic()
    status = "success" if index % 3 else "failure"
    patch = client.patch(f"{API}/{run_id}", json={"status": status, "outputs": {"n": index}})
    ledger.saw(patch, "PATCH")
    if patch.status_code == 200:
        with ledger.lock:
            ledger.finished.add(run_id)


def walk(client: httpx.Client, ledger: Ledger | None = None, limit: int = 200) -> list[str]:
    """Every run id, newest first, following X-Next-Cursor."""
    ids: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": limit, "include_total": "false"}
        if cursor:
            params["cursor"] = cursor
        params["include_payloads"] = "false"
        response = client.get(API + "/", params=params)
        if ledger is not None:
            ledger.saw(response, "walk")
        if response.status_code != 200:
            raise AssertionError(f"walk page: {response.status_code} {response.text[:200]}")
        ids += [run["id"] for run in response.json()]
        cursor = response.headers.get("X-Next-Cursor")
        if not cursor:
            return ids


def _reader(client: httpx.Client, ledger: Ledger, index: int) -> None:
    began = time.monotonic()
    ids = walk(client, ledger)
    with ledger.lock:
        ledger.walks.append((began, ids))
    ledger.saw(client.get(API + "/stats", params={"days": 1}), "stats")


def _pruner(engine: Engine, flow_id: uuid.UUID, ledger: Ledger, index: int) -> None:
    rows = _old_rows(flow_id, 300)
    with engine.begin() as conn:
        conn.execute(insert(FlowRun), rows)
    result = prune(engine, POLICY, batch_size=100)
    with ledger.lock:
        ledger.fed += len(rows)
        ledger.pruned += result.total


def _loop(
    stop: threading.Event, ledger: Ledger, step: Callable[[int], None], name: str
) -> threading.Thread:
    def run() -> None:
        index = 0
        while not stop.is_set():
            try:
                step(index)
            except Exception as exc:  # any crash of an actor is a finding
                with ledger.lock:
                    ledger.failures.append(f"{name}: {type(exc).__name__}: {exc}"[:300])
            index += 1

    thread = threading.Thread(target=run, name=name)
    thread.start()
    return thread


def test_soak_writers_readers_and_prune_lose_and_duplicate_nothing(
    engine: Engine,
    db_url: str,
    load_bench: ModuleType,
    soak_seconds: float,
    record_figure: Callable[[str, object], None],
) -> None:
    tenant = make_tenant(engine)
    with engine.begin() as conn:
        conn.execute(insert(FlowRun), _old_rows(tenant.flow_id, 2000))
    ledger = Ledger()
    stop = threading.Event()
    with (
        load_bench.running_server(db_url) as server,
        httpx.Client(base_url=server.base, headers=tenant.headers, timeout=60) as client,
    ):
        actors = [
            _loop(stop, ledger, lambda i: _writer(client, tenant, ledger, i), "writer-1"),
            _loop(stop, ledger, lambda i: _writer(client, tenant, ledger, i), "writer-2"),
            _loop(stop, ledger, lambda i: _reader(client, ledger, i), "reader-1"),
            _loop(stop, ledger, lambda i: _reader(client, ledger, i), "reader-2"),
            _loop(stop, ledger, lambda i: _pruner(engine, tenant.flow_id, ledger, i), "pruner"),
        ]
        time.sleep(soak_seconds)
        stop.set()
        for actor in actors:
            actor.join(timeout=120)
        final = walk(client, limit=500)

    for name, value in (
        ("seconds", soak_seconds),
        ("recorded", len(ledger.acked)),
        ("walks", len(ledger.walks)),
        ("pages_and_requests", sum(ledger.statuses.values())),
        ("pruned", ledger.pruned),
        ("statuses", dict(sorted(ledger.statuses.items()))),
    ):
        record_figure(name, value)  # figures for docs/reliability.md (junit XML)
    assert not ledger.failures, ledger.failures[:5]
    assert not [s for s in ledger.statuses if s >= 500], ledger.statuses
    assert len(ledger.acked) >= 10 and len(ledger.walks) >= 2 and ledger.pruned >= 300
    _assert_walks_consistent(ledger)
    _assert_final_state(engine, ledger, final)


def _assert_walks_consistent(ledger: Ledger) -> None:
    for began, ids in ledger.walks:
        assert len(ids) == len(set(ids)), "a walk during the soak returned a run twice"
        before = {run_id for run_id, at in ledger.acked.items() if at < began}
        missing = before - set(ids)
        assert not missing, f"a walk missed {len(missing)} runs acknowledged before it began"


def _assert_final_state(engine: Engine, ledger: Ledger, final: list[str]) -> None:
    assert len(final) == len(set(final)), "the final walk returned a run twice"
    seen = set(final)
    assert set(ledger.acked) <= seen, f"{len(set(ledger.acked) - seen)} recorded runs lost"
    recent = utcnow() - timedelta(days=1)
    with engine.connect() as conn:
        recent_ids = conn.execute(select(FlowRun.id).where(FlowRun.started_at > recent))
        stored_recent = {str(run_id) for run_id in recent_ids.scalars()}
        still_running = conn.execute(
            select(func.count())
            .select_from(FlowRun)
            .where(FlowRun.id.in_([uuid.UUID(i) for i in ledger.finished]))
            .where(FlowRun.status == "running")
        ).scalar_one()
    assert stored_recent == set(ledger.acked), "the table holds recorded runs nobody acked"
    assert still_running == 0, "a PATCH answered 200 but the run is still running"
    old_left = len(seen - set(ledger.acked))
    assert old_left == 2000 + ledger.fed - ledger.pruned
