"""Demo/bulk load benchmark: ``generate_demo`` (numpy columns; COPY text blocks on
PostgreSQL, executemany from zipped columns on SQLite) against the previous loader (one
Python tuple per run, per-row conversion or ``write_row``; bench/bulk_baseline.py), in the
same run, each load into a new empty database in its own process (its own peak RSS).

    python -m bench.bulk_bench --backend sqlite --runs 200000              # quick
    python -m bench.bulk_bench --backend postgres --runs 1000000 --repeats 1
    python -m bench.bulk_bench --runs 200000 --before-tree /tmp/before   # + an earlier loader

SQLite files go to a temporary folder; PostgreSQL databases (flowruns_bulk_*) are created
on --pg-admin-url and dropped afterwards. Appends a section to bench/results/bulk.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from bench.bulk_baseline import baseline_writer, chunk_rows
from bench.export_bench import server_cpu_s
from data import migrate
from data.db import build_engine
from data.demo import generate_demo
from data.demo.generate import _ensure_flows
from data.demo.rows import start_times

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "bulk.md"
NOW = datetime(2026, 11, 1, tzinfo=UTC)
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def baseline_load(engine: Engine, runs: int, days: int = 90, chunk_size: int = 20_000) -> None:
    """The previous generate_demo loop, unchanged."""
    start = NOW - timedelta(days=days)
    rng = np.random.default_rng(42)
    user_ids, flow_ids = _ensure_flows(engine)
    offsets = start_times(rng, runs, start, days)
    write = baseline_writer(engine)
    for done in range(0, runs, chunk_size):
        chunk = offsets[done : done + chunk_size]
        write(engine, chunk_rows(rng, chunk, start, NOW, days, user_ids, flow_ids))


def ours_load(engine: Engine, runs: int) -> None:
    generate_demo(engine, runs, now=NOW, seed=42)


APPROACHES = {"ours": ours_load, "baseline": baseline_load}


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(approach: str, url: str, runs: int) -> None:
    migrate.upgrade(url)
    engine = build_engine(url)
    wall, cpu = time.perf_counter(), time.process_time()
    APPROACHES[approach](engine, runs)
    result = {
        "wall_s": time.perf_counter() - wall,
        "cpu_s": time.process_time() - cpu,
        "server_cpu_s": server_cpu_s(engine),
        "peak_mb": peak_rss_mb(),
    }
    with engine.connect() as conn:
        result["stored"] = conn.execute(text("SELECT count(*) FROM flow_run")).scalar_one()
    print(json.dumps(result))


def fresh_database(backend: str, folder: str, admin_url: str) -> tuple[str, str | None]:
    """(URL of a new empty database, PostgreSQL name to drop afterwards)."""
    if backend == "sqlite":
        return f"sqlite:///{folder}/bulk-{uuid.uuid4().hex[:8]}.db", None
    name = f"flowruns_bulk_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), name


def drop_database(admin_url: str, name: str | None) -> None:
    if name is None:
        return
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def measure(approach: str, args: argparse.Namespace, folder: str) -> dict[str, float]:
    """One load in its own process; "before" is our loader in the tree --before-tree
    (an exported earlier commit: ``git archive REV | tar -x -C DIR``)."""
    url, name = fresh_database(args.backend, folder, args.pg_admin_url)
    tree = ROOT
    if approach == "before":
        approach, tree = "ours", Path(args.before_tree)
    command = [sys.executable, "-m", "bench.bulk_bench", "--child", approach, "--url", url]
    try:
        out = subprocess.run(
            [*command, "--runs", str(args.runs)],
            check=True,
            capture_output=True,
            text=True,
            cwd=tree,
        ).stdout
    finally:
        drop_database(args.pg_admin_url, name)
        for path in Path(folder).glob("bulk-*"):
            path.unlink()
    return dict(json.loads(out.strip().splitlines()[-1]))


def report(args: argparse.Namespace, samples: dict[str, list[dict[str, float]]]) -> str:
    load = f"{args.load_at_start} at the start, {Path('/proc/loadavg').read_text().split()[0]}"
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    lines = [
        f"### {args.backend}, {args.runs:,} runs",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC at commit {commit};"
        f" {args.repeats} load(s) per approach,"
        f" alternating, each into a new empty database (schema and indexes in place) in its"
        f" own process; load average {load} at the end, on 2 shared cores.",
        "",
        "| approach | median wall (s) | min-max (s) | rows/s (wall) | CPU of the loading process"
        " (s) | rows per CPU-second (process) | server backend CPU (s) | peak RSS (MB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    medians = {}
    labels = {
        "ours": "ours (numpy columns)",
        "before": f"before (our loader in {args.before_tree})",
        "baseline": "baseline (row tuples)",
    }
    for name, label in labels.items():
        if name not in samples:
            continue
        walls = [s["wall_s"] for s in samples[name]]
        cpu = statistics.median(s["cpu_s"] for s in samples[name])
        medians[name] = statistics.median(walls)
        assert all(s["stored"] == args.runs for s in samples[name])
        lines.append(
            f"| {label} | {medians[name]:.1f} | {min(walls):.1f}-{max(walls):.1f}"
            f" | {args.runs / medians[name]:,.0f} | {cpu:.1f} | {args.runs / cpu:,.0f}"
            f" | {statistics.median(s['server_cpu_s'] for s in samples[name]):.1f}"
            f" | {max(s['peak_mb'] for s in samples[name]):.0f} |"
        )
    ratios = [f"ours vs {n} (wall): {medians[n] / medians['ours']:.2f}x" for n in medians]
    lines += ["", "; ".join(ratios[1:]).capitalize() + ".", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--runs", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--pg-admin-url", default=PG_ADMIN)
    parser.add_argument("--before-tree", help="also time the loader of this exported tree")
    parser.add_argument("--child")
    parser.add_argument("--url")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.url, args.runs)
        return
    args.load_at_start = Path("/proc/loadavg").read_text().split()[0]
    names = ["ours", *(["before"] if args.before_tree else []), "baseline"]
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.repeats):
            for name in names:
                samples[name].append(measure(name, args, folder))
                print(name, samples[name][-1], file=sys.stderr)
    section = report(args, samples)
    print(section)
    with RESULTS.open("a", encoding="utf-8") as handle:
        handle.write(section + "\n")


if __name__ == "__main__":
    main()
