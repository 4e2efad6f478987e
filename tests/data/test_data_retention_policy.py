"""The stored retention policy: settings are the default until one is saved; saved values
round-trip exactly; a corrupt stored row is refused, never half-applied; a preview of a
policy counts what a prune deletes and writes no audit entry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from runfactory import World, at
from sqlalchemy import update

from data.audit import list_entries
from data.errors import InvalidQuery
from data.models import StoredRetentionPolicy
from data.retention import (
    RetentionPolicy,
    clear_policy,
    effective_policy,
    preview_prune,
    prune,
    save_policy,
)
from data.settings import get_settings

NOW = at(days=60)


def env_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWRUNS_RETENTION_MAX_AGE_DAYS", "30")
    monkeypatch.setenv("FLOWRUNS_RETENTION_FAILURE_MAX_AGE_DAYS", "45")
    get_settings.cache_clear()


def test_settings_are_the_default_until_a_policy_is_saved(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_settings(monkeypatch)
    default = effective_policy(world.engine, get_settings())
    assert default.source == "settings" and default.updated_by is None
    assert default.policy == RetentionPolicy(30, None, {"failure": 45})
    stored = RetentionPolicy(max_runs_per_flow=5, status_max_age_days={"cancelled": 3})
    save_policy(world.engine, stored, "dashboard:ops")
    loaded = effective_policy(world.engine, get_settings())
    assert (loaded.policy, loaded.source, loaded.updated_by) == (
        stored,
        "database",
        "dashboard:ops",
    )
    assert loaded.updated_at is not None
    # Saving again replaces the one row; an empty stored policy means "prune nothing".
    save_policy(world.engine, RetentionPolicy(), "cli:ops")
    assert effective_policy(world.engine, get_settings()).policy.is_empty
    clear_policy(world.engine)
    assert effective_policy(world.engine, get_settings()) == default


def test_a_corrupt_stored_policy_is_refused(world: World) -> None:
    save_policy(world.engine, RetentionPolicy(max_age_days=10), "x")
    for bad in ('{"failure": "soon"}', "[1, 2]", '{"running": 3}', "not json"):
        with world.engine.begin() as conn:
            conn.execute(update(StoredRetentionPolicy).values(status_max_age_days=bad))
        with pytest.raises(InvalidQuery, match="stored retention policy is invalid"):
            effective_policy(world.engine, get_settings())


def test_preview_counts_what_prune_deletes_without_an_audit_entry(world: World) -> None:
    statuses = ("success", "failure", "cancelled", "running")
    world.add(
        world.run(flow=i % 3, status=statuses[i % 4], started_at=at(days=i)) for i in range(40)
    )
    policy = RetentionPolicy(max_age_days=40, max_runs_per_flow=6)
    finished = [r for r in world.runs if r["status"] != "running"]
    by_age = {r["id"] for r in finished if r["started_at"] < NOW - timedelta(days=40)}
    by_count: set[object] = set()
    for flow in world.flows:
        newest_first = sorted(
            (r for r in finished if r["flow_id"] == flow), key=lambda r: r["started_at"]
        )[::-1]
        by_count |= {r["id"] for r in newest_first[6:]}
    preview = preview_prune(world.engine, policy, now=NOW)
    assert preview.total == len(by_age | by_count)
    assert preview.by_rule == {"max_age": len(by_age), "max_runs_per_flow": len(by_count)}
    assert list_entries(world.engine).total == 0
    assert prune(world.engine, policy, now=NOW).total == preview.total
    assert list_entries(world.engine).total == 1
