"""Retention policy, like n8n's pruning: max age, max runs per flow, per-status max age.

Unfinished runs are never pruned. The rules are OR-ed into one condition, so a
dry run counts exactly the rows a real prune deletes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, delete, false, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from data.audit import AuditContext, audited
from data.db import session_scope
from data.deletion import Progress, count_where, delete_where, resolve_batch_size
from data.errors import InvalidQuery
from data.models import FlowRun, FlowRunStatus, StoredRetentionPolicy, utcnow
from data.queries.cursors import stored_started_at
from data.queries.listing import after_cursor
from data.retention_store import MAX_DAYS, InvalidStoredPolicy, read_stored_values
from data.settings import Settings
from data.statuses import status_in


@dataclass(frozen=True)
class RetentionPolicy:
    max_age_days: int | None = None
    max_runs_per_flow: int | None = None
    # e.g. {"failure": 90, "success": 14}: overrides max_age_days for that status.
    status_max_age_days: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.max_age_days is not None and not 1 <= self.max_age_days <= MAX_DAYS:
            raise InvalidQuery(f"max_age_days: must be between 1 and {MAX_DAYS:,}")
        if self.max_runs_per_flow is not None and self.max_runs_per_flow < 1:
            raise InvalidQuery("max_runs_per_flow: must be 1 or more")
        for status, days in self.status_max_age_days.items():
            if status in FlowRunStatus.active():
                raise InvalidQuery(f"status_max_age_days: {status} runs are never pruned")
            if not 1 <= days <= MAX_DAYS:
                raise InvalidQuery(f"status_max_age_days: {status} must be 1 to {MAX_DAYS:,} days")

    @property
    def is_empty(self) -> bool:
        return (
            self.max_age_days is None
            and self.max_runs_per_flow is None
            and not self.status_max_age_days
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "max_age_days": self.max_age_days,
            "max_runs_per_flow": self.max_runs_per_flow,
            "status_max_age_days": dict(sorted(self.status_max_age_days.items())),
        }

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        per_status = {}
        if settings.retention_failure_max_age_days:
            per_status[FlowRunStatus.FAILURE.value] = settings.retention_failure_max_age_days
        return cls(
            max_age_days=settings.retention_max_age_days,
            max_runs_per_flow=settings.retention_max_runs_per_flow,
            status_max_age_days=per_status,
        )


@dataclass(frozen=True)
class PruneResult:
    total: int
    # Rows each rule matches on its own; rules can overlap, so these may sum past total.
    by_rule: dict[str, int]
    dry_run: bool


def _age_rules(policy: RetentionPolicy, now: datetime) -> dict[str, ColumnElement[bool]]:
    rules: dict[str, ColumnElement[bool]] = {}
    overridden = tuple(policy.status_max_age_days)
    if policy.max_age_days is not None:
        cutoff = now - timedelta(days=policy.max_age_days)
        rules["max_age"] = and_(FlowRun.started_at < cutoff, ~status_in(overridden))
    for status, days in sorted(policy.status_max_age_days.items()):
        cutoff = now - timedelta(days=days)
        rules[f"max_age[{status}]"] = and_(status_in((status,)), FlowRun.started_at < cutoff)
    return rules


def _count_rule(engine: Engine, keep: int) -> ColumnElement[bool]:
    """Finished runs of each flow older than its ``keep``-th newest finished run."""
    finished = ~status_in(FlowRunStatus.active())  # RUNNING (old engines) is active too
    crowded = (
        select(FlowRun.flow_id)
        .where(finished)
        .group_by(FlowRun.flow_id)
        .having(func.count() > keep)
    )
    # The boundary as SQLite sorts it (a legacy text time kept its own form): compared
    # canonically, a boundary stored without microseconds was pruned too.
    started = stored_started_at(FlowRun.started_at)
    per_flow = []
    with engine.connect() as conn:
        for flow_id in conn.execute(crowded).scalars().all():
            boundary = conn.execute(
                select(started.label("started_at"), FlowRun.id)
                .where(FlowRun.flow_id == flow_id, finished)
                .order_by(FlowRun.started_at.desc(), FlowRun.id.desc())
                .offset(keep - 1)
                .limit(1)
            ).one()
            older = after_cursor(started, "desc", boundary.started_at, boundary.id)
            per_flow.append(and_(FlowRun.flow_id == flow_id, older))
    return or_(*per_flow) if per_flow else false()


def _rules(
    engine: Engine, policy: RetentionPolicy, now: datetime
) -> tuple[dict[str, ColumnElement[bool]], ColumnElement[bool]]:
    """Each rule's condition (finished runs only), and their union."""
    if policy.is_empty:
        raise InvalidQuery("retention policy is empty: set a max age or a max run count")
    rules = _age_rules(policy, now)
    if policy.max_runs_per_flow is not None:
        rules["max_runs_per_flow"] = _count_rule(engine, policy.max_runs_per_flow)
    protected = ~status_in(FlowRunStatus.active())
    guarded = {name: and_(protected, rule) for name, rule in rules.items()}
    return guarded, and_(protected, or_(*rules.values()))


