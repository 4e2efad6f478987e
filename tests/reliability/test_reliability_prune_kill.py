"""SIGKILL in the middle of ``flowruns prune`` on a large table, on both backends.

Required: the database is consistent afterwards: only whole batches are gone (each batch
is one transaction), runs the policy does not match are untouched, SQLite's file passes
its integrity check, the audit entry says how far the killed prune got, and rerunning the
same prune completes the job.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from reliakit import ROOT, make_tenant
from sqlalchemy import Engine, and_, func, insert, select, text

from data.audit import list_entries
from data.models import FlowRun, utcnow

OLD_RUNS = 12_000  # finished, 200 days old: the prune's target
RECENT_RUNS = 2_000  # finished, 1 day old: kept
OLD_ACTIVE_RUNS = 500  # running, 200 days old: never pruned
BATCH = 1000
PRUNE = ["prune", "--max-age-days", "100", "--batch-size", str(BATCH)]


def _rows(flow_id: uuid.UUID, count: int, age: timedelta, status: str) -> list[dict[str, object]]:
    now = utcnow()
    finished = status != "running"
    return [
        {
            "id": uuid.uuid4(),
            "flow_id": flow_id,
            "status": status,
            "trigger_type": "api",
            "started_at": now - age - timedelta(seconds=index),
            "ended_at": now - age - timedelta(seconds=index) + timedelta(seconds=1)
            if finished
            else None,
            "duration_ms": 1000 if finished else None,
            "components_executed": index % 7,
            "inputs": {"n": index},
        }
        for index in range(count)
    ]


def _fill(engine: Engine) -> uuid.UUID:
    flow_id = make_tenant(engine).flow_id
    batches = [
        _rows(flow_id, OLD_RUNS, timedelta(days=200), "success"),
        _rows(flow_id, RECENT_RUNS, timedelta(days=1), "failure"),
        _rows(flow_id, OLD_ACTIVE_RUNS, timedelta(days=200), "running"),
    ]
    with engine.begin() as conn:
        for rows in batches:
            for start in range(0, len(rows), 5000):
                conn.execute(insert(FlowRun), rows[start : start + 5000])
    return flow_id


def _census(engine: Engine) -> dict[str, int]:
    """Counts of the three groups, and a checksum over the kept runs' columns."""
    cutoff = utcnow() - timedelta(days=100)
    old = FlowRun.started_at < cutoff
    with engine.connect() as conn:

        def count(*where: object) -> int:
            query = select(func.count()).select_from(FlowRun).where(*where)  # type: ignore[arg-type]
            return int(conn.execute(query).scalar_one())

        kept_checksum = conn.execute(
            select(func.sum(FlowRun.components_executed)).where(
                ~and_(old, FlowRun.status == "success")
            )
        ).scalar_one()
        return {
            "old finished": count(old, FlowRun.status == "success"),
            "recent": count(~old),
            "old active": count(old, FlowRun.status == "running"),
            "kept checksum": int(kept_checksum or 0),
        }


def _old_finished(engine: Engine) -> int:
    """The one count the kill loop polls (cheap, so it notices the second batch early)."""
    cutoff = utcnow() - timedelta(days=100)
    query = select(func.count()).where(FlowRun.started_at < cutoff, FlowRun.status == "success")
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def _cli(url: str) -> list[str]:
    return [sys.executable, "-m", "data.cli.main", "--database-url", url, *PRUNE]


def _kill_after_two_batches(engine: Engine, url: str) -> None:
    target = OLD_RUNS - 2 * BATCH
    process = subprocess.Popen(
        _cli(url), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if _old_finished(engine) <= target:
                os.kill(process.pid, signal.SIGKILL)
                break
            time.sleep(0.005)
        returncode = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert returncode == -signal.SIGKILL, f"prune was not killed mid-way: exit {returncode}"


def test_sigkill_mid_prune_leaves_whole_batches_and_a_rerun_completes(
    engine: Engine, db_url: str, record_figure: Callable[[str, object], None]
) -> None:
    _fill(engine)
    before = _census(engine)
    assert before["old finished"] == OLD_RUNS

    _kill_after_two_batches(engine, db_url)
    after_kill = _census(engine)
    deleted = OLD_RUNS - after_kill["old finished"]
    assert 2 * BATCH <= deleted < OLD_RUNS, "the kill did not land in the middle"
    assert deleted % BATCH == 0, f"{deleted} deleted: a batch was cut half-way"
    record_figure("deleted_before_kill", deleted)
    for untouched in ("recent", "old active", "kept checksum"):
        assert after_kill[untouched] == before[untouched], untouched
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
            assert conn.execute(text("PRAGMA foreign_key_check")).all() == []

    _assert_audit_says_how_far(engine, deleted, completed=False)

    rerun = subprocess.run(_cli(db_url), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert "Traceback" not in rerun.stderr
    assert f"deleted {OLD_RUNS - deleted:,} run(s)" in rerun.stdout
    _assert_audit_says_how_far(engine, OLD_RUNS - deleted, completed=True)
    final = _census(engine)
    assert final["old finished"] == 0
    for untouched in ("recent", "old active", "kept checksum"):
        assert final[untouched] == before[untouched], untouched


def _assert_audit_says_how_far(engine: Engine, affected: int, *, completed: bool) -> None:
    """The newest audit entry is this prune, with the runs and batches it committed; a
    killed one reads as interrupted once it has been silent for a while."""
    later = utcnow() + timedelta(hours=1)
    entry = list_entries(engine, limit=1, now=later).entries[0]
    assert (entry.action, entry.surface, entry.dry_run) == ("prune", "cli", False)
    assert entry.affected == affected
    assert entry.batches == -(-affected // BATCH)
    assert entry.status == ("completed" if completed else "interrupted")
    assert (entry.finished_at is not None) == completed
