"""What migration 0006 costs and saves (issue 16, cases 1-9): the same work on a database
at revision 0005 and on one at head, alternated in one run on the same machine.

- a recorded run: one INSERT and a finishing UPDATE, each committed (the recorder's two
  writes), per run;
- a writer transaction of two inserts (the shape that deadlocked on PostgreSQL);
- a batched retention delete (2/3 of the runs, 5,000 a batch);
- the 90-day overview read (run_stats + run_timeseries + flow_breakdown from the rollup),
  which on PostgreSQL now also reads the pending changes.

    python bench/rollup_write_bench.py --backend sqlite --runs 100000
    python bench/rollup_write_bench.py --backend postgres --runs 100000

Writes bench/results/rollup_writes_<backend>.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import uuid
from collections.abc import Callable
from datetime import timedelta

from data_bench import NOW, RESULTS
from rollup_bench import database, drop, overview, timed
from sqlalchemy import Engine, text

from data import migrate
from data.db import build_engine
from data.deletion import count_where, delete_where
from data.demo import generate_demo
from data.filters import FlowRunFilter
from data.models import Flow, FlowRun

REVISIONS = ("0005", "head")
INSERT = text(
    "INSERT INTO flow_run (id, flow_id, status, started_at, trigger_type, components_executed)"
    " VALUES (:id, :flow, 'running', :started, 'api', 0)"
)
FINISH = text("UPDATE flow_run SET status = 'success', duration_ms = 1234 WHERE id = :id")


def _run_id(engine: Engine) -> object:
    return uuid.uuid4() if engine.dialect.name == "postgresql" else uuid.uuid4().hex


def recorded_run(engine: Engine, flow: object) -> None:
    run_id = _run_id(engine)
    with engine.begin() as conn:
        conn.execute(INSERT, {"id": run_id, "flow": flow, "started": NOW - timedelta(hours=1)})
    with engine.begin() as conn:
        conn.execute(FINISH, {"id": run_id})


def two_inserts(engine: Engine, flow: object) -> None:
    with engine.begin() as conn:
        for _ in range(2):
            started = NOW - timedelta(hours=2)
            conn.execute(INSERT, {"id": _run_id(engine), "flow": flow, "started": started})


def alternated(works: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each work, run in turns so load changes hit both alike."""
    times: dict[str, list[float]] = {name: [] for name in works}
    for _ in range(repeats):
        for name, work in works.items():
            times[name].append(timed(work))
    return {name: statistics.median(found) for name, found in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="flowruns_rw_")
    engines: dict[str, Engine] = {}
    flows: dict[str, object] = {}
    for revision in REVISIONS:
        name = f"flowruns_rw_{revision}"
        url = database(args.backend, name, folder)
        migrate.upgrade(url, revision)
        engines[revision] = build_engine(url)
        generate_demo(engines[revision], args.runs, now=NOW)
        with engines[revision].connect() as conn:
            flows[revision] = conn.execute(Flow.__table__.select().limit(1)).first()[0]  # type: ignore[index]
    load = os.getloadavg()
    rows = []
    for label, work, repeats in (
        ("recorded run (insert + finish, 2 commits)", recorded_run, args.repeats),
        ("transaction of two inserts", two_inserts, args.repeats),
    ):
        found = alternated(
            {r: (lambda e=engines[r], f=flows[r], w=work: w(e, f)) for r in REVISIONS}, repeats
        )
        rows.append((label, found["0005"] * 1000, found["head"] * 1000, "ms"))
    window = FlowRunFilter(started_after=NOW - timedelta(days=90), started_before=NOW)
    reads = alternated(
        {r: (lambda e=engines[r]: overview(e, window, False)) for r in REVISIONS}, 15
    )
    rows.append(
        ("90-day overview from the rollup", reads["0005"] * 1000, reads["head"] * 1000, "ms")
    )
    old = FlowRun.started_at < NOW - timedelta(days=30)
    rates = {}
    for revision in REVISIONS:
        doomed = count_where(engines[revision], old)
        seconds = timed(lambda e=engines[revision]: delete_where(e, old, batch_size=5000))
        rates[revision] = doomed / seconds
    rows.append(("retention delete, rows/s", rates["0005"], rates["head"], "rows/s"))
    lines = [
        f"# Migration 0006: costs and savings ({args.backend}, {args.runs:,} demo runs)",
        "",
        f"Load average at the start: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}. Medians of"
        f" {args.repeats} alternated repeats (15 for the overview).",
        "",
        "| work | at 0005 | at head | head / 0005 |",
        "|---|---|---|---|",
    ]
    for label, before, after, unit in rows:
        lines.append(
            f"| {label} | {before:,.2f} {unit} | {after:,.2f} {unit} | {after / before:.2f} |"
        )
    for engine in engines.values():
        engine.dispose()
    for revision in REVISIONS:
        drop(args.backend, f"flowruns_rw_{revision}")
    out = RESULTS / f"rollup_writes_{args.backend}.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
