"""Langflow sync benchmark (issue 17): first sync, incremental cost, follow-mode lag.

    python -m bench.sync_bench --traces 100000 --backend sqlite
    python -m bench.sync_bench --traces 1000000 --backend postgresql

Builds a Langflow 1.13 source from the real fixture's schema (bench/sync_source.py), fills
it in SQL with N traces of 3 spans, and measures, against a baseline in the same run:

1. the first ``sync_once`` of all N traces into a fresh database of ours, in traces/s,
   against a plain ``INSERT ... SELECT`` of the same trace and span rows into unindexed
   tables of the same backend (the floor for moving those bytes);
2. one incremental ``sync_once`` of 100 new traces (median of 5) at 10k and at N synced;
3. follow mode: a writer process inserts runs like Langflow (one transaction per run) at
   50 runs/s for 20 s while ``flowruns sync langflow --follow --interval 0.5`` runs in
   another; lag = when a poll first finds the run in our ``flow_run`` minus when Langflow
   committed it.

Scratch databases (SQLite files in a temporary folder, or PostgreSQL databases
``bench_sync_*``) are created and dropped by the bench. Writes
bench/results/sync_<backend>_<N>.md and prints it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, func, select

from bench import sync_source as src
from data import migrate
from data.db import build_engine
from data.langflow.source import Source, open_source
from data.langflow.sync import sync_once
from data.models import FlowRun

RESULTS = Path(__file__).resolve().parent / "results"
TARGET = {"sqlite": 10_000, "postgresql": 20_000}  # traces/s, first sync at 1M
NEW_TRACES = 100
REPEATS = 5


class Pair:
    """A generated Langflow source and a fresh database of ours, dropped on close."""

    def __init__(self, backend: str, traces: int, folder: Path, tag: str) -> None:
        self.backend, self.names = backend, (f"bench_sync_src_{tag}", f"bench_sync_ours_{tag}")
        self.source_url = src.build_source(backend, self.names[0], folder)
        self.fill_s = src.fill(self.source_url, traces)
        self.ours_url = src.scratch_url(backend, self.names[1], folder)
        migrate.upgrade(self.ours_url)
        self.ours = build_engine(self.ours_url)
        self.source: Source = open_source(self.source_url, self.ours)
        self.added = 0

    def add(self, count: int) -> None:
        """``count`` new traces, ending now, in one transaction (batch 1)."""
        engine = src.writer_engine(self.source_url)
        with engine.begin() as conn:
            src.add_traces(conn, 1, self.added, count, time.time() - count - 1, 1.0)
        engine.dispose()
        self.added += count

    def close(self) -> None:
        self.source.engine.dispose()
        self.ours.dispose()
        for name in self.names:
            src.drop_database(self.backend, name)


def timed(work: object) -> float:
    started = time.perf_counter()
    work()  # type: ignore[operator]
    return time.perf_counter() - started


def incremental(pair: Pair) -> tuple[float, list[float]]:
    """Median seconds of one sync_once after 100 new traces (and every sample)."""
    samples = []
    for _ in range(REPEATS):
        pair.add(NEW_TRACES)
        samples.append(timed(lambda: sync_once(pair.ours, pair.source)))
    return statistics.median(samples), samples


def runs_held(engine: Engine, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    with engine.connect() as conn:
        return set(conn.execute(select(FlowRun.id).where(FlowRun.id.in_(ids))).scalars())


def follow_lag(pair: Pair, folder: Path, rate: float, seconds: float) -> dict[str, float]:
    """Lag of each run written by a Langflow-like writer at ``rate`` runs/s while
    ``flowruns sync langflow --follow --interval 0.5`` runs in its own process: from the
    writer's commit to the first poll (every 0.1 s) that finds the run in our flow_run."""
    out = folder / "commits.txt"
    command = [sys.executable, "-m", "data.cli.main", "--database-url", pair.ours_url]
    command += ["sync", "langflow", "--source", pair.source_url, "--follow", "--interval", "0.5"]
    sync = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    writer = multiprocessing.get_context("spawn").Process(
        target=src.write_like_langflow, args=(pair.source_url, rate, seconds, 2, out)
    )
    expected = [uuid.UUID(f"{32:08x}{n:024x}") for n in range(int(rate * seconds))]
    seen: dict[uuid.UUID, float] = {}
    writer.start()
    deadline = time.time() + seconds + 60
    while time.time() < deadline and len(seen) < len(expected):
        waiting = [i for i in expected if i not in seen]
        found = runs_held(pair.ours, waiting)
        now = time.time()
        seen.update(dict.fromkeys(found, now))
        time.sleep(0.1)
    writer.join()
    sync.send_signal(signal.SIGTERM)  # the CLI ends its pass and exits 0
    _, errors = sync.communicate(timeout=60)
    if sync.returncode:
        raise SystemExit(f"flowruns sync --follow failed ({sync.returncode}): {errors}")
    committed = {
        uuid.UUID(line.split()[0]): float(line.split()[1])
        for line in out.read_text().splitlines()
        if line
    }
    lags = sorted(seen[i] - committed[i] for i in committed if i in seen)
    q = statistics.quantiles(lags, n=100) if len(lags) > 1 else [0.0] * 99
    return {
        "runs": len(committed),
        "missing": len(committed) - len(lags),
        "p50": q[49],
        "p95": q[94],
        "max": lags[-1] if lags else 0.0,
        "span": max(committed.values()) - min(committed.values()) if committed else 0.0,
    }


