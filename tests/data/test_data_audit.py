"""The audit log: every delete path writes exactly one entry with who, where, the exact
criteria, dry run or not and how many runs; a failed, interrupted or SIGKILLed delete
says how far it got; users see their own entries, superusers all; CSV export."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from runfactory import World, at
from sqlalchemy import func, select, update

from data.audit import (
    AUDIT_COLUMNS,
    STALE_AFTER,
    AuditContext,
    AuditRecord,
    iter_csv,
    list_entries,
    os_user,
    start_entry,
)
from data.deletion import delete_run, delete_runs
from data.errors import InvalidQuery
from data.filters import FlowRunFilter
from data.models import AuditEntry, FlowRun, utcnow
from data.retention import RetentionPolicy, prune

ROOT = Path(__file__).resolve().parents[2]
CLI = AuditContext("cli", "cli:tester")
NOW = at(days=100)
STATUSES = ("success", "failure", "cancelled", "running", "pending")


def entries(world: World) -> list[AuditRecord]:
    return list_entries(world.engine, limit=500).entries


def only_entry(world: World) -> AuditRecord:
    [entry] = entries(world)
    return entry


def run_count(world: World) -> int:
    with world.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(FlowRun)).scalar_one())


def seed(world: World, count: int = 30) -> None:
    world.add(
        world.run(flow=i % 3, user=i % 2, status=STATUSES[i % 5], started_at=at(days=i))
        for i in range(count)
    )


def test_delete_run_writes_one_entry_per_call(world: World) -> None:
    seed(world, 4)
    mine = world.runs[0]["id"]  # user 0
    user, scope = world.users[0], FlowRunFilter(user_id=world.users[0])
    assert delete_run(world.engine, mine, scope, audit=AuditContext.api(user, "user0"))
    entry = only_entry(world)
    assert (entry.action, entry.surface, entry.actor, entry.actor_user_id) == (
        "delete_run",
        "api",
        "user0",
        user,
    )
    assert (entry.dry_run, entry.matched, entry.affected, entry.status) == (
        False,
        1,
        1,
        "completed",
    )
    assert json.loads(entry.criteria) == {"run_id": str(mine), "scope": {"user_id": str(user)}}
    assert entry.finished_at is not None and entry.finished_at >= entry.at
    # An attempt on a missing run is recorded too, with nothing deleted.
    assert not delete_run(world.engine, mine, scope, audit=CLI)
    assert [(e.surface, e.affected) for e in entries(world)] == [("cli", 0), ("api", 1)]


def test_a_call_without_context_is_recorded_as_library(world: World) -> None:
    seed(world, 2)
    delete_run(world.engine, world.runs[0]["id"])
    entry = only_entry(world)
    assert (entry.surface, entry.actor) == ("library", f"library:{os_user()}")


def test_bulk_delete_dry_run_and_real_write_one_entry_each(world: World) -> None:
    seed(world)
    flow = world.flows[0]
    expected = world.ids(lambda r: r["flow_id"] == flow and r["status"] not in STATUSES[3:])
    flt = FlowRunFilter.build(flow_ids=[flow])
    assert delete_runs(world.engine, flt, dry_run=True, audit=CLI) == len(expected)
    dry = only_entry(world)
    assert (dry.action, dry.dry_run, dry.matched, dry.affected, dry.batches) == (
        "bulk_delete",
        True,
        len(expected),
        0,
        0,
    )
    assert delete_runs(world.engine, flt, batch_size=2, audit=CLI) == len(expected)
    real = entries(world)[0]
    assert (real.dry_run, real.matched, real.affected, real.status) == (
        False,
        len(expected),
        len(expected),
        "completed",
    )
    assert real.batches == math.ceil(len(expected) / 2)
    criteria = json.loads(real.criteria)
    # The filter really applied (protections included) and what was asked for.
    assert criteria["filter"] == {
        "flow_ids": [str(flow)],
        "exclude_statuses": ["pending", "running"],
    }
    assert criteria["requested"] == {
        "filter": {"flow_ids": [str(flow)]},
        "older_than_days": None,
        "all": False,
        "include_active": False,
    }
    assert criteria["batch_size"] == 2


def test_a_refused_bulk_delete_writes_no_entry(world: World) -> None:
    seed(world, 5)
    with pytest.raises(InvalidQuery):
        delete_runs(world.engine, FlowRunFilter(), audit=CLI)
    assert entries(world) == []


def test_prune_dry_run_and_real_write_one_entry_each(world: World) -> None:
    seed(world)
    policy = RetentionPolicy(max_age_days=80, status_max_age_days={"failure": 90})
    expected = world.ids(
        lambda r: (
            r["status"] in STATUSES[:3]
            and r["started_at"] < NOW - timedelta(days=90 if r["status"] == "failure" else 80)
        )
    )
    assert prune(world.engine, policy, dry_run=True, now=NOW, audit=CLI).total == len(expected)
    assert prune(world.engine, policy, now=NOW, batch_size=3, audit=CLI).total == len(expected)
    real, dry = entries(world)
    assert (dry.action, dry.dry_run, dry.matched, dry.affected) == (
        "prune",
        True,
        len(expected),
        0,
    )
    assert (real.dry_run, real.matched, real.affected, real.batches) == (
        False,
        len(expected),
        len(expected),
        math.ceil(len(expected) / 3),
    )
    assert json.loads(real.criteria) == {
        "policy": {
            "max_age_days": 80,
            "max_runs_per_flow": None,
            "status_max_age_days": {"failure": 90},
        },
        "now": NOW.isoformat(),
        "batch_size": 3,
    }


def test_retention_never_prunes_the_audit_log(world: World) -> None:
    seed(world, 10)
    old = start_entry(world.engine, CLI, "sweep", {}, dry_run=False)
    old.close("completed")
    with world.engine.begin() as conn:
        conn.execute(update(AuditEntry).values(at=at(days=-3650)))
    prune(world.engine, RetentionPolicy(max_age_days=1), audit=CLI)
    assert run_count(world) == 4  # only the active runs stay
    assert {e.id for e in entries(world)} >= {old.id}
    assert len(entries(world)) == 2


@pytest.mark.parametrize(
    ("error", "status"), [(RuntimeError, "failed"), (KeyboardInterrupt, "interrupted")]
)
def test_a_stopped_delete_records_how_far_it_got(
    world: World, error: type[BaseException], status: str
) -> None:
    seed(world, 20)

    def stop_after_two_batches(done: int, total: int) -> None:
        if done >= 6:
            raise error("stopped on purpose")

    with pytest.raises(error):
        delete_runs(
            world.engine,
            FlowRunFilter(),
            delete_all=True,
            batch_size=3,
            progress=stop_after_two_batches,
            audit=CLI,
        )
    entry = only_entry(world)
    assert (entry.status, entry.batches, entry.affected, entry.matched) == (status, 2, 6, 12)
    assert entry.error == f"{error.__name__}: stopped on purpose"
    assert run_count(world) == 20 - entry.affected


def test_users_see_their_own_entries_superusers_all(world: World) -> None:
    seed(world, 6)
    alice, bob = world.users
    for index, context in enumerate(
        (AuditContext.api(alice, "user0"), AuditContext.api(bob, "user1"), CLI)
    ):
        delete_run(world.engine, world.runs[index]["id"], audit=context)
    everything = list_entries(world.engine)
    assert everything.total == 3
    assert [e.actor for e in everything.entries] == ["cli:tester", "user1", "user0"]
    own = list_entries(world.engine, user_id=alice)
    assert (own.total, [e.actor for e in own.entries]) == (1, ["user0"])
    assert list_entries(world.engine, user_id=uuid.uuid4()).entries == []
    page = list_entries(world.engine, limit=1, offset=1)
    assert (page.total, [e.actor for e in page.entries]) == (3, ["user1"])
    for bad in ({"limit": 0}, {"limit": 501}, {"offset": -1}):
        with pytest.raises(InvalidQuery):
            list_entries(world.engine, **bad)


def parse_csv(chunks: Any) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO("".join(chunks))))


def test_csv_export_matches_the_listing_and_neutralises_formulas(world: World) -> None:
    seed(world, 4)
    alice = world.users[0]
    delete_run(world.engine, world.runs[0]["id"], audit=AuditContext.api(alice, "=HYPERLINK(1)"))
    delete_runs(world.engine, FlowRunFilter(), delete_all=True, audit=CLI)
    text = "".join(iter_csv(world.engine, chunk_size=1))
    assert text.splitlines()[0] == ",".join(AUDIT_COLUMNS)
    rows = parse_csv([text])
    listed = list_entries(world.engine).entries
    assert [r["id"] for r in rows] == [str(e.id) for e in listed]
    assert [r["affected"] for r in rows] == [str(e.affected) for e in listed]
    assert [r["criteria"] for r in rows] == [e.criteria for e in listed]
    assert rows[1]["actor"] == "'=HYPERLINK(1)"
    mine = parse_csv(iter_csv(world.engine, user_id=alice))
    assert [r["action"] for r in mine] == ["delete_run"]
    assert parse_csv(iter_csv(world.engine, user_id=uuid.uuid4())) == []


def test_a_silent_running_entry_reads_as_interrupted(world: World) -> None:
    entry = start_entry(world.engine, CLI, "prune", {"policy": {}}, dry_run=False)
    [fresh] = list_entries(world.engine).entries
    assert (fresh.id, fresh.status, fresh.finished_at) == (entry.id, "running", None)
    later = utcnow() + STALE_AFTER + timedelta(seconds=1)
    [stale] = list_entries(world.engine, now=later).entries
    assert stale.status == "interrupted"
    assert "interrupted" in "".join(iter_csv(world.engine, now=later))


KILLED_PRUNE = """
import os, signal, sys
from data.audit import AuditContext
from data.db import build_engine
from data.retention import RetentionPolicy, prune

