"""Data-layer benchmark: demo loader rows/s, and the dashboard's aggregate queries
(run_stats + run_timeseries + flow_breakdown) against the naive approach (read every row
into pandas, then compute), measured in the same run on the same database.

    python bench/data_bench.py --backend sqlite --runs 1000000
    python bench/data_bench.py --backend postgres --runs 1000000 --pg-admin-url postgresql+psycopg://postgres@127.0.0.1/postgres

Each approach runs in its own subprocess so its peak RSS (VmHWM) is its own.
Writes a markdown table to bench/results/data_<backend>.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import create_engine, text

from data import migrate
from data import queries as q
from data.db import build_engine
from data.demo import generate_demo
from data.filters import FlowRunFilter

NOW = datetime(2026, 11, 1, tzinfo=UTC)
RESULTS = Path(__file__).parent / "results"


def window(days: int) -> FlowRunFilter:
    return FlowRunFilter(started_after=NOW - timedelta(days=days), started_before=NOW)


def sql_approach(url: str, days: int) -> None:
    engine = build_engine(url)
    flt = window(days)
    q.run_stats(engine, flt)
    q.run_timeseries(engine, flt)
    q.flow_breakdown(engine, flt)


def naive_approach(url: str, days: int) -> None:
    """What the original did: every column of every row into pandas, then aggregate."""
    engine = build_engine(url)
    frame = pd.read_sql(text("SELECT * FROM flow_run"), engine)
    frame["started_at"] = pd.to_datetime(frame["started_at"], utc=True, format="mixed")
    start, end = NOW - timedelta(days=days), NOW
    now = frame[(frame["started_at"] >= start) & (frame["started_at"] < end)]
    prev = frame[(frame["started_at"] >= start - (end - start)) & (frame["started_at"] < start)]
    for part in (now, prev):
        part["status"].value_counts()
        part["trigger_type"].value_counts()
        part["duration_ms"].quantile([0.5, 0.95, 0.99])
    bucket = now["started_at"].dt.floor("D")
    now.groupby(bucket).agg(
        runs=("id", "size"),
        p50=("duration_ms", "median"),
        p95=("duration_ms", lambda s: s.quantile(0.95)),
    )
    now.groupby("flow_id").agg(
        runs=("id", "size"),
        p50=("duration_ms", "median"),
        p95=("duration_ms", lambda s: s.quantile(0.95)),
        last=("started_at", "max"),
    )


def peak_rss_mb() -> float:
    """VmHWM of this process. Not ru_maxrss: after fork+exec it can report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(mode: str, url: str, days: int, repeats: int) -> None:
    func = sql_approach if mode == "sql" else naive_approach
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        func(url, days)
        times.append(time.perf_counter() - started)
    peak_mb = peak_rss_mb()
    print(json.dumps({"median_s": statistics.median(times), "peak_mb": peak_mb}))


def measure(mode: str, url: str, days: int, repeats: int) -> dict[str, float]:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            mode,
            "--url",
            url,
            "--days",
            str(days),
            "--repeats",
            str(repeats),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def prepare(backend: str, runs: int, admin_url: str) -> tuple[str, float, object]:
    if backend == "sqlite":
        folder = tempfile.TemporaryDirectory()
        url = f"sqlite:///{folder.name}/bench.db"
        cleanup: object = folder
    else:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("DROP DATABASE IF EXISTS flowruns_bench_data WITH (FORCE)"))
            conn.execute(text("CREATE DATABASE flowruns_bench_data"))
        url = admin_url.rsplit("/", 1)[0] + "/flowruns_bench_data"
        cleanup = admin
    migrate.upgrade(url)
    engine = build_engine(url)
    started = time.perf_counter()
    generate_demo(engine, runs, now=NOW)
    load_s = time.perf_counter() - started
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()
    return url, runs / load_s, cleanup


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--pg-admin-url", default="postgresql+psycopg://postgres@127.0.0.1/postgres"
    )
    parser.add_argument("--child", choices=["sql", "naive"])
    parser.add_argument("--url")
    parser.add_argument("--days", type=int, default=7)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.url, args.days, args.repeats)
        return
    url, rows_per_s, cleanup = prepare(args.backend, args.runs, args.pg_admin_url)
    lines = [
        f"### {args.backend}, {args.runs:,} runs (demo loader: {rows_per_s:,.0f} rows/s)",
        "",
        "| window | SQL aggregates (s) | naive pandas (s) | naive / SQL | SQL peak RSS (MB) "
        "| naive peak RSS (MB) |",
        "|---|---|---|---|---|---|",
    ]
    for days in (7, 90):
        sql = measure("sql", url, days, args.repeats)
        naive = measure("naive", url, days, 1)
        lines.append(
            f"| {days} d | {sql['median_s']:.2f} | {naive['median_s']:.2f} "
            f"| {naive['median_s'] / sql['median_s']:.1f}x | {sql['peak_mb']:.0f} "
            f"| {naive['peak_mb']:.0f} |"
        )
    report = "\n".join(lines) + "\n"
    print(report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"data_{args.backend}.md").write_text(report)
    if args.backend == "postgres":
        with cleanup.connect() as conn:  # type: ignore[attr-defined]
            conn.execute(text("DROP DATABASE IF EXISTS flowruns_bench_data WITH (FORCE)"))


if __name__ == "__main__":
    main()