def measure(backend: str, traces: int, folder: Path, args: argparse.Namespace) -> list[str]:
    small = Pair(backend, args.small, folder, "small")
    try:
        small_first = timed(lambda: sync_once(small.ours, small.source))
        small_inc, small_samples = incremental(small)
    finally:
        small.close()
    big = Pair(backend, traces, folder, "big")
    try:
        base_s, base_rows = src.copy_baseline(big.source_url, folder)
        first_s = timed(lambda: sync_once(big.ours, big.source))
        with big.ours.connect() as conn:
            held = conn.execute(select(func.count()).select_from(FlowRun)).scalar_one()
        big_inc, big_samples = incremental(big)
        lag = follow_lag(big, folder, args.rate, args.seconds) if args.seconds else None
    finally:
        big.close()
    total = traces + 14  # the fixture's own 14 traces are synced too
    rate = total / first_s
    target = TARGET[backend]
    lines = [
        f"### {backend}, {traces:,} generated traces ({3 * traces:,} spans)",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average at the end"
        f" {os.getloadavg()[0]:.1f} (2 shared cores). Source filled in SQL in"
        f" {big.fill_s:.1f} s; {held:,} runs synced.",
        "",
        "| measure | sync | baseline (same run) | ratio |",
        "|---|---|---|---|",
        f"| first sync of {total:,} traces | {first_s:.1f} s = **{rate:,.0f} traces/s**"
        f" (target {target:,}: {'met' if rate >= target else 'missed'})"
        f" | INSERT ... SELECT of {base_rows:,} trace + span rows: {base_s:.1f} s"
        f" = {total / base_s:,.0f} traces/s | sync takes {first_s / base_s:.1f}x the copy |",
        f"| incremental sync of 100 new traces | {big_inc * 1000:,.0f} ms at {total:,} synced"
        f" | {small_inc * 1000:,.0f} ms at {args.small + 14:,} synced"
        f" | {big_inc / small_inc:.2f} |",
        "",
        f"- first sync at {args.small + 14:,}: {small_first:.2f} s"
        f" ({(args.small + 14) / small_first:,.0f} traces/s)",
        f"- incremental samples, ms: at {args.small + 14:,} "
        + ", ".join(f"{s * 1000:.0f}" for s in small_samples)
        + f"; at {total:,} "
        + ", ".join(f"{s * 1000:.0f}" for s in big_samples),
    ]
    if lag:
        lines.append(
            f"- follow mode: {lag['runs']:,} runs written one transaction each (asked"
            f" {args.rate:g}/s for {args.seconds:g} s; committed over {lag['span']:.1f} s),"
            " `flowruns sync langflow --follow --interval 0.5` in its own process, our"
            f" flow_run polled every 0.1 s: lag p50 **{lag['p50']:.2f} s**, p95"
            f" **{lag['p95']:.2f} s** (target 2 s: {'met' if lag['p95'] <= 2 else 'missed'}),"
            f" max {lag['max']:.2f} s; {lag['missing']} not seen"
        )
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--small", type=int, default=10_000, help="the incremental's 10k")
    parser.add_argument("--rate", type=float, default=50.0, help="follow mode: runs/s")
    parser.add_argument("--seconds", type=float, default=20.0, help="follow mode; 0: skip")
    parser.add_argument("--out", type=Path, help="default bench/results/sync_<backend>_<N>.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        report = "\n".join(measure(args.backend, args.traces, Path(folder), args))
    print(report)
    out = args.out or RESULTS / f"sync_{args.backend}_{args.traces}.md"
    out.write_text(report)


if __name__ == "__main__":
    main()