def kill_after_two_batches(done, total):
    if done >= 20:
        os.kill(os.getpid(), signal.SIGKILL)

prune(build_engine(sys.argv[1]), RetentionPolicy(max_age_days=1), batch_size=10,
      progress=kill_after_two_batches, audit=AuditContext.cli())
"""


def test_a_sigkilled_prune_leaves_an_entry_saying_how_far_it_got(world: World) -> None:
    world.add(world.run(status="success", started_at=at(days=i % 7)) for i in range(60))
    url = world.engine.url.render_as_string(hide_password=False)
    done = subprocess.run(
        [sys.executable, "-c", KILLED_PRUNE, url], cwd=ROOT, capture_output=True, timeout=120
    )
    assert done.returncode == -9, done.stderr.decode()[-2000:]
    entry = only_entry(world)
    assert (entry.action, entry.surface, entry.status) == ("prune", "cli", "running")
    assert (entry.batches, entry.affected, entry.matched) == (2, 20, 60)
    assert run_count(world) == 60 - entry.affected  # the entry agrees with the table
    later = utcnow() + STALE_AFTER + timedelta(seconds=1)
    assert list_entries(world.engine, now=later).entries[0].status == "interrupted"
    # A rerun completes and is its own entry.
    assert prune(world.engine, RetentionPolicy(max_age_days=1), audit=CLI).total == 40
    assert run_count(world) == 0
    assert [(e.status, e.affected) for e in entries(world)] == [
        ("completed", 40),
        ("running", 20),
    ]


def test_touch_shows_the_count_before_the_first_batch(world: World) -> None:
    handle = start_entry(world.engine, CLI, "bulk_delete", {}, dry_run=False)
    [before] = list_entries(world.engine).entries
    handle.matched = 7
    handle.touch()
    [after] = list_entries(world.engine).entries
    assert (before.matched, after.matched, after.status) == (None, 7, "running")
    assert after.updated_at > before.updated_at
