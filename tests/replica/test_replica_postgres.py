"""FLOWRUNS_READ_DATABASE_URL against a real streaming replica made on this machine: writes
land on the primary, reads come from the standby (shown by pausing the standby's replay:
what the primary just took is then missing from every read), a run recorded on the primary
becomes readable once replayed, and the read engine refuses writes."""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import streamlit as st
from fastapi.testclient import TestClient
from reliability.reliakit import API, Tenant, dashboard, make_tenant, wait_until
from replicakit import Replicated
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from api.app import create_app
from dashboard import data_access as da
from data import queries as q
from data.cli.main import main as cli_main
from data.db import get_engine, get_read_engine
from data.filters import FlowRunFilter
from data.settings import get_settings

pytestmark = pytest.mark.postgres

# Streaming replication on one machine applies a commit within milliseconds; the bound
# only keeps a broken standby from hanging the suite.
LAG_TIMEOUT_SECONDS = 10.0


def count_runs(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM flow_run")).scalar_one())


def in_recovery(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(text("SELECT pg_is_in_recovery()")).scalar_one())


@pytest.fixture(scope="module")
def tenant(replicated: Replicated) -> Tenant:
    made = make_tenant(get_engine(replicated.primary_url), "replica_ops")
    standby = get_read_engine(replicated.standby_url)

    def flow_replicated() -> bool:
        with standby.connect() as conn:
            found = conn.execute(text("SELECT 1 FROM flow WHERE id = :id"), {"id": made.flow_id})
            return found.first() is not None

    assert wait_until(flow_replicated, LAG_TIMEOUT_SECONDS, step=0.05)
    return made


@pytest.fixture(scope="module")
def client(replicated: Replicated) -> Iterator[TestClient]:
    with TestClient(create_app(replicated.primary_url, replicated.standby_url)) as made:
        yield made


@pytest.fixture
def paused_replay(replicated: Replicated) -> Iterator[None]:
    """The standby receives WAL but applies none of it: a replica lagging on demand."""
    replicated.pair.pause_replay()
    try:
        yield
    finally:
        replicated.pair.resume_replay()


@pytest.fixture
def replica_settings(replicated: Replicated, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWRUNS_DATABASE_URL", replicated.primary_url)
    monkeypatch.setenv("FLOWRUNS_READ_DATABASE_URL", replicated.standby_url)
    get_settings.cache_clear()
    st.cache_data.clear()


def record(client: TestClient, tenant: Tenant, status: str | None = None) -> str:
    created = client.post(API + "/", json={"flow_id": str(tenant.flow_id)}, headers=tenant.headers)
    assert created.status_code == 201, created.text
    run_id = str(created.json()["id"])
    if status is not None:
        finished = client.patch(f"{API}/{run_id}", json={"status": status}, headers=tenant.headers)
        assert finished.status_code == 200, finished.text
    return run_id


def test_the_standby_is_a_streaming_hot_standby_postgres(replicated: Replicated) -> None:
    assert replicated.pair.streaming()
    assert in_recovery(get_read_engine(replicated.standby_url))
    assert not in_recovery(get_engine(replicated.primary_url))
    with get_engine(replicated.primary_url).connect() as conn:
        assert conn.execute(text("SHOW wal_level")).scalar_one() == "replica"


def test_api_writes_go_to_the_primary_and_reads_to_the_standby_postgres(
    replicated: Replicated, tenant: Tenant, client: TestClient
) -> None:
    primary = get_engine(replicated.primary_url)
    assert wait_until(lambda: count_runs(primary) == count_runs(get_read_engine(
        replicated.standby_url)), LAG_TIMEOUT_SECONDS)  # fmt: skip
    before = count_runs(primary)
    replicated.pair.pause_replay()
    try:
        # Both writes succeed while the standby applies nothing: they went to the primary.
        run_id = record(client, tenant, status="failure")
        with primary.connect() as conn:
            stored = conn.execute(
                text("SELECT status FROM flow_run WHERE id = :id"), {"id": run_id}
            )
            assert stored.scalar_one() == "failure"
        # Every read route answers from the standby, which has not seen the run yet.
        assert client.get(f"{API}/{run_id}", headers=tenant.headers).status_code == 404
        listed = client.get(API + "/", params={"limit": 5}, headers=tenant.headers)
        assert listed.status_code == 200
        assert int(listed.headers["X-Total-Count"]) == before
        assert run_id not in {run["id"] for run in listed.json()}
        stats = client.get(f"{API}/stats", params={"days": 2}, headers=tenant.headers).json()
        assert stats["failure_count"] == 0 and stats["total_runs"] == before
        exported = client.get(f"{API}/export.csv", headers=tenant.headers)
        assert exported.status_code == 200 and run_id not in exported.text
    finally:
        replicated.pair.resume_replay()
    # Replayed: the same routes now see the run the primary took.
    assert wait_until(
        lambda: client.get(f"{API}/{run_id}", headers=tenant.headers).status_code == 200,
        LAG_TIMEOUT_SECONDS,
    )
    assert client.get(f"{API}/{run_id}", headers=tenant.headers).json()["status"] == "failure"
    listed = client.get(API + "/", params={"limit": 5}, headers=tenant.headers)
    assert int(listed.headers["X-Total-Count"]) == before + 1 == count_runs(primary)


def test_a_recorded_run_becomes_readable_after_replication_postgres(
    replicated: Replicated,
    tenant: Tenant,
    client: TestClient,
    record_testsuite_property: Callable[[str, object], None],
) -> None:
    recorded_at = time.monotonic()
    run_id = record(client, tenant, status="success")

    def readable() -> bool:
        found = client.get(f"{API}/{run_id}", headers=tenant.headers)
        return found.status_code == 200 and found.json()["status"] == "success"

    assert wait_until(readable, LAG_TIMEOUT_SECONDS, step=0.01)
    lag = time.monotonic() - recorded_at
    assert lag < LAG_TIMEOUT_SECONDS
    record_testsuite_property("replica_visible_after_ms", str(round(lag * 1000)))


def test_the_read_engine_refuses_writes_postgres(replicated: Replicated, tenant: Tenant) -> None:
    primary = get_engine(replicated.primary_url)
    before = count_runs(primary)
    # On the standby, and on the primary too: the read engine's transactions are read-only
    # by themselves, so a write routed to it by mistake never succeeds anywhere.
    for url in (replicated.standby_url, replicated.primary_url):
        engine = get_read_engine(url)
        with pytest.raises(DBAPIError, match="read-only transaction"), engine.begin() as conn:
            conn.execute(text("DELETE FROM flow_run"))
    assert count_runs(primary) == before > 0


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = cli_main(list(argv))
    return code, capsys.readouterr().out


@pytest.mark.usefixtures("replica_settings")
def test_cli_reads_from_the_standby_and_writes_to_the_primary_postgres(
    replicated: Replicated,
    tenant: Tenant,
    client: TestClient,
    paused_replay: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    record(client, tenant, status="cancelled")  # on the primary only, while replay is paused
    on_standby = count_runs(get_read_engine(replicated.standby_url))
    on_primary = count_runs(get_engine(replicated.primary_url))
    assert on_primary == on_standby + 1
    code, out = run_cli(capsys, "stats", "--json")
    assert code == 0 and json.loads(out)["total_runs"] == on_standby
    code, out = run_cli(capsys, "export")
    assert code == 0 and len(list(csv.DictReader(io.StringIO(out)))) == on_standby
    # An explicit --database-url wins over the replica.
    code, out = run_cli(capsys, "--database-url", replicated.primary_url, "stats", "--json")
    assert code == 0 and json.loads(out)["total_runs"] == on_primary
    # A write command with the replica configured still writes, on the primary.
    username = f"cli_{uuid.uuid4().hex[:6]}"
    assert run_cli(capsys, "user", "create", username)[0] == 0
    with get_engine(replicated.primary_url).connect() as conn:
        created = conn.execute(text('SELECT 1 FROM "user" WHERE username = :u'), {"u": username})
        assert created.first() is not None


@pytest.mark.usefixtures("replica_settings")
def test_dashboard_reads_from_the_standby_and_acts_on_the_primary_postgres(
    replicated: Replicated, tenant: Tenant, client: TestClient, paused_replay: None
) -> None:
    run_id = uuid.UUID(record(client, tenant))  # running, on the primary only
    everything = FlowRunFilter()
    on_standby = count_runs(get_read_engine(replicated.standby_url))
    assert da.count_runs(everything) == on_standby
    assert da.run_stats(everything).total == on_standby
    page = da.list_runs(everything, sort="started_at", direction="desc", limit=5, cursor=None)
    assert run_id not in {run.id for run in page.runs}
    # The run detail and the write actions use the primary: they see the latest write.
    assert da.call(q.count_runs, everything) == on_standby + 1
    detail = da.get_run(run_id)
    assert detail is not None and detail.status == "running"
    # The real app: the Overview's "Runs" tile counts what the standby has.
    app = dashboard(replicated.primary_url, {"range": "all"})
    assert not app.exception, [str(e.value) for e in app.exception]
    runs_tile = next(metric for metric in app.metric if metric.label == "Runs")
    assert int(runs_tile.value.replace(",", "")) == on_standby
