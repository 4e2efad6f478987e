"""Retention policy, like n8n's pruning: max age, max runs per flow, per-status max age.

Unfinished runs are never pruned. The rules are OR-ed into one condition, so a
dry run counts exactly the rows a real prune deletes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, false, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from data.deletion import Progress, count_where, delete_where
from data.errors import InvalidQuery
from data.models import FlowRun, FlowRunStatus, utcnow
from data.queries.listing import after_cursor
from data.settings import Settings


@dataclass(frozen=True)
class RetentionPolicy:
    max_age_days: int | None = None
    max_runs_per_flow: int | None = None
    # e.g. {"failure": 90, "success": 14}: overrides max_age_days for that status.
    status_max_age_days: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.max_age_days is not None and self.max_age_days < 1:
            raise InvalidQuery("max_age_days: must be 1 or more")
        if self.max_runs_per_flow is not None and self.max_runs_per_flow < 1:
            raise InvalidQuery("max_runs_per_flow: must be 1 or more")
        for status, days in self.status_max_age_days.items():
            if status in FlowRunStatus.active():
                raise InvalidQuery(f"status_max_age_days: {status} runs are never pruned")
            if days < 1:
                raise InvalidQuery(f"status_max_age_days: {status} must be 1 day or more")

    @property
    def is_empty(self) -> bool:
        return (
            self.max_age_days is None
            and self.max_runs_per_flow is None
            and not self.status_max_age_days
        )

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
        rules["max_age"] = and_(FlowRun.started_at < cutoff, FlowRun.status.not_in(overridden))
    for status, days in sorted(policy.status_max_age_days.items()):
        cutoff = now - timedelta(days=days)
        rules[f"max_age[{status}]"] = and_(FlowRun.status == status, FlowRun.started_at < cutoff)
    return rules


def _count_rule(engine: Engine, keep: int) -> ColumnElement[bool]:
    """Finished runs of each flow older than its ``keep``-th newest finished run."""
    finished = FlowRun.status.not_in(FlowRunStatus.active())
    crowded = (
        select(FlowRun.flow_id)
        .where(finished)
        .group_by(FlowRun.flow_id)
        .having(func.count() > keep)
    )
    per_flow = []
    with engine.connect() as conn:
        for flow_id in conn.execute(crowded).scalars().all():
            boundary = conn.execute(
                select(FlowRun.started_at, FlowRun.id)
                .where(FlowRun.flow_id == flow_id, finished)
                .order_by(FlowRun.started_at.desc(), FlowRun.id.desc())
                .offset(keep - 1)
                .limit(1)
            ).one()
            older = after_cursor(FlowRun.started_at, "desc", boundary.started_at, boundary.id)
            per_flow.append(and_(FlowRun.flow_id == flow_id, older))
    return or_(*per_flow) if per_flow else false()


def prune(
    engine: Engine,
    policy: RetentionPolicy,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> PruneResult:
    if policy.is_empty:
        raise InvalidQuery("retention policy is empty: set a max age or a max run count")
    rules = _age_rules(policy, now or utcnow())
    if policy.max_runs_per_flow is not None:
        rules["max_runs_per_flow"] = _count_rule(engine, policy.max_runs_per_flow)
    protected = FlowRun.status.not_in(FlowRunStatus.active())
    by_rule = {name: count_where(engine, and_(protected, rule)) for name, rule in rules.items()}
    union = and_(protected, or_(*rules.values()))
    if dry_run:
        return PruneResult(total=count_where(engine, union), by_rule=by_rule, dry_run=True)
    deleted = delete_where(engine, union, batch_size=batch_size, progress=progress)
    return PruneResult(total=deleted, by_rule=by_rule, dry_run=False)
