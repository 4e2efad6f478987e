"""`flowruns sync langflow` and `flowruns sync status`."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from data.cli.args import bounded, seconds
from data.langflow.source import Source, open_source
from data.langflow.status import ago, runs_in_flight, sync_sources
from data.langflow.sync import SyncReport, sync_once
from data.migrate import require_schema
from data.models import utcnow

MAX_BACKOFF_S = 60.0


def add_sync_parser(sub: Any) -> None:
    """The `sync` command and its subcommands, on the CLI's subparsers."""
    sync = sub.add_parser("sync", help="copy runs from another program's database (Langflow)")
    what = sync.add_subparsers(dest="sync_command", required=True, parser_class=type(sync))
    langflow = what.add_parser(
        "langflow", help="copy new and changed runs, with their steps, from a Langflow database"
    )
    langflow.add_argument("--source", required=True, help="Langflow's database URL (read only)")
    langflow.add_argument("--follow", action="store_true", help="keep syncing until stopped")
    langflow.add_argument(
        "--interval",
        type=seconds(0.2, 3600),
        default=2.0,
        help="seconds between passes with --follow (default 2)",
    )
    langflow.add_argument(
        "--batch",
        type=bounded(1, 50_000),
        default=1000,
        help="runs per transaction (default 1000)",
    )
    langflow.add_argument(
        "--full", action="store_true", help="look at every trace, not only the newest ones"
    )
    what.add_parser("status", help="each source: when it last synced, the lag and the counts")


def _said(report: SyncReport) -> str:
    parts = [f"synced {report.runs:,} run(s) with {report.steps:,} step(s)"]
    if report.in_flight:
        parts.append(f"{report.in_flight} new in flight")
    if report.closed:
        parts.append(f"{report.closed} in-flight run(s) ended without a trace of their id")
    for reason, count in sorted(report.skipped.items()):
        parts.append(f"skipped {count}: {reason}")
    return "; ".join(parts)


def sync_langflow(args: argparse.Namespace, engine: Engine) -> int:
    require_schema(engine)
    source = open_source(args.source, engine)
    try:
        if not args.follow:
            print(_said(sync_once(engine, source, batch=args.batch, full=args.full)))
            return 0
        return _follow(engine, source, args)
    finally:
        source.engine.dispose()


def _follow(engine: Engine, source: Source, args: argparse.Namespace) -> int:
    stop = threading.Event()

    def on_signal(_number: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    wait, full = args.interval, args.full
    try:
        while not stop.is_set():
            try:
                report = sync_once(engine, source, batch=args.batch, full=full)
                full, wait = False, args.interval
                if report.runs or report.in_flight or report.closed or report.skipped:
                    print(_said(report), flush=True)
            except DBAPIError as exc:
                reason = str(exc.orig).strip().splitlines()[0][:160]
                wait = min(MAX_BACKOFF_S, max(args.interval, wait * 2))
                print(f"sync: {reason} (trying again in {wait:.0f} s)", file=sys.stderr, flush=True)
            stop.wait(wait)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


def sync_status(args: argparse.Namespace, engine: Engine) -> int:
    require_schema(engine)
    now = utcnow()
    states = sync_sources(engine)
    if not states:
        print("no source has been synced (flowruns sync langflow --source URL)")
        return 0
    in_flight = runs_in_flight(engine)
    for state in states:
        print(f"source          {state.source} ({state.kind})")
        print(f"last sync       {ago(state.last_sync_at, now)}")
        print(f"newest run      ended {ago(state.newest_end, now)} (the lag)")
        print(f"synced          {state.runs:,} run(s), {state.steps:,} step(s)")
        print(f"in flight       {in_flight:,} run(s) from job rows")
        for reason, count in sorted(state.skipped.items()):
            print(f"skipped         {count:,}: {reason}")
        if state.last_error:
            print(f"last error      {state.last_error}")
    return 0
