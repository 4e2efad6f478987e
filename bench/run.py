"""One benchmark command: ours against the baselines, side by side, on cached datasets.

    python -m bench.run                                  # 100k and 1M, SQLite and PostgreSQL
    python -m bench.run --sizes 10m --backends postgres  # the opt-in 10M dataset

Datasets (demo loader, seed 42) are built once and reused: SQLite files under var/bench/,
PostgreSQL databases ``flowruns_bench_<runs>`` (shared with bench/export_bench.py).
Every scenario runs in its own process (bench/scenarios.py) so its peak RSS is its own.
Results are merged into bench/results/run.json by (backend, size); bench/RESULTS.md and
its chart are rendered from that file (bench/report.py).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from argparse import Namespace
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import bulk_bench, export_bench, scenarios
from bench.data_bench import NOW
from bench.report import write_report
from data import migrate
from data.db import build_engine
from data.demo import generate_demo

ROOT = Path(__file__).resolve().parent.parent
SIZES = {"2k": 2_000, "100k": 100_000, "1m": 1_000_000, "10m": 10_000_000}
# Beyond it, every row in pandas needs more memory than the machine has (5 GB of RSS at 1M
# on PostgreSQL).
PANDAS_MAX_RUNS = 1_000_000
# ORM objects cost ~70 us each on this loaded machine: the 90-day window at 1M would take
# 15 minutes per baseline.
ORM_ALL_DAYS_RUNS = 100_000
PAGE_10K_OFFSET = 9_999 * 50


def count_runs(url: str) -> int:
    engine = build_engine(url)
    with engine.connect() as conn:
        count = int(conn.execute(text("SELECT count(*) FROM flow_run")).scalar_one())
    engine.dispose()
    return count


def dataset(backend: str, runs: int, cache: Path, admin_url: str) -> tuple[str, float | None]:
    """(URL, demo rows/s if it had to be built); a partial leftover is rebuilt."""
    name = f"flowruns_bench_{runs}"
    if backend == "sqlite":
        cache.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{cache / name}.db"
    else:
        url, _ = export_bench.pg_dataset(name, admin_url, drop=False)
    migrate.upgrade(url)  # a cache from an older schema gets today's (and its rollup)
    if count_runs(url) == runs:
        analyze(url)  # the rollup a migration just built has no statistics yet
        return url, None
    if backend == "sqlite":
        (cache / f"{name}.db").unlink()
    else:
        export_bench.pg_dataset(name, admin_url, drop=True)
    migrate.upgrade(url)
    engine = build_engine(url)
    started = time.perf_counter()
    generate_demo(engine, runs, now=NOW, seed=42)
    rows_per_s = runs / (time.perf_counter() - started)
    engine.dispose()
    analyze(url)
    return url, rows_per_s


def analyze(url: str) -> None:
    engine = build_engine(url)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()


def round_trip_ms(url: str) -> float:
    """Median ``SELECT 1``: the floor every query pays on this machine right now (on a
    loaded 2-core machine it is tens of ms on PostgreSQL, which no query can beat)."""
    engine = build_engine(url)
    with engine.connect() as conn:
        times = []
        for _ in range(21):
            started = time.perf_counter()
            conn.execute(text("SELECT 1"))
            times.append(time.perf_counter() - started)
    engine.dispose()
    return statistics.median(times) * 1000


def scratch_copy(backend: str, url: str, admin_url: str) -> str:
    """A throw-away copy of the dataset for the destructive retention scenario."""
    if backend == "sqlite":
        source = Path(make_url(url).database or "")
        engine = build_engine(url)
        with engine.connect() as conn:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        engine.dispose()
        target = source.with_name(f"scratch-{uuid.uuid4().hex[:8]}.db")
        shutil.copyfile(source, target)
        return f"sqlite:///{target}"
    name = f"flowruns_bench_scratch_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    template = make_url(url).database
    for attempt in range(30):  # TEMPLATE needs the source without connections
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
            break
        except Exception:
            if attempt == 29:
                raise
            time.sleep(2)
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_scratch(backend: str, url: str, admin_url: str) -> None:
    if backend == "sqlite":
        Path(make_url(url).database or "").unlink(missing_ok=True)
        return
    bulk_bench.drop_database(admin_url, make_url(url).database)


def run_child(name: str, url: str, params: dict[str, Any], in_process: bool) -> dict[str, Any]:
    """The scenario in its own process; ``in_process`` (the smoke test) saves the
    interpreter start-ups, and its peak RSS is then the harness's."""
    if in_process:
        return scenarios.run_scenario(name, url, params)
    command = [sys.executable, "-m", "bench.scenarios", name, url, json.dumps(params)]
    out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def summary(result: dict[str, Any]) -> dict[str, Any]:
    times = sorted(result.pop("samples"))
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return {
        **result,
        "median_s": statistics.median(times),
        "min_s": times[0],
        "max_s": times[-1],
        "p95_s": p95,
        "n": len(times),
    }


