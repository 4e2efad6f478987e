"""The runs list: newest 50 with a status or flow filter at any depth (keyset cursor), and
the first page with its total (``X-Total-Count``), ours against the statements before
this change (kept below as the baseline), interleaved in the same run.

    python -m bench.list_bench --backend postgres --runs 5000000

Datasets are bench/run.py's cache (demo loader, seed 42). Depths are cursors at points
spread over the 90 days of runs ("runs older than t"), so any depth costs one cursor.
Appends a table to bench/results/list.md.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from bench import export_bench, run
from bench.data_bench import NOW
from bench.scenarios import busiest_flow
from data import queries as q
from data.db import build_engine
from data.filters import FlowRunFilter
from data.models import FlowRun
from data.queries.cursors import decode_cursor, encode_cursor
from data.queries.listing import _base_select, after_cursor, count_statement, to_record
from data.statuses import status_values

PAGE = 50
DEPTHS = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99)  # fraction of the 90 days behind the cursor
SLOW_S = 0.5  # a baseline call slower than this is sampled once per depth
VERY_SLOW_S = 5.0
LAST_ID = uuid.UUID(int=2**128 - 1)


def baseline_page(engine: Engine, flt: FlowRunFilter, cursor: str | None) -> int:
    """The page statement before this change: one walk in started_at order, filtered."""
    query = _base_select(flt, False)
    if cursor:
        key, run_id = decode_cursor(cursor, "started_at", "desc")
        query = query.where(after_cursor(FlowRun.started_at, "desc", key, run_id))
    query = query.order_by(FlowRun.started_at.desc(), FlowRun.id.desc()).limit(PAGE + 1)
    with engine.connect() as conn:
        return len([to_record(row) for row in conn.execute(query).mappings()])  # as ours does


def baseline_count(engine: Engine, flt: FlowRunFilter) -> int:
    with engine.connect() as conn:
        return int(conn.execute(count_statement(flt)).scalar_one())


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def depth_cursor(fraction: float) -> str | None:
    if fraction == 0:
        return None
    return encode_cursor("started_at", "desc", NOW - timedelta(days=90 * fraction), LAST_ID)


def percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * len(ordered)))]


def sample_pair(
    ours: Callable[[], object], old: Callable[[], object] | None, repeats: int
) -> tuple[list[float], list[float]]:
    """Interleaved samples of ours and the baseline (each warmed once; ``old`` None:
    the baseline is not sampled at this depth)."""
    ours()
    first_old = timed(old) if old else None
    mine = [timed(ours) for _ in range(repeats)]
    if old is None or first_old is None:
        return mine, []
    theirs = [first_old] if first_old > SLOW_S else [timed(old) for _ in range(repeats)]
    return mine, theirs


def filters(engine: Engine) -> dict[str, FlowRunFilter]:
    busiest = busiest_flow(engine)
    flows = [f for f, _ in q.list_flows(engine)]
    other = next(f for f in flows if f != busiest)
    found = {f"status {s}": FlowRunFilter(statuses=(s,)) for s in status_values(engine)}
    found["one flow"] = FlowRunFilter(flow_ids=(busiest,))
    found["two flows"] = FlowRunFilter(flow_ids=(busiest, other))
    return found


def first_page_with_total(engine: Engine, flt: FlowRunFilter) -> None:
    q.list_runs(engine, flt, limit=PAGE)
    q.count_runs(engine, flt)


def baseline_first_page_with_total(engine: Engine, flt: FlowRunFilter) -> None:
    baseline_page(engine, flt, None)
    baseline_count(engine, flt)


def measure(engine: Engine, repeats: int) -> list[dict[str, Any]]:
    rows = []
    for name, flt in filters(engine).items():
        mine: list[float] = []
        theirs: list[float] = []
        for fraction in DEPTHS:
            cursor = depth_cursor(fraction)
            ours = partial(q.list_runs, engine, flt, limit=PAGE, cursor=cursor)
            # A baseline past VERY_SLOW_S once is not sampled deeper (its p95 is then a floor).
            too_slow = max(theirs, default=0) > VERY_SLOW_S
            old = None if too_slow else partial(baseline_page, engine, flt, cursor)
            got = sample_pair(ours, old, repeats)
            mine += got[0]
            theirs += got[1]
        rows.append({"case": f"newest 50, {name}, 7 depths", "ours": mine, "baseline": theirs})
        got = sample_pair(
            partial(first_page_with_total, engine, flt),
            partial(baseline_first_page_with_total, engine, flt),
            repeats,
        )
        rows.append({"case": f"first page + total, {name}", "ours": got[0], "baseline": got[1]})
    return rows


def render(backend: str, runs: int, rows: list[dict[str, Any]]) -> str:
    load = Path("/proc/loadavg").read_text().split()[0]
    lines = [
        f"\n### {backend}, {runs:,} runs (load average {load} on 2 cores)\n",
        "| case | ours p50 ms | ours p95 ms | baseline p50 ms | baseline p95 ms | n |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        ours, old = percentiles(row["ours"]), percentiles(row["baseline"])
        lines.append(
            f"| {row['case']} | {ours[0] * 1000:.1f} | {ours[1] * 1000:.1f} "
            f"| {old[0] * 1000:.1f} | {old[1] * 1000:.1f} | {len(row['ours'])} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=run.ROOT / "var" / "bench")
    parser.add_argument("--out", type=Path, default=run.ROOT / "bench" / "results" / "list.md")
    parser.add_argument("--pg-admin-url", default=export_bench.PG_ADMIN)
    args = parser.parse_args()
    url, _ = run.dataset(args.backend, args.runs, args.cache, args.pg_admin_url)
    engine = build_engine(url)
    text = render(args.backend, args.runs, measure(engine, args.repeats))
    engine.dispose()
    print(text)
    with args.out.open("a") as out:
        out.write(text)


if __name__ == "__main__":
    main()
