"""CLI command handlers. Each returns an exit code; errors are raised and reported by main."""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from data import accounts, migrate
from data import queries as q
from data.cli.args import filter_from_args
from data.cli.progress import ProgressBar
from data.deletion import delete_runs
from data.demo import generate_demo
from data.errors import InvalidQuery
from data.export import iter_csv
from data.recorder import sweep_stuck
from data.retention import RetentionPolicy, prune
from data.settings import get_settings


def init_db(args: argparse.Namespace, url: str) -> int:
    migrate.upgrade(url)
    print("database schema is up to date")
    return 0


def demo(args: argparse.Namespace, engine: Engine) -> int:
    summary = generate_demo(
        engine, args.runs, days=args.days, seed=args.seed, progress=ProgressBar("demo runs")
    )
    print(
        f"inserted {summary.runs:,} demo runs over {summary.flows} flows and {summary.users} users"
    )
    return 0


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def stats(args: argparse.Namespace, engine: Engine) -> int:
    result = q.run_stats(engine, filter_from_args(args))
    rate = result.success_rate
    payload: dict[str, Any] = {
        "total_runs": result.total,
        "success_rate": None if rate is None else round(rate * 100, 2),
        "status_counts": result.status_counts,
        "trigger_counts": result.trigger_counts,
        "avg_duration_ms": result.avg_duration_ms,
        "p50_duration_ms": result.p50_duration_ms,
        "p95_duration_ms": result.p95_duration_ms,
        "p99_duration_ms": result.p99_duration_ms,
        "max_duration_ms": result.max_duration_ms,
    }
    if args.json:
        print(json.dumps(payload, indent=2, sort_keys=True))
        return 0
    print(f"runs            {result.total:,}")
    print(f"success rate    {'-' if rate is None else f'{rate:.2%}'}")
    for status, count in sorted(result.status_counts.items()):
        print(f"  {status:<13} {count:,}")
    print(f"in progress     {result.active:,}")
    print(f"avg duration    {_ms(result.avg_duration_ms)}")
    print(
        f"p50 / p95 / p99 {_ms(result.p50_duration_ms)} / {_ms(result.p95_duration_ms)} / "
        f"{_ms(result.p99_duration_ms)}"
    )
    print(
        "by trigger      "
        + ", ".join(f"{name}={count:,}" for name, count in sorted(result.trigger_counts.items()))
    )
    return 0


def _parse_status_ages(pairs: list[str]) -> dict[str, int]:
    ages = {}
    for pair in pairs:
        status, _, days = pair.partition("=")
        if not status or not days.isdigit():
            raise InvalidQuery(f"--status-max-age: expected STATUS=DAYS, got {pair!r}")
        ages[status.strip()] = int(days)
    return ages


def prune_command(args: argparse.Namespace, engine: Engine) -> int:
    settings_policy = RetentionPolicy.from_settings(get_settings())
    policy = RetentionPolicy(
        max_age_days=args.max_age_days or settings_policy.max_age_days,
        max_runs_per_flow=args.max_runs_per_flow or settings_policy.max_runs_per_flow,
        status_max_age_days=_parse_status_ages(args.status_max_age)
        or dict(settings_policy.status_max_age_days),
    )
    progress = None if args.dry_run else ProgressBar("pruning")
    result = prune(
        engine, policy, dry_run=args.dry_run, batch_size=args.batch_size, progress=progress
    )
    verb = "would delete" if result.dry_run else "deleted"
    rules = ", ".join(f"{name}: {count:,}" for name, count in result.by_rule.items())
    print(f"{verb} {result.total:,} run(s) ({rules}); pending/running runs are never pruned")
    return 0


def delete_command(args: argparse.Namespace, engine: Engine) -> int:
    progress = None if args.dry_run else ProgressBar("deleting")
    count = delete_runs(
        engine,
        filter_from_args(args),
        older_than_days=args.older_than_days,
        delete_all=args.all,
        include_active=args.include_active,
        dry_run=args.dry_run,
        batch_size=args.batch_size,
        progress=progress,
    )
    print(f"{'would delete' if args.dry_run else 'deleted'} {count:,} run(s)")
    return 0


def export(args: argparse.Namespace, engine: Engine) -> int:
    columns = [c.strip() for c in args.columns.split(",")] if args.columns else None
    chunks = iter_csv(engine, filter_from_args(args), columns=columns)
    if args.output in (None, "-"):
        for chunk in chunks:
            sys.stdout.write(chunk)
        return 0
    target = Path(args.output)
    if not target.parent.exists():
        raise InvalidQuery(f"--output: folder {target.parent} does not exist")
    with target.open("w", encoding="utf-8", newline="") as handle:
        for chunk in chunks:
            handle.write(chunk)
    print(f"wrote {target}", file=sys.stderr)
    return 0


def sweep(args: argparse.Namespace, engine: Engine) -> int:
    minutes = args.timeout_minutes or get_settings().stuck_run_timeout_minutes
    if minutes < 1:
        raise InvalidQuery("--timeout-minutes: must be 1 or more")
    count = sweep_stuck(engine, timedelta(minutes=minutes), dry_run=args.dry_run)
    verb = "would mark" if args.dry_run else "marked"
    print(f"{verb} {count:,} run(s) stuck for over {minutes} minutes as failure (Timeout)")
    return 0


def user_create(args: argparse.Namespace, engine: Engine) -> int:
    user_id = accounts.create_user(engine, args.username, superuser=args.superuser)
    kind = "superuser" if args.superuser else "user"
    print(f"created {kind} {args.username} ({user_id})")
    return 0


def key_create(args: argparse.Namespace, engine: Engine) -> int:
    plain, key_id = accounts.create_api_key(engine, args.user, args.name)
    print(f"API key {key_id} for {args.user} (shown once, store it now):", file=sys.stderr)
    print(plain)
    return 0


def key_list(args: argparse.Namespace, engine: Engine) -> int:
    for key in accounts.list_api_keys(engine):
        state = "revoked" if key.revoked_at else "active"
        print(f"{key.id}  {key.key_prefix}...  {key.username:<20} {key.name:<16} {state}")
    return 0


def key_revoke(args: argparse.Namespace, engine: Engine) -> int:
    try:
        key_id = uuid.UUID(args.key_id)
    except ValueError:
        raise InvalidQuery(f"key id: {args.key_id!r} is not a UUID") from None
    accounts.revoke_api_key(engine, key_id)
    print(f"revoked API key {key_id}")
    return 0