def baselines(runs: int, days: int) -> list[str]:
    """The baselines worth their time: loading every row (pandas) costs the same for any
    window, so past ORM_ALL_DAYS_RUNS it is measured once (90 d) and the ORM, which pays
    per row in the window, for 7 days only."""
    chosen = []
    if runs <= ORM_ALL_DAYS_RUNS or days == 7:
        chosen.append("orm")
    if runs <= PANDAS_MAX_RUNS and (runs <= ORM_ALL_DAYS_RUNS or days == 90):
        chosen.append("pandas")
    return chosen


def plan(runs: int, repeats: int, budget_s: float) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(scenario, variant, approach, params) for one dataset: ours first, then baselines."""
    items: list[tuple[str, str, str, dict[str, Any]]] = []
    fast = {"repeats": repeats}
    for days in (7, 90):
        for narrow in ("none", "flow", "status"):
            variant = f"{days} d" + ("" if narrow == "none" else f", {narrow} filter")
            params = {**fast, "days": days, "narrow": narrow}
            items.append(("overview", variant, "ours", params))
            if narrow == "none":
                # Raw rows cost seconds at 1M (a minute at 10M): two warm runs say enough,
                # one at 10M.
                exact_repeats = 2 if runs < 5_000_000 else 1
                items.append(("overview", variant, "exact", {**params, "repeats": exact_repeats}))
                items += [("overview", variant, a, params) for a in baselines(runs, days)]
    for scenario in ("flows", "errors"):
        for days in (7, 90) if runs > ORM_ALL_DAYS_RUNS else (90,):
            approaches = ["ours"] + [a for a in baselines(runs, days) if a == "orm"]
            items += [(scenario, f"{days} d", a, {**fast, "days": days}) for a in approaches]
    deep = min(PAGE_10K_OFFSET, (runs // 50 - 1) * 50)
    items.append(("paging", "first page", "ours", {**fast, "offset": 0}))
    items.append(("paging", "first page + total", "ours", {**fast, "offset": 0, "with_total": 1}))
    for approach in ("ours", "offset"):
        variant = f"page {deep // 50 + 1:,}"
        items.append(("paging", variant, approach, {**fast, "offset": deep}))
    for narrow in ("status", "flow"):
        for approach in ("ours", "offset"):
            params = {"repeats": 3, "narrow": narrow}
            items.append(("filtered_depths", f"{narrow} filter", approach, params))
    for approach in ("ours", "one_by_one"):
        items.append(("retention", "2/3 of rows", approach, {"budget_s": budget_s}))
    return items


def measure_export(url: str) -> list[dict[str, Any]]:
    rows = []
    for approach in ("ours", "baseline"):
        result = export_bench.measure(approach, url)
        result["rows_per_s"] = result["rows"] / result["wall_s"]
        result["samples"] = [result.pop("wall_s")]
        name = "ours" if approach == "ours" else "orm"
        rows.append({"scenario": "export", "variant": "CSV", "approach": name, **summary(result)})
    return rows


def measure_bulk(backend: str, runs: int, admin_url: str) -> list[dict[str, Any]]:
    rows = []
    args = Namespace(backend=backend, runs=runs, pg_admin_url=admin_url)
    with tempfile.TemporaryDirectory() as folder:
        for approach in ("ours", "baseline"):
            result = bulk_bench.measure(approach, args, folder)
            result["samples"] = [result.pop("wall_s")]
            result["rows_per_s"] = runs / result["samples"][0]
            name = "ours" if approach == "ours" else "orm"
            labels = {"scenario": "bulk", "variant": f"{runs:,} runs", "approach": name}
            rows.append({**labels, **summary(result)})
    return rows


def measure_dataset(backend: str, size: str, args: argparse.Namespace) -> dict[str, Any]:
    runs = SIZES[size]
    url, built = dataset(backend, runs, args.cache, args.pg_admin_url)
    rows: list[dict[str, Any]] = []
    floor_ms = round_trip_ms(url)
    for scenario, variant, approach, params in plan(runs, args.repeats, args.delete_budget):
        if args.only and scenario not in args.only:
            continue
        target = scratch_copy(backend, url, args.pg_admin_url) if scenario == "retention" else url
        try:
            params = {**params, "approach": approach}
            result = run_child(scenario, target, params, args.in_process)
        finally:
            if target != url:
                drop_scratch(backend, target, args.pg_admin_url)
        row = {"scenario": scenario, "variant": variant, "approach": approach, **summary(result)}
        print(json.dumps(row), file=sys.stderr)
        rows.append(row)
    if not args.only or "export" in args.only:
        rows += measure_export(url)
    if not args.only or "bulk" in args.only:
        rows += measure_bulk(backend, min(runs, args.bulk_runs), args.pg_admin_url)
    return {
        "backend": backend,
        "size": size,
        "runs": runs,
        "built_rows_per_s": built,
        "round_trip_ms": [floor_ms, round_trip_ms(url)],  # before and after the scenarios
        "rows": rows,
    }


def merge(old: dict[str, Any] | None, new: dict[str, Any], only: set[str]) -> dict[str, Any]:
    """With ``--only``, the other scenarios' earlier rows are kept."""
    if not only or old is None:
        return new
    kept = [row for row in old["rows"] if row["scenario"] not in only]
    return {**new, "rows": kept + new["rows"]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100k,1m", help=f"comma list of {', '.join(SIZES)}")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--delete-budget", type=float, default=20.0, help="one-by-one delete, s")
    parser.add_argument("--bulk-runs", type=int, default=200_000)
    parser.add_argument("--only", type=lambda s: set(s.split(",")), default=set())
    parser.add_argument("--in-process", action="store_true", help="no process per scenario")
    parser.add_argument("--cache", type=Path, default=ROOT / "var" / "bench")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results" / "run.json")
    parser.add_argument("--report", type=Path, default=ROOT / "bench" / "RESULTS.md")
    parser.add_argument("--pg-admin-url", default=export_bench.PG_ADMIN)
    args = parser.parse_args(argv)
    stored: dict[str, Any] = {}
    for size in args.sizes.split(","):
        for backend in args.backends.split(","):
            commit = subprocess.run(  # the code measured: HEAD when the dataset starts
                ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
            ).stdout.strip()
            measured = {**measure_dataset(backend, size, args), "commit": commit}
            measured["load_average"] = Path("/proc/loadavg").read_text().split()[0]
            # Re-read: another invocation (another size or backend) may have stored since.
            stored = json.loads(args.results.read_text()) if args.results.exists() else {}
            key = f"{backend}/{size}"
            stored[key] = merge(stored.get(key), measured, args.only)
            args.results.parent.mkdir(parents=True, exist_ok=True)
            args.results.write_text(json.dumps(stored, indent=1))
    write_report(stored, args.report)


if __name__ == "__main__":
    main()
