"""Read-replica benchmark: how far a real streaming standby trails the primary, and the
overview answered on each. Builds a private primary and a standby (pg_basebackup -R) with
the replica tests' helpers (root and postgresql-common needed; the shared server is never
touched), loads demo runs on the primary while sampling pg_stat_replication, then measures:

- the bulk load's rows/s on the primary and how long after its commit the standby has it all;
- the largest replay lag seen during the load (bytes of WAL and pg_stat_replication.replay_lag);
- for single runs recorded one at a time: the delay until each is readable on the standby;
- the 90-day overview (run_stats + run_timeseries + flow_breakdown) on the primary and on
  the standby through the read-only engine.

    python bench/replica_bench.py --runs 200000

Writes bench/results/replica.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "replica")]

from replicakit import ReplicaPair, free_port  # noqa: E402

from data import queries as q  # noqa: E402
from data.db import get_engine, get_read_engine  # noqa: E402
from data.demo import generate_demo  # noqa: E402
from data.filters import FlowRunFilter  # noqa: E402
from data.recorder import start_run  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SINGLE_RUNS = 50


class LagSampler(threading.Thread):
    """Samples the primary's view of the standby every 0.2 s; keeps the worst lag."""

    def __init__(self, primary_admin_url: str) -> None:
        super().__init__(daemon=True)
        self.engine = create_engine(primary_admin_url, isolation_level="AUTOCOMMIT")
        self.stop_event = threading.Event()
        self.max_bytes = 0
        self.max_seconds = 0.0

    def run(self) -> None:
        sql = text(
            "SELECT pg_wal_lsn_diff(sent_lsn, replay_lsn), "
            "COALESCE(EXTRACT(EPOCH FROM replay_lag), 0) FROM pg_stat_replication"
        )
        with self.engine.connect() as conn:
            while not self.stop_event.wait(0.2):
                for lag_bytes, lag_seconds in conn.execute(sql):
                    self.max_bytes = max(self.max_bytes, int(lag_bytes or 0))
                    self.max_seconds = max(self.max_seconds, float(lag_seconds or 0))

    def stop(self) -> None:
        self.stop_event.set()
        self.join()
        self.engine.dispose()


def count_runs(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM flow_run")).scalar_one())


def visible(engine: Engine, run_id: object) -> bool:
    with engine.connect() as conn:
        found = conn.execute(text("SELECT 1 FROM flow_run WHERE id = :id"), {"id": run_id})
        return found.first() is not None


def single_run_delays_ms(primary: Engine, standby: Engine) -> list[float]:
    with primary.connect() as conn:
        flow_id = conn.execute(text("SELECT id FROM flow LIMIT 1")).scalar_one()
    delays = []
    for _ in range(SINGLE_RUNS):
        run_id = start_run(primary, flow_id)
        committed = time.perf_counter()
        while not visible(standby, run_id):
            time.sleep(0.001)
        delays.append((time.perf_counter() - committed) * 1000)
    return delays


def overview_ms(engine: Engine, repeats: int = 3) -> float:
    # Whole hours, as the dashboard's presets: the rollup can answer them.
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    flt = FlowRunFilter(started_after=end - timedelta(days=90), started_before=end)
    times = []
    for _ in range(repeats + 1):  # the first one warms the cache
        start = time.perf_counter()
        q.run_stats(engine, flt)
        q.run_timeseries(engine, flt)
        q.flow_breakdown(engine, flt)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times[1:])


def measure(pair: ReplicaPair, runs: int) -> dict[str, float]:
    pair.create_primary()
    primary_url = pair.primary.new_database()
    pair.create_standby()
    pair.wait_streaming()
    standby_url = pair.standby.url(str(make_url(primary_url).database))
    primary, standby = get_engine(primary_url), get_read_engine(standby_url)
    sampler = LagSampler(pair.primary.url())
    sampler.start()
    start = time.perf_counter()
    generate_demo(primary, runs, days=90, seed=1)
    loaded = time.perf_counter()
    while count_runs(standby) < runs:
        time.sleep(0.01)
    caught_up = time.perf_counter()
    sampler.stop()
    delays = sorted(single_run_delays_ms(primary, standby))
    return {
        "load_s": loaded - start,
        "catch_up_s": caught_up - loaded,
        "max_lag_mb": sampler.max_bytes / 1e6,
        "max_lag_s": sampler.max_seconds,
        "single_median_ms": statistics.median(delays),
        "single_p95_ms": delays[int(0.95 * (len(delays) - 1))],
        "single_max_ms": delays[-1],
        "overview_primary_ms": overview_ms(primary),
        "overview_standby_ms": overview_ms(standby),
    }


def report(runs: int, m: dict[str, float]) -> str:
    load = os.getloadavg()[0]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            "# Read replica (bench/replica_bench.py)",
            "",
            f"A private PostgreSQL primary and a hot standby made with `pg_basebackup -R` on the "
            f"same 2-core machine; {runs:,} demo runs loaded on the primary while the standby "
            f"streamed. Measured {stamp}; load average {load:.1f}.",
            "",
            "| measure | value |",
            "|---|---|",
            f"| bulk load on the primary | {m['load_s']:.1f} s "
            f"({runs / m['load_s']:,.0f} rows/s) |",
            f"| standby has every row, after the load committed | {m['catch_up_s']:.2f} s |",
            f"| largest replay lag seen during the load | {m['max_lag_mb']:.1f} MB of WAL, "
            f"{m['max_lag_s']:.2f} s |",
            f"| one run recorded, readable on the standby after: median / p95 / max "
            f"({SINGLE_RUNS} runs) | {m['single_median_ms']:.1f} / {m['single_p95_ms']:.1f} / "
            f"{m['single_max_ms']:.1f} ms |",
            f"| 90-day overview on the primary (median of 3, warm) | "
            f"{m['overview_primary_ms']:.0f} ms |",
            f"| the same on the standby, read-only engine | {m['overview_standby_ms']:.0f} ms |",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200_000)
    args = parser.parse_args()
    pair = ReplicaPair(free_port(), free_port())
    try:
        measured = measure(pair, args.runs)
    finally:
        pair.drop()
    text_out = report(args.runs, measured)
    (RESULTS / "replica.md").write_text(text_out)
    print(text_out)


if __name__ == "__main__":
    main()
