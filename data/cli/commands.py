"""CLI command handlers. Each returns an exit code; errors are raised and reported by main."""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
import uuid
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from data import accounts, migrate
from data import queries as q
from data.audit import AuditContext
from data.cli.args import MAX_DAYS, filter_from_args
from data.cli.errors import OutputFailed
from data.cli.progress import ProgressBar
from data.db import build_engine
from data.delete_guard import require_all_for_everything
from data.deletion import delete_runs
from data.demo import generate_demo
from data.errors import Conflict, InvalidQuery
from data.export import iter_csv
from data.ownership import kept_as_they_are
from data.retention import RetentionPolicy, effective_policy, prune
from data.rollup.histogram import RELATIVE_ERROR
from data.rollup.maintain import check, rebuild, require_rollup
from data.settings import get_settings
from data.statuses import check_statuses
from data.sweep import sweep_stuck_runs

WAL_NOTE = (
    "note: this SQLite file now uses WAL journal mode (was {mode}), permanently: readers no"
    " longer wait for writers; -wal and -shm files appear next to it while it is open"
)


def init_db(args: argparse.Namespace, url: str) -> int:
    before = migrate.sqlite_journal_mode(url)
    migrate.upgrade(url, alter_owner_tables=args.alter_owner_tables)
    print("database schema is up to date")
    if before is not None and before != "wal":
        print(WAL_NOTE.format(mode=before))
    engine = build_engine(url)
    try:
        with engine.connect() as conn:
            for line in kept_as_they_are(conn):
                print(line)
    finally:
        engine.dispose()
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
    result = q.run_stats(engine, filter_from_args(args, engine), exact=args.exact or None)
    rate = result.success_rate
    payload: dict[str, Any] = {
        "total_runs": result.total,
        "success_rate": None if rate is None else round(rate * 100, 2),
        "status_counts": result.status_counts,
        "other_count": result.other,
        "trigger_counts": result.trigger_counts,
        "without_duration": result.without_duration,
        "avg_duration_ms": result.avg_duration_ms,
        "p50_duration_ms": result.p50_duration_ms,
        "p95_duration_ms": result.p95_duration_ms,
        "p99_duration_ms": result.p99_duration_ms,
        "max_duration_ms": result.max_duration_ms,
        "approximate": result.approximate,
        "total_tokens": result.total_tokens,
        "runs_with_tokens": result.token_runs,
    }
    if args.json:
        print(json.dumps(payload, indent=2, sort_keys=True))
        return 0
    print(f"runs            {result.total:,}")
    print(f"success rate    {'-' if rate is None else f'{rate:.2%}'}")
    for status, count in sorted(result.status_counts.items()):
        print(f"  {status:<13} {count:,}")
    print(f"in progress     {result.active:,}")
    print(f"other statuses  {result.other:,}")
    missing = f"{result.without_duration:,} run(s) without one"
    print(f"avg duration    {_ms(result.avg_duration_ms)} ({missing})")
    print(
        f"p50 / p95 / p99 {_ms(result.p50_duration_ms)} / {_ms(result.p95_duration_ms)} / "
        f"{_ms(result.p99_duration_ms)}"
        + (f" (approximate, within {RELATIVE_ERROR:.1%})" if result.approximate else "")
    )
    print(f"tokens          {result.total_tokens:,} in {result.token_runs:,} run(s) with a count")
    print(
        "by trigger      "
        + ", ".join(f"{name}={count:,}" for name, count in sorted(result.trigger_counts.items()))
    )
    return 0


def _parse_status_ages(engine: Engine, pairs: list[str]) -> dict[str, int]:
    ages = {}
    for pair in pairs:
        status, _, days = pair.partition("=")
        if not status.strip() or not days.strip().isdigit():
            raise InvalidQuery(f"--status-max-age: expected STATUS=DAYS, got {pair[:60]!r}")
        if not 1 <= int(days) <= MAX_DAYS:
            raise InvalidQuery(f"--status-max-age: days must be between 1 and {MAX_DAYS:,}")
        try:
            (name,) = check_statuses(engine, [status])
        except InvalidQuery as exc:
            raise InvalidQuery(f"--status-max-age: {str(exc).removeprefix('status: ')}") from None
        ages[name] = int(days)
    return ages


# RetentionPolicy's field names in its messages, as the options the user typed.
PRUNE_OPTIONS = {
    "max_age_days": "--max-age-days",
    "max_runs_per_flow": "--max-runs-per-flow",
    "status_max_age_days": "--status-max-age",
}
PRUNE_FIELDS = re.compile(r"\b(" + "|".join(PRUNE_OPTIONS) + r")\b")


def _policy_from_args(args: argparse.Namespace, engine: Engine) -> RetentionPolicy:
    """The flags, each falling back to its setting only when not given (0 is a value)."""
    defaults = effective_policy(engine, get_settings()).policy
    ages = _parse_status_ages(engine, args.status_max_age)
    try:
        return RetentionPolicy(
            max_age_days=defaults.max_age_days if args.max_age_days is None else args.max_age_days,
            max_runs_per_flow=defaults.max_runs_per_flow
            if args.max_runs_per_flow is None
            else args.max_runs_per_flow,
            status_max_age_days=ages if args.status_max_age else dict(defaults.status_max_age_days),
        )
    except InvalidQuery as exc:
        message = PRUNE_FIELDS.sub(lambda found: PRUNE_OPTIONS[found.group(0)], str(exc))
        raise InvalidQuery(message) from None


