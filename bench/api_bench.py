"""REST shim benchmark: a real uvicorn server over a seeded database, driven by an
httpx-based concurrent client. Measures median/p95 latency of the first list page, a
deep page by cursor vs by offset, /stats, and CSV export throughput with the server's
peak RSS; plus the naive baseline (every row into pandas, then the same stats) in the
same run.

    python bench/api_bench.py --backend sqlite --runs 1000000
    python bench/api_bench.py --backend postgres --runs 1000000

SQLite databases are kept under var/bench/ and reused when they hold --runs runs.
PostgreSQL gets its own database (flowruns_bench_api), dropped at the end unless --keep.
Writes (or updates this backend's section of) bench/results/api.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from data import migrate
from data.accounts import create_api_key, get_or_create_user
from data.db import build_engine
from data.demo import generate_demo
from data.models import utcnow

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "api.md"
DEFAULT_PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PG_BENCH_DB = "flowruns_bench_api"
API = "/api/v1/flow-runs"
DEEP = 10_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare_sqlite(runs: int, url: str | None) -> str:
    url = url or f"sqlite:///{ROOT / 'var' / 'bench' / f'api_{runs}.db'}"
    migrate.upgrade(url)
    return url


def prepare_postgres(url: str | None) -> str:
    if url:
        migrate.upgrade(url)
        return url
    admin_url = os.environ.get("FLOWRUNS_TEST_PG_URL", DEFAULT_PG_ADMIN)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": PG_BENCH_DB}
        ).first()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{PG_BENCH_DB}"'))
    admin.dispose()
    bench_url = make_url(admin_url).set(database=PG_BENCH_DB).render_as_string(False)
    migrate.upgrade(bench_url)
    return bench_url


def drop_postgres() -> None:
    admin_url = os.environ.get("FLOWRUNS_TEST_PG_URL", DEFAULT_PG_ADMIN)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_BENCH_DB}" WITH (FORCE)'))
    admin.dispose()


def seed(url: str, runs: int) -> tuple[int, float]:
    """Seed ``runs`` demo runs ending now unless the database already holds them."""
    engine = build_engine(url)
    present = _count(engine)
    seconds = 0.0
    if present != runs:
        if present:
            sys.exit(f"{url} holds {present} runs, not {runs}: remove it or pass --db-url")
        began = time.perf_counter()
        generate_demo(engine, runs, days=90, now=utcnow())
        seconds = time.perf_counter() - began
        # A steady state after a bulk load: planner statistics, and on PostgreSQL the
        # visibility map (VACUUM) that autovacuum would have built for index-only counts.
        command = "VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(command))
    engine.dispose()
    return present or runs, seconds


def _count(engine: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM flow_run")).scalar_one())


def bench_key(url: str) -> str:
    engine = build_engine(url)
    get_or_create_user(engine, "bench-admin", superuser=True)
    plain, _ = create_api_key(engine, "bench-admin", "bench")
    engine.dispose()
    return plain


class Server:
    """uvicorn in a subprocess on a free port, over ``url``."""

    def __init__(self, url: str) -> None:
        self.port = free_port()
        env = {**os.environ, "FLOWRUNS_DATABASE_URL": url}
        command = [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        self.process = subprocess.Popen(command, cwd=ROOT, env=env)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("uvicorn did not become ready")

    def memory_mb(self, field: str) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(x for x in status.splitlines() if x.startswith(field + ":"))
        return int(line.split()[1]) / 1024

    def reset_peak(self) -> bool:
        try:  # "5" resets VmHWM to the current RSS (Linux >= 4.0)
            Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")
            return True
        except OSError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=15)


def drive(
    client: httpx.Client, path: str, params: dict[str, Any], requests: int, concurrency: int
) -> dict[str, float]:
    """``requests`` GETs from ``concurrency`` threads: median/p95 latency (ms), req/s."""

    def one(_: int) -> float:
        began = time.perf_counter()
        response = client.get(path, params=params)
        elapsed = time.perf_counter() - began
        if response.status_code != 200:
            raise RuntimeError(f"{path} {params}: {response.status_code} {response.text[:200]}")
        return elapsed * 1000

    one(0)  # warm-up: connection, engine, caches
    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = sorted(pool.map(one, range(requests)))
    wall = time.perf_counter() - began
    return {
        "median_ms": statistics.median(latencies),
        "p95_ms": latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))],
        "rps": requests / wall,
    }


def cursor_at_depth(client: httpx.Client, depth: int) -> str:
    """Walk pages of 500 by cursor to reach ``depth`` rows (not timed)."""
    cursor: str | None = None
    for _ in range(depth // 500):
        params: dict[str, Any] = {"limit": 500, "include_payloads": "false"}
        if cursor:
            params["cursor"] = cursor
        cursor = client.get(API + "/", params=params).headers["X-Next-Cursor"]
    assert cursor is not None
    return cursor


def export_run(client: httpx.Client, server: Server) -> dict[str, float]:
    reset = server.reset_peak()
    rss_before = server.memory_mb("VmRSS")
    rows = -1  # header line
    began = time.perf_counter()
    with client.stream("GET", API + "/export.csv", timeout=None) as response:
        for chunk in response.iter_text():
            rows += chunk.count("\n")
    seconds = time.perf_counter() - began
    return {
        "rows": rows,
        "seconds": seconds,
        "rows_per_s": rows / seconds,
        "rss_before_mb": rss_before,
        "peak_mb": server.memory_mb("VmHWM"),
        "peak_reset": float(reset),
    }


def naive_baseline(url: str) -> None:
    """Subprocess body: the original's approach, every row into pandas, then the 7-day
    stats (counts, success rate, avg/p50/p95/p99). Prints seconds and peak RSS."""
    began = time.perf_counter()
    engine = build_engine(url)
    frame = pd.read_sql(text("SELECT * FROM flow_run"), engine)
    frame["started_at"] = pd.to_datetime(frame["started_at"], utc=True, format="mixed")
    end = pd.Timestamp(utcnow())
    start = end - timedelta(days=7)
    for low, high in ((start, end), (start - (end - start), start)):
        part = frame[(frame["started_at"] >= low) & (frame["started_at"] < high)]
        part["status"].value_counts()
        part["trigger_type"].value_counts()
        part["duration_ms"].agg(["mean", "max"])
        part["duration_ms"].quantile([0.5, 0.95, 0.99])
    seconds = time.perf_counter() - began
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb}))


def run_naive(url: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--naive-baseline", url],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def measure(url: str, key: str, runs: int, requests: int, concurrency: int) -> dict[str, Any]:
    server = Server(url)
    try:
        headers = {"x-api-key": key}
        with httpx.Client(base_url=server.base, headers=headers, timeout=120) as client:
            depth = min(DEEP, runs // 1000 * 500)  # whole pages of 500, inside the table
            cursor = cursor_at_depth(client, depth)
            page = {"limit": 50}
            bare = {**page, "include_total": "false"}  # the paging cost alone, no COUNT

            def load(path: str, params: dict[str, Any]) -> dict[str, Any]:
                alone = drive(client, path, params, max(10, requests // 3), 1)
                return {
                    "alone": alone,
                    "loaded": drive(client, path, params, requests, concurrency),
                }

            results: dict[str, Any] = {
                "first page (limit 50)": load(API + "/", page),
                "first page, include_total=false": load(API + "/", bare),
                f"depth {depth:,} by cursor, no total": load(API + "/", {**bare, "cursor": cursor}),
                f"depth {depth:,} by offset, no total": load(API + "/", {**bare, "offset": depth}),
                "/stats (7 days + previous)": load(API + "/stats", {}),
                "/stats?days=90": load(API + "/stats", {"days": 90}),
            }
            results["export"] = export_run(client, server)
    finally:
        server.stop()
    results["naive"] = run_naive(url)
    return results


def render(backend: str, runs: int, seed_s: float, r: dict[str, Any], args: Any) -> str:
    naive, export = r.pop("naive"), r.pop("export")
    stats_ms = r["/stats (7 days + previous)"]["alone"]["median_ms"]
    lines = [
        f"## {backend}, {runs:,} runs",
        "",
        f"uvicorn (1 worker, sync routes in its thread pool); per row: one warm-up, then "
        f"{max(10, args.requests // 3)} sequential requests, then {args.requests} from "
        f"{args.concurrency} concurrent httpx clients; 2 cores shared with other jobs. "
        f"Measured {utcnow():%Y-%m-%d %H:%M} UTC"
        + (f"; seeding took {seed_s:.0f} s." if seed_s else "; database reused."),
        "",
        f"| request | 1 client: median (ms) | p95 (ms) | {args.concurrency} clients: median (ms)"
        " | p95 (ms) | req/s |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in r.items():
        alone, loaded = row["alone"], row["loaded"]
        cells = f"{alone['median_ms']:.1f} | {alone['p95_ms']:.1f} | "
        cells += f"{loaded['median_ms']:.1f} | {loaded['p95_ms']:.1f} | {loaded['rps']:.1f}"
        lines.append(f"| {name} | {cells} |")
    lines += [
        "",
        "| CSV export (all columns, every run) | value |",
        "|---|---|",
        f"| rows | {export['rows']:,} |",
        f"| time (s) | {export['seconds']:.1f} |",
        f"| throughput (rows/s) | {export['rows_per_s']:,.0f} |",
        f"| server RSS before (MB) | {export['rss_before_mb']:.0f} |",
        f"| server peak RSS during export, VmHWM (MB) | {export['peak_mb']:.0f} |",
        "",
        "| naive baseline: all rows into pandas, then the same 7-day stats | value |",
        "|---|---|",
        f"| time (s) | {naive['seconds']:.2f} |",
        f"| peak RSS (MB) | {naive['peak_mb']:.0f} |",
        f"| naive / API `/stats` median (1 client) | {naive['seconds'] * 1000 / stats_ms:,.0f}x |",
        "",
    ]
    return "\n".join(lines)


def write_section(backend: str, section: str) -> None:
    """Replace this backend's section of the results file, keep the others."""
    header = "# REST shim benchmark (bench/api_bench.py)\n\n"
    existing = RESULTS.read_text() if RESULTS.exists() else header
    parts = existing.split("\n## ")
    kept = [p for p in parts[1:] if not p.startswith(f"{backend},")]
    body = parts[0].rstrip("\n") + "\n" + "".join("\n## " + p.rstrip("\n") + "\n" for p in kept)
    RESULTS.write_text(body + "\n" + section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--db-url", help="Use this database (seeded if empty)")
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="Keep the PostgreSQL database")
    parser.add_argument("--naive-baseline", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive_baseline:
        naive_baseline(args.naive_baseline)
        return
    if args.backend == "sqlite":
        url = prepare_sqlite(args.runs, args.db_url)
    else:
        url = prepare_postgres(args.db_url)
    try:
        runs, seed_s = seed(url, args.runs)
        print(f"{args.backend}: {runs:,} runs ready (seeded in {seed_s:.0f} s)", flush=True)
        results = measure(url, bench_key(url), runs, args.requests, args.concurrency)
        section = render(args.backend, runs, seed_s, results, args)
        print(section)
        write_section(args.backend, section)
    finally:
        if args.backend == "postgres" and not args.db_url and not args.keep:
            drop_postgres()


if __name__ == "__main__":
    main()
