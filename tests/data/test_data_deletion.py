"""Deletion and retention: protections, dry runs that count what is then deleted, batches
with progress, scoped deletes, FK cascades; retention rules against pandas."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pandas as pd
import pytest
from runfactory import FINISHED, World, at
from sqlalchemy import delete, select

from data import deletion
from data import queries as q
from data.db import session_scope
from data.deletion import bulk_delete_filter, delete_run, delete_runs, delete_where
from data.errors import InvalidQuery
from data.filters import FlowRunFilter
from data.models import Flow, FlowRun, User
from data.retention import RetentionPolicy, prune
from data.settings import get_settings

STATUSES = ("success", "failure", "cancelled", "running", "pending", "weird")


def remaining(world: World) -> set[uuid.UUID]:
    with world.engine.connect() as conn:
        return set(conn.execute(select(FlowRun.id)).scalars())


def seed_mixed(world: World, count: int = 48) -> None:
    world.add(
        world.run(
            flow=i % 3,
            user=i % 2,
            status=STATUSES[i % 6],
            started_at=at(days=i),
            duration_ms=i,
        )
        for i in range(count)
    )


def test_an_empty_filter_is_refused_unless_delete_all(world: World) -> None:
    seed_mixed(world)
    with pytest.raises(InvalidQuery, match="all"):
        delete_runs(world.engine, FlowRunFilter())
    with pytest.raises(InvalidQuery, match="all"):
        delete_runs(world.engine, FlowRunFilter(), dry_run=True)
    assert remaining(world) == world.ids()
    active = world.ids(lambda r: r["status"] in ("running", "pending"))
    assert delete_runs(world.engine, FlowRunFilter(), delete_all=True) == 48 - len(active)
    assert remaining(world) == active  # delete_all still protects active runs
    assert delete_runs(world.engine, FlowRunFilter(), delete_all=True, include_active=True) == 16
    assert remaining(world) == set()


def test_active_runs_are_protected_unless_include_active(world: World) -> None:
    seed_mixed(world)
    with pytest.raises(InvalidQuery, match="protected"):
        delete_runs(world.engine, FlowRunFilter.build(statuses=["running"]))
    flow = FlowRunFilter.build(flow_ids=[world.flows[0]])
    in_flow = world.ids(lambda r: r["flow_id"] == world.flows[0])
    finished_in_flow = world.ids(
        lambda r: r["flow_id"] == world.flows[0] and r["status"] not in ("running", "pending")
    )
    assert delete_runs(world.engine, flow) == len(finished_in_flow)
    assert remaining(world) == world.ids() - finished_in_flow
    assert delete_runs(world.engine, flow, include_active=True) == len(in_flow - finished_in_flow)
    assert remaining(world) == world.ids() - in_flow


def test_dry_run_counts_exactly_what_is_then_deleted(world: World) -> None:
    seed_mixed(world)
    flt = FlowRunFilter.build(statuses=["failure", "success", "weird"], min_duration_ms=10)
    expected = world.ids(
        lambda r: r["status"] in ("failure", "success", "weird") and r["duration_ms"] >= 10
    )
    assert delete_runs(world.engine, flt, dry_run=True) == len(expected)
    assert remaining(world) == world.ids()
    assert delete_runs(world.engine, flt) == len(expected)
    assert remaining(world) == world.ids() - expected


def test_older_than_days_and_user_scope(world: World) -> None:
    seed_mixed(world)
    now = at(days=30)
    effective = bulk_delete_filter(
        FlowRunFilter(), older_than_days=10, scope_user_id=world.users[1], now=now
    )
    assert effective.started_before == at(days=20)
    assert effective.user_id == world.users[1]
    assert {"running", "pending"} <= set(effective.exclude_statuses)
    # delete_runs takes "now" from the clock; the seeded runs are years old, so every
    # finished run of user 1 qualifies.
    expected = world.ids(
        lambda r: r["user_id"] == world.users[1] and r["status"] not in ("running", "pending")
    )
    assert delete_runs(
        world.engine, FlowRunFilter(), older_than_days=1, scope_user_id=world.users[1]
    ) == len(expected)
    assert remaining(world) == world.ids() - expected
    with pytest.raises(InvalidQuery, match="older_than_days"):
        delete_runs(world.engine, FlowRunFilter(), older_than_days=-1)
    with pytest.raises(InvalidQuery, match="older_than_days"):
        bulk_delete_filter(
            FlowRunFilter.build(started_after=at(days=25)), older_than_days=10, now=now
        )


def test_batches_report_increasing_progress(world: World) -> None:
    world.add(world.run(started_at=at(minutes=i), status="success") for i in range(50))
    calls: list[tuple[int, int]] = []
    deleted = delete_runs(
        world.engine,
        FlowRunFilter(),
        delete_all=True,
        batch_size=7,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert deleted == 50
    assert calls == [(min(n, 50), 50) for n in range(7, 57, 7)]
    assert remaining(world) == set()
    with pytest.raises(InvalidQuery, match="batch_size"):
        delete_runs(world.engine, FlowRunFilter(), delete_all=True, batch_size=-1)


def test_batch_size_defaults_to_the_setting(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWRUNS_DELETE_BATCH_SIZE", "4")
    get_settings.cache_clear()
    world.add(world.run(started_at=at(minutes=i)) for i in range(10))
    calls: list[int] = []
    delete_runs(
        world.engine, FlowRunFilter(), delete_all=True, progress=lambda d, t: calls.append(d)
    )
    assert calls == [4, 8, 10]


def test_delete_run_is_scoped(world: World) -> None:
    [mine, theirs] = world.add([world.run(user=0), world.run(user=1)])
    scope = FlowRunFilter.build(user_id=world.users[0])
    assert delete_run(world.engine, theirs["id"], scope) is False
    assert theirs["id"] in remaining(world)
    assert delete_run(world.engine, mine["id"], scope) is True
    assert delete_run(world.engine, mine["id"], scope) is False
    assert delete_run(world.engine, uuid.uuid4()) is False
    assert remaining(world) == {theirs["id"]}


def test_deleting_a_flow_cascades_to_its_runs(world: World) -> None:
    seed_mixed(world, 12)
    with world.engine.begin() as conn:
        conn.execute(delete(Flow).where(Flow.id == world.flows[1]))
    assert remaining(world) == world.ids(lambda r: r["flow_id"] != world.flows[1])
    assert len(remaining(world)) == 8


def test_deleting_a_user_sets_run_user_to_null(world: World) -> None:
    runner = uuid.uuid4()  # a user who owns no flow, only started runs
    with session_scope(world.engine) as session:
        session.add(User(id=runner, username="runner"))
    [run] = world.add([world.run(flow=1, user_id=runner)])
    with world.engine.begin() as conn:
        conn.execute(delete(User).where(User.id == runner))
    record = q.get_run(world.engine, run["id"])
    assert record is not None
    assert record.user_id is None
    assert record.username is None


# ---- retention ---------------------------------------------------------------------

NOW = at(days=200)


def seed_retention(world: World) -> pd.DataFrame:
    rows = []
    for i in range(60):
        rows.append(
            world.run(
                flow=i % 3,
                status=STATUSES[i % 6],
                # ages 0..177 days; every third pair shares a timestamp (id tiebreak)
                started_at=NOW - timedelta(days=3 * (i // 2)),
            )
        )
    world.add(rows)
    frame = world.frame()
    frame["age_days"] = (NOW - frame["started_at"]).dt.days
    frame["id_key"] = frame["id"].map(lambda run_id: run_id.int)
    return frame


def expected_prune(frame: pd.DataFrame, policy: RetentionPolicy) -> set[uuid.UUID]:
    finished = ~frame["status"].isin(["running", "pending"])
    doomed = pd.Series(False, index=frame.index)
    overridden = frame["status"].isin(list(policy.status_max_age_days))
    if policy.max_age_days is not None:
        doomed |= ~overridden & (frame["age_days"] > policy.max_age_days)
    for status, days in policy.status_max_age_days.items():
        doomed |= (frame["status"] == status) & (frame["age_days"] > days)
    if policy.max_runs_per_flow is not None:
        ordered = frame[finished].sort_values(["started_at", "id_key"], ascending=False)
        rank = ordered.groupby("flow_id").cumcount()
        doomed |= frame.index.isin(rank[rank >= policy.max_runs_per_flow].index)
    return set(frame.loc[doomed & finished, "id"])


@pytest.mark.parametrize(
    "policy",
    [
        RetentionPolicy(max_age_days=30),
        RetentionPolicy(max_age_days=30, status_max_age_days={"failure": 90}),
        RetentionPolicy(status_max_age_days={"success": 14, "weird": 100}),
        RetentionPolicy(max_runs_per_flow=5),
        RetentionPolicy(max_runs_per_flow=1),
        RetentionPolicy(
            max_age_days=100, max_runs_per_flow=8, status_max_age_days={"failure": 150}
        ),
    ],
    ids=["age", "age+failures", "per-status-only", "count5", "count1", "all-rules"],
)
def test_prune_deletes_what_the_policy_says(world: World, policy: RetentionPolicy) -> None:
    frame = seed_retention(world)
    expected = expected_prune(frame, policy)
    assert expected and len(expected) < len(frame)
    dry = prune(world.engine, policy, dry_run=True, now=NOW)
    assert (dry.total, dry.dry_run) == (len(expected), True)
    assert remaining(world) == world.ids()
    progress: list[int] = []
    done = prune(
        world.engine, policy, now=NOW, batch_size=5, progress=lambda d, t: progress.append(d)
    )
    assert done.total == dry.total == len(expected)
    assert remaining(world) == world.ids() - expected
    assert progress == sorted(progress) and progress[-1] == len(expected)
    assert set(done.by_rule) == set(dry.by_rule)
    assert max(done.by_rule.values()) <= done.total <= sum(done.by_rule.values())


def test_max_runs_per_flow_keeps_exactly_the_newest_finished(world: World) -> None:
    frame = seed_retention(world)
    prune(world.engine, RetentionPolicy(max_runs_per_flow=4), now=NOW)
    kept = frame[frame["id"].isin(remaining(world))]
    for flow_id in world.flows:
        flow_rows = frame[frame["flow_id"] == flow_id]
        kept_rows = kept[kept["flow_id"] == flow_id]
        finished_kept = kept_rows[kept_rows["status"].isin([*FINISHED, "weird"])]
        assert len(finished_kept) == 4
        finished = flow_rows[~flow_rows["status"].isin(["running", "pending"])]
        newest = finished.sort_values(["started_at", "id_key"], ascending=False).head(4)
        assert set(finished_kept["id"]) == set(newest["id"])
        active = flow_rows[flow_rows["status"].isin(["running", "pending"])]
        assert set(active["id"]) <= set(kept_rows["id"])  # never pruned, however old


def test_failures_are_kept_longer_than_successes(world: World) -> None:
    frame = seed_retention(world)
    policy = RetentionPolicy(max_age_days=30, status_max_age_days={"failure": 90})
    prune(world.engine, policy, now=NOW)
    kept = frame[frame["id"].isin(remaining(world))]
    assert kept.loc[kept["status"] == "failure", "age_days"].max() > 30
    assert kept.loc[kept["status"] == "failure", "age_days"].max() <= 90
    assert kept.loc[kept["status"] == "success", "age_days"].max() <= 30
    assert kept.loc[kept["status"] == "running", "age_days"].max() > 30  # never pruned


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"max_age_days": 0}, "max_age_days"),
        ({"max_runs_per_flow": 0}, "max_runs_per_flow"),
        ({"status_max_age_days": {"running": 5}}, "never pruned"),
        ({"status_max_age_days": {"failure": 0}}, "failure"),
    ],
)
def test_invalid_policies(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidQuery, match=message):
        RetentionPolicy(**arguments)


def test_empty_policy_is_refused(world: World) -> None:
    seed_retention(world)
    with pytest.raises(InvalidQuery, match="empty"):
        prune(world.engine, RetentionPolicy(), dry_run=True)
    assert remaining(world) == world.ids()


def test_policy_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWRUNS_RETENTION_MAX_AGE_DAYS", "30")
    monkeypatch.setenv("FLOWRUNS_RETENTION_MAX_RUNS_PER_FLOW", "1000")
    monkeypatch.setenv("FLOWRUNS_RETENTION_FAILURE_MAX_AGE_DAYS", "90")
    get_settings.cache_clear()
    policy = RetentionPolicy.from_settings(get_settings())
    assert policy == RetentionPolicy(
        max_age_days=30, max_runs_per_flow=1000, status_max_age_days={"failure": 90}
    )
    get_settings.cache_clear()
    monkeypatch.delenv("FLOWRUNS_RETENTION_MAX_AGE_DAYS")
    monkeypatch.delenv("FLOWRUNS_RETENTION_MAX_RUNS_PER_FLOW")
    monkeypatch.delenv("FLOWRUNS_RETENTION_FAILURE_MAX_AGE_DAYS")
    assert RetentionPolicy.from_settings(get_settings()).is_empty


def test_batches_resume_after_the_last_deleted_run_and_catch_late_arrivals(
    world: World,
) -> None:
    """Batches go oldest first, each starting after the previous one's last run (keyset,
    data.deletion_batches.next_batch). While it runs, another writer deletes one of the doomed runs
    and inserts a matching run behind the position: the final pass from the start takes
    it (the delete stops at the count it matched), and nothing else is touched."""
    seed_mixed(world)
    cutoff = at(days=30)
    by_age = sorted(
        (r for r in world.runs if r["started_at"] < cutoff), key=lambda r: r["started_at"]
    )
    survivors = world.ids(lambda r: r["started_at"] >= cutoff)
    gone_after_batch: list[set[uuid.UUID]] = []

    def progress(done: int, total: int) -> None:
        gone_after_batch.append({r["id"] for r in by_age} - remaining(world))
        if len(gone_after_batch) == 1:
            with world.engine.begin() as conn:
                conn.execute(delete(FlowRun).where(FlowRun.id == by_age[-1]["id"]))
            world.add([world.run(started_at=at(days=-1))])

    deleted = delete_where(
        world.engine, FlowRun.started_at < cutoff, batch_size=4, progress=progress
    )
    assert remaining(world) == survivors
    assert deleted == len(by_age)
    assert gone_after_batch[0] == {r["id"] for r in by_age[:4]}
    assert gone_after_batch[1] == {r["id"] for r in by_age[:8]} | {by_age[-1]["id"]}


def test_sqlite_batches_shrink_when_slow_and_grow_back(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer waits about one batch: on SQLite a batch over SQLITE_BATCH_S halves the
    next one (here every batch is "slow"); PostgreSQL, whose writers do not queue behind
    a delete, keeps the configured size."""
    world.add(world.run(started_at=at(minutes=i), status="success") for i in range(20))
    monkeypatch.setattr(deletion, "SQLITE_BATCH_S", 0.0)
    steps: list[int] = []
    delete_where(
        world.engine,
        FlowRun.started_at.is_not(None),
        batch_size=8,
        progress=lambda done, _total: steps.append(done - sum(steps)),
    )
    if world.engine.dialect.name == "sqlite":
        assert steps == [8, 4, 2, 1, 1, 1, 1, 1, 1]
    else:
        assert steps == [8, 8, 4]
    assert remaining(world) == set()


def test_next_limit_halves_keeps_and_grows_back_to_the_configured_size() -> None:
    slow, fine, quick = deletion.SQLITE_BATCH_S * 2, deletion.SQLITE_BATCH_S * 0.7, 0.0
    assert deletion.next_limit(5000, 5000, slow) == 2500
    assert deletion.next_limit(1, 5000, slow) == 1
    assert deletion.next_limit(2500, 5000, fine) == 2500
    assert deletion.next_limit(2500, 5000, quick) == 3750
    assert deletion.next_limit(3750, 5000, quick) == 5000
    assert deletion.next_limit(1, 5000, quick) == 2