def prune_command(args: argparse.Namespace, engine: Engine) -> int:
    policy = _policy_from_args(args, engine)
    progress = None if args.dry_run else ProgressBar("pruning")
    result = prune(
        engine,
        policy,
        dry_run=args.dry_run,
        batch_size=args.batch_size,
        progress=progress,
        audit=AuditContext.cli(),
    )
    verb = "would delete" if result.dry_run else "deleted"
    rules = ", ".join(f"{name}: {count:,}" for name, count in result.by_rule.items())
    print(f"{verb} {result.total:,} run(s) ({rules}); pending/running runs are never pruned")
    return 0


# The delete protections' parameter names in their messages, as the options the user typed.
DELETE_OPTIONS = {
    "all=true": "--all",
    "include_active=true": "--include-active",
    "older_than_days": "--older-than-days",
}
DELETE_PARAMETERS = re.compile("|".join(re.escape(name) for name in DELETE_OPTIONS))


def delete_command(args: argparse.Namespace, engine: Engine) -> int:
    """The API's protections, same guard: a filter that matches every deletable run
    (``--older-than-days 0``, ``--since 1900-01-01``...) needs ``--all`` too."""
    flt = filter_from_args(args, engine)
    request: dict[str, Any] = {
        "older_than_days": args.older_than_days,
        "delete_all": args.all,
        "include_active": args.include_active,
    }
    try:
        require_all_for_everything(engine, flt, **request)
    except InvalidQuery as exc:
        message = DELETE_PARAMETERS.sub(lambda found: DELETE_OPTIONS[found.group(0)], str(exc))
        raise InvalidQuery(message) from None
    progress = None if args.dry_run else ProgressBar("deleting")
    count = delete_runs(
        engine,
        flt,
        dry_run=args.dry_run,
        batch_size=args.batch_size,
        progress=progress,
        audit=AuditContext.cli(),
        **request,
    )
    print(f"{'would delete' if args.dry_run else 'deleted'} {count:,} run(s)")
    return 0


def export(args: argparse.Namespace, engine: Engine) -> int:
    columns = [c.strip() for c in args.columns.split(",")] if args.columns else None
    chunks = iter_csv(engine, filter_from_args(args, engine), columns=columns)
    # The header comes before the first query: start the query before writing anything,
    # so an unreachable database leaves no header-only output behind.
    head = list(itertools.islice(chunks, 2))
    chunks = itertools.chain(head, chunks)
    if args.output in (None, "-"):
        try:
            for chunk in chunks:
                sys.stdout.write(chunk)
            sys.stdout.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:  # e.g. stdout redirected to a full disk
            raise OutputFailed(f"cannot write to standard output: {exc.strerror or exc}") from None
        return 0
    _write_file(Path(args.output), chunks)
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _write_file(target: Path, chunks: Iterable[str]) -> None:
    """Write ``chunks`` to ``target``; a failure is one ``--output`` line, and a file this
    command created is removed rather than left half-written."""
    if target.is_dir():
        raise InvalidQuery(f"--output: {target} is a folder, not a file")
    if not target.parent.is_dir():
        raise InvalidQuery(f"--output: folder {target.parent} does not exist")
    created = not target.exists()
    try:
        with target.open("w", encoding="utf-8", newline="") as handle:
            for chunk in chunks:
                handle.write(chunk)
    except OSError as exc:
        if created:
            target.unlink(missing_ok=True)
        raise OutputFailed(f"--output: cannot write {target}: {exc.strerror or exc}") from None


def sweep(args: argparse.Namespace, engine: Engine) -> int:
    minutes = args.timeout_minutes
    if minutes is None:
        minutes = get_settings().stuck_run_timeout_minutes
    result = sweep_stuck_runs(
        engine, timedelta(minutes=minutes), dry_run=args.dry_run, audit=AuditContext.cli()
    )
    verb = "would mark" if args.dry_run else "marked"
    print(f"{verb} {result.marked:,} run(s) stuck for over {minutes} minutes as failure (Timeout)")
    if result.skipped:
        # Still exit 0: the sweep did its work and a rerun cannot help; the audit entry
        # names the refused runs.
        print(
            f"skipped {result.skipped:,} runs the database refused (see the audit log)",
            file=sys.stderr,
        )
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


def rollup_rebuild(args: argparse.Namespace, engine: Engine) -> int:
    require_rollup(engine)
    print(f"rollup rebuilt: {rebuild(engine):,} rows")
    return 0


def rollup_check(args: argparse.Namespace, engine: Engine) -> int:
    require_rollup(engine)
    result = check(engine)
    if result.consistent:
        print("rollup consistent with the runs")
        return 0
    differing = ", ".join(f"{t} {n:,}" for t, n in result.differences.items() if n)
    raise Conflict(
        f"rollup differs from the runs (rows: {differing}); run `flowruns rollup rebuild`"
    )