def _count_by_rule(engine: Engine, rules: Mapping[str, ColumnElement[bool]]) -> dict[str, int]:
    return {name: count_where(engine, rule) for name, rule in rules.items()}


def preview_prune(engine: Engine, policy: RetentionPolicy, *, now: datetime) -> PruneResult:
    """What ``policy`` would prune at ``now``, without an audit entry: a read, used to
    show a policy's effect before saving it and to re-count just before a prune."""
    rules, union = _rules(engine, policy, now)
    return PruneResult(count_where(engine, union), _count_by_rule(engine, rules), dry_run=True)


def prune(
    engine: Engine,
    policy: RetentionPolicy,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    batch_size: int | None = None,
    progress: Progress | None = None,
    audit: AuditContext | None = None,
) -> PruneResult:
    """Apply ``policy`` (or count it, ``dry_run``), writing one audit entry."""
    if policy.is_empty:
        raise InvalidQuery("retention policy is empty: set a max age or a max run count")
    at = now or utcnow()
    size = resolve_batch_size(batch_size)
    criteria = {"policy": policy.as_dict(), "now": at.isoformat(), "batch_size": size}
    with audited(engine, audit, "prune", criteria, dry_run=dry_run) as entry:
        rules, union = _rules(engine, policy, at)
        by_rule = _count_by_rule(engine, rules)
        if dry_run:
            entry.matched = count_where(engine, union)
            return PruneResult(total=entry.matched, by_rule=by_rule, dry_run=True)
        deleted = delete_where(engine, union, batch_size=size, progress=progress, entry=entry)
    return PruneResult(total=deleted, by_rule=by_rule, dry_run=False)


@dataclass(frozen=True)
class EffectivePolicy:
    policy: RetentionPolicy
    # "database" (edited on the Retention page) or "settings" (FLOWRUNS_RETENTION_*)
    source: str
    updated_at: datetime | None = None
    updated_by: str | None = None


POLICY_ROW_ID = 1


def effective_policy(engine: Engine, settings: Settings) -> EffectivePolicy:
    """The stored policy; the ``FLOWRUNS_RETENTION_*`` settings when none is stored."""
    with session_scope(engine) as session:
        row = session.get(StoredRetentionPolicy, POLICY_ROW_ID)
        if row is None:
            return EffectivePolicy(RetentionPolicy.from_settings(settings), "settings")
        # Never apply a policy we cannot read exactly: refuse with the reason.
        age, runs, ages = read_stored_values(
            row.max_age_days, row.max_runs_per_flow, row.status_max_age_days
        )
        policy = RetentionPolicy(age, runs, ages)
        return EffectivePolicy(policy, "database", row.updated_at, row.updated_by)


def save_policy(engine: Engine, policy: RetentionPolicy, updated_by: str) -> None:
    """Store ``policy``; refused (``InvalidQuery``) unless it would read back exactly."""
    values = policy.as_dict()
    try:
        read_stored_values(
            values["max_age_days"],
            values["max_runs_per_flow"],
            json.dumps(values["status_max_age_days"]),
        )
    except InvalidStoredPolicy as exc:
        raise InvalidQuery(f"retention policy cannot be saved: {exc.problem}") from None
    with session_scope(engine) as session:
        row = session.get(StoredRetentionPolicy, POLICY_ROW_ID)
        if row is None:
            row = StoredRetentionPolicy(id=POLICY_ROW_ID)
            session.add(row)
        row.max_age_days = values["max_age_days"]
        row.max_runs_per_flow = values["max_runs_per_flow"]
        row.status_max_age_days = json.dumps(values["status_max_age_days"])
        row.updated_at = utcnow()
        row.updated_by = updated_by[:200]


def clear_policy(engine: Engine) -> None:
    """Forget the stored policy: the settings are the policy again."""
    with session_scope(engine) as session:
        session.execute(delete(StoredRetentionPolicy))
