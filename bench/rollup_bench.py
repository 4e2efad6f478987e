"""Rollup benchmark: the overview (run_stats + run_timeseries + flow_breakdown) from raw
rows (``exact=True``, the "before") and from the rollup (the default), in the same run on
the same database; and the write-path cost of the triggers (bulk load and a batched
retention delete of 2/3 of the rows, with and without triggers).

    python bench/rollup_bench.py --backend sqlite --runs 1000000
    python bench/rollup_bench.py --backend postgres --runs 1000000

Writes bench/results/rollup_<backend>.md (bench/results/rollup.md collects them).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from data_bench import NOW, RESULTS
from sqlalchemy import Engine, create_engine, text

from data import migrate
from data import queries as q
from data.db import build_engine
from data.deletion import count_where, delete_where
from data.demo import generate_demo
from data.filters import FlowRunFilter
from data.models import FlowRun
from data.rollup.maintain import check, install, rebuild, uninstall

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1/postgres"


def database(backend: str, name: str, folder: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{folder}/{name}.db"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def drop(backend: str, name: str) -> None:
    if backend == "postgres":
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def write_costs(backend: str, runs: int, folder: str) -> list[str]:
    """Bulk load and a 2/3 retention delete, with the triggers and without."""
    lines = []
    for triggers in (False, True):
        name = f"flowruns_r1_write_{int(triggers)}"
        url = database(backend, name, folder)
        migrate.upgrade(url)
        engine = build_engine(url)
        if not triggers:
            with engine.begin() as conn:
                uninstall(conn)
        load_s = timed(lambda e=engine: generate_demo(e, runs, now=NOW))
        old = FlowRun.started_at < NOW - timedelta(days=30)
        doomed = count_where(engine, old)
        delete_s = timed(lambda e=engine, w=old: delete_where(e, w, batch_size=5000))
        lines.append(
            f"| {'with' if triggers else 'without'} triggers | {runs / load_s:,.0f} "
            f"| {doomed / delete_s:,.0f} ({doomed:,} rows) |"
        )
        engine.dispose()
        drop(backend, name)
    return lines


def overview(engine: Engine, flt: FlowRunFilter, exact: bool | None) -> None:
    q.run_stats(engine, flt, exact=exact)
    q.run_timeseries(engine, flt, exact=exact)
    q.flow_breakdown(engine, flt, exact=exact)


def median_s(work: Callable[[], object], repeats: int) -> float:
    work()  # warm caches: both paths measured warm
    return statistics.median(timed(work) for _ in range(repeats))


def read_costs(
    backend: str, runs: int, folder: str, existing: str | None, end: datetime
) -> tuple[list[str], list[str]]:
    if existing:  # a database built before (e.g. bench/run.py's cache): measure only
        engine = build_engine(existing)
        with engine.connect() as conn:
            runs = conn.execute(text("SELECT count(*) FROM flow_run")).scalar_one()
        notes = [f"- existing database with {runs:,} runs (rollup built by migration 0003)"]
        return notes, overview_rows(engine, end)
    name = "flowruns_r1_read"
    url = database(backend, name, folder)
    migrate.upgrade(url)
    engine = build_engine(url)
    # Loaded without triggers, then installed and rebuilt: what migration 0003 does to
    # an existing table (the trigger cost is measured in write_costs).
    with engine.begin() as conn:
        uninstall(conn)
    load_s = timed(lambda: generate_demo(engine, runs, now=NOW))
    with engine.begin() as conn:
        install(conn)
    notes = [f"- demo load of {runs:,} runs without triggers: {runs / load_s:,.0f} rows/s"]
    notes.append(
        f"- `rollup rebuild` (what migration 0003 does): {timed(lambda: rebuild(engine)):.1f} s"
    )
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    notes.append(f"- `rollup check` (full comparison): {timed(lambda: check(engine)):.1f} s")
    with engine.connect() as conn:
        sizes = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in (
                "flowrun_rollup_day",
                "flowrun_rollup_day_hist",
                "flowrun_rollup_hour",
                "flowrun_rollup_hour_hist",
            )
        }
    notes.append("- rollup rows: " + ", ".join(f"{t} {n:,}" for t, n in sizes.items()))
    rows = overview_rows(engine, end)
    engine.dispose()
    drop(backend, name)
    return notes, rows


def overview_rows(engine: Engine, end: datetime) -> list[str]:
    def window(days: int) -> FlowRunFilter:
        return FlowRunFilter(started_after=end - timedelta(days=days), started_before=end)

    flows = q.flow_breakdown(engine, window(90), exact=False)["flow_id"].tolist()
    rows = []

    for label, flt in (
        ("90 d", window(90)),
        ("7 d", window(7)),
        ("90 d, one flow", window(90).replace(flow_ids=(flows[0],))),
        ("90 d, status failure", window(90).replace(statuses=("failure",))),
        ("7 d, status failure", window(7).replace(statuses=("failure",))),
    ):
        raw = median_s(lambda f=flt: overview(engine, f, True), 3)
        rolled = median_s(lambda f=flt: overview(engine, f, None), 5)
        rows.append(f"| {label} | {raw * 1000:,.0f} | {rolled * 1000:,.0f} | {raw / rolled:.0f}x |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--write-runs", type=int, default=100_000)
    parser.add_argument("--url", help="measure the overview on this existing database")
    parser.add_argument("--now", help="end of its 90 days (ISO, UTC), default " + NOW.isoformat())
    args = parser.parse_args()
    end = datetime.fromisoformat(args.now) if args.now else NOW
    with tempfile.TemporaryDirectory() as folder:
        notes, rows = read_costs(args.backend, args.runs, folder, args.url, end)
        writes = [] if args.url else write_costs(args.backend, args.write_runs, folder)
    report = "\n".join(
        [
            f"### {args.backend}, {args.runs:,} runs over 90 days",
            "",
            *notes,
            "",
            "| overview (stats + series + flows) | raw rows, ms | rollup, ms | speed-up |",
            "|---|---|---|---|",
            *rows,
            "",
            f"Write path, {args.write_runs:,} demo runs:",
            "",
            "| | bulk load rows/s | retention delete rows/s |",
            "|---|---|---|",
            *writes,
            "",
        ]
    )
    print(report)
    RESULTS.mkdir(exist_ok=True)
    if not args.url:
        (RESULTS / f"rollup_{args.backend}.md").write_text(report)


if __name__ == "__main__":
    main()
