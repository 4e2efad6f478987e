"""Load test of the REST API: real uvicorn with several worker processes over a PostgreSQL
database loaded with ``flowruns demo``, driven by concurrent httpx clients for a fixed
time. Reports requests/s, errors and median/p95 latency of the list and the stats.

    python bench/load_bench.py --runs 1000000 --seconds 60 --workers 2 --concurrency 8

The database (``flowruns_load_<runs>`` on FLOWRUNS_TEST_PG_URL's server) is kept between
runs and reloaded only when it does not hold ``--runs`` runs. Writes bench/results/load.md.

tests/reliability imports this module (by path) for its server and load driver, so the
CI's short version and this long one measure the same way.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "load.md"
DEFAULT_PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
API = "/api/v1/flow-runs"
# What a dashboard or a runner's status page asks most: the first page and the KPIs.
TARGETS: dict[str, tuple[str, dict[str, Any]]] = {
    "list": (API + "/", {"limit": 50}),
    "stats": (API + "/stats", {"days": 7}),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class UvicornServer:
    """``uvicorn --factory api.app:create_app`` in a subprocess on a free port over ``url``.

    The child gets a clean environment for FLOWRUNS_* (only the database URL and
    ``env``), so a developer's settings never leak into a measurement."""

    def __init__(self, url: str, *, workers: int = 1, env: Mapping[str, str] | None = None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWRUNS_")}
        child_env.update({"FLOWRUNS_DATABASE_URL": url, **(env or {})})
        command = [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        if workers > 1:
            command += ["--workers", str(workers)]
        self.process = subprocess.Popen(command, cwd=ROOT, env=child_env)
        self._wait_ready(workers)

    def _wait_ready(self, workers: int) -> None:
        """Until /readyz answers 200 (with several workers: that many times in a row,
        so that every worker process has started)."""
        deadline = time.monotonic() + 60
        ready = 0
        while time.monotonic() < deadline and ready < workers * 3:
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {self.process.returncode}")
            try:
                ok = httpx.get(f"{self.base}/readyz", timeout=5).status_code == 200
            except httpx.TransportError:
                ok = False
            ready = ready + 1 if ok else 0
            if not ok:
                time.sleep(0.2)
        if ready < workers * 3:
            self.stop()
            raise RuntimeError("uvicorn did not become ready within 60 s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def running_server(
    url: str, *, workers: int = 1, env: Mapping[str, str] | None = None
) -> Iterator[UvicornServer]:
    server = UvicornServer(url, workers=workers, env=env)
    try:
        yield server
    finally:
        server.stop()


def admin_url() -> str:
    return os.environ.get("FLOWRUNS_TEST_PG_URL", DEFAULT_PG_ADMIN)


def ensure_database(name: str) -> str:
    """URL of database ``name`` on the admin server, created when missing, migrated."""
    from data import migrate

    admin = create_engine(admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            found = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).first()
            if not found:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    url = make_url(admin_url()).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    return url


def drop_database(name: str) -> None:
    admin = create_engine(admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def count_runs(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM flow_run")).scalar_one())
    finally:
        engine.dispose()


def load_demo(url: str, runs: int) -> float:
    """``flowruns demo --runs N`` into an empty database, then VACUUM ANALYZE (the
    steady state autovacuum reaches after a bulk load). Returns the seconds it took."""
    began = time.perf_counter()
    command = [sys.executable, "-m", "data.cli.main", "--database-url", url, "demo"]
    done = subprocess.run(
        [*command, "--runs", str(runs), "--days", "90"], cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"flowruns demo failed ({done.returncode}): {done.stderr[-2000:]}")
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("VACUUM ANALYZE"))
    finally:
        engine.dispose()
    return time.perf_counter() - began


def superuser_key(url: str, username: str = "load-admin") -> str:
    from data.accounts import create_api_key, get_or_create_user
    from data.db import build_engine

    engine = build_engine(url)
    try:
        get_or_create_user(engine, username, superuser=True)
        return create_api_key(engine, username, "load")[0]
    finally:
        engine.dispose()


@dataclass
class TargetResult:
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


@dataclass
class LoadReport:
    seconds: float
    concurrency: int
    targets: dict[str, TargetResult]

    @property
    def requests(self) -> int:
        return sum(len(t.latencies_ms) + len(t.errors) for t in self.targets.values())

    @property
    def errors(self) -> list[str]:
        return [error for t in self.targets.values() for error in t.errors]

    def rows(self) -> list[tuple[str, int, int, float, float, float]]:
        """(target, requests, errors, req/s, median ms, p95 ms)."""
        out = []
        for name, result in self.targets.items():
            done = len(result.latencies_ms)
            out.append(
                (
                    name,
                    done + len(result.errors),
                    len(result.errors),
                    done / self.seconds,
                    result.percentile(0.5) if done else float("nan"),
                    result.percentile(0.95) if done else float("nan"),
                )
            )
        return out


def drive_load(base: str, key: str, seconds: float, concurrency: int) -> LoadReport:
    """``concurrency`` clients, each cycling over TARGETS until ``seconds`` have passed.

    Any answer but 200, and any transport error, is an error (with its status and the
    start of its body, to say what went wrong)."""
    results = {name: TargetResult() for name in TARGETS}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client_loop(offset: int) -> None:
        names = list(TARGETS)
        with httpx.Client(base_url=base, headers={"x-api-key": key}, timeout=60) as client:
            turn = offset
            while time.monotonic() < deadline:
                name = names[turn % len(names)]
                path, params = TARGETS[name]
                turn += 1
                began = time.perf_counter()
                try:
                    response = client.get(path, params=params)
                    error = None if response.status_code == 200 else response.text[:160]
                    error = error and f"{response.status_code} {error}"
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"
                elapsed_ms = (time.perf_counter() - began) * 1000
                with lock:
                    if error:
                        results[name].errors.append(error)
                    else:
                        results[name].latencies_ms.append(elapsed_ms)

    began = time.monotonic()
    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LoadReport(time.monotonic() - began, concurrency, results)


def markdown(report: LoadReport, runs: int, workers: int, seed_seconds: float) -> str:
    seeded = f"loading took {seed_seconds:.0f} s" if seed_seconds else "database reused"
    # Other work on the machine slows every figure: say how busy it was.
    busy = f"load average {os.getloadavg()[1]:.1f} over the last 5 minutes"
    lines = [
        "# Load test of the REST API (bench/load_bench.py)",
        "",
        f"PostgreSQL, {runs:,} runs (`flowruns demo`, 90 days); uvicorn with {workers} worker "
        f"processes; {report.concurrency} concurrent httpx clients for {report.seconds:.0f} s, "
        f"each alternating the two requests; 2 cores shared by server, clients and database. "
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {seeded}; {busy}.",
        "",
        "| request | requests | errors | req/s | median (ms) | p95 (ms) |",
        "|---|---|---|---|---|---|",
    ]
    labels = {"list": "first page, `GET /?limit=50`", "stats": "`GET /stats?days=7`"}
    for name, count, errors, rps, median, p95 in report.rows():
        lines.append(
            f"| {labels[name]} | {count:,} | {errors} | {rps:.1f} | {median:.1f} | {p95:.1f} |"
        )
    lines += ["", f"Total: {report.requests:,} requests, {len(report.errors)} errors."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    name = f"flowruns_load_{args.runs}"
    url = ensure_database(name)
    seed_seconds = 0.0
    present = count_runs(url)
    if present != args.runs:
        if present:
            sys.exit(f"{name} holds {present} runs, not {args.runs}: drop it first")
        seed_seconds = load_demo(url, args.runs)
    key = superuser_key(url)
    with running_server(url, workers=args.workers) as server:
        report = drive_load(server.base, key, args.seconds, args.concurrency)
    text_out = markdown(report, args.runs, args.workers, seed_seconds)
    RESULTS.write_text(text_out)
    print(text_out)
    if report.errors:
        sys.exit(f"{len(report.errors)} errors, first: {report.errors[0]}")


if __name__ == "__main__":
    main()
