"""Scenario bodies of ``bench/run.py``. Each runs in its own process, so its peak RSS
(VmHWM) is its own:

    python -m bench.scenarios NAME URL '{"approach": "ours", ...}'

prints one JSON line: ``{"samples": [seconds, ...], "peak_mb": ..., ...}``.
Approaches: ``ours`` (the current code), ``exact`` (ours on raw rows, no rollup),
``pandas`` (load every row into pandas), ``orm`` (the original: ORM rows aggregated in
Python), ``offset`` (OFFSET paging), ``one_by_one`` (a DELETE per row).
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from bench.data_bench import NOW, naive_approach, peak_rss_mb, window
from data import queries as q
from data.db import build_engine
from data.deletion import count_where, delete_where
from data.filters import FlowRunFilter
from data.models import FlowRun
from data.queries.cursors import encode_cursor
from data.signature import message_signature

PAGE = 50
RETENTION_CUTOFF = NOW - timedelta(days=30)  # the demo spans 90 days: 2/3 of the rows


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def samples(work: Callable[[], object], repeats: int, warm: bool) -> list[float]:
    """Ours is measured warm (connection, plan and page caches); a baseline that reads
    every row once is measured cold, once: it would not be cached in real use either."""
    if warm:
        work()
    return [timed(work) for _ in range(repeats)]


def busiest_flow(engine: Engine) -> uuid.UUID:
    flows = q.flow_breakdown(engine, window(90))
    return uuid.UUID(str(flows.sort_values("runs", ascending=False)["flow_id"].iloc[0]))


def scenario_filter(engine: Engine, days: int, narrow: str) -> FlowRunFilter:
    flt = window(days)
    if narrow == "status":
        return flt.replace(statuses=("failure",))
    if narrow == "flow":
        return flt.replace(flow_ids=(busiest_flow(engine),))
    return flt


# ---- the original approach: ORM rows aggregated in Python --------------------------------


def orm_rows(engine: Engine, flt: FlowRunFilter) -> list[FlowRun]:
    with Session(engine) as session:
        return list(session.scalars(select(FlowRun).where(flt.where())))


def python_percentiles(durations: list[int]) -> list[float]:
    return statistics.quantiles(durations, n=100) if len(durations) > 1 else []


def orm_overview(engine: Engine, flt: FlowRunFilter) -> None:
    runs = orm_rows(engine, flt)
    Counter(r.status for r in runs), Counter(r.trigger_type for r in runs)
    python_percentiles([r.duration_ms for r in runs if r.duration_ms is not None])
    orm_flow_table(runs)
    by_day: dict[Any, list[FlowRun]] = defaultdict(list)
    for run in runs:
        by_day[run.started_at.date()].append(run)
    for day_runs in by_day.values():
        Counter(r.status for r in day_runs)
        python_percentiles([r.duration_ms for r in day_runs if r.duration_ms is not None])


def orm_flow_table(runs: list[FlowRun]) -> None:
    by_flow: dict[uuid.UUID, list[FlowRun]] = defaultdict(list)
    for run in runs:
        by_flow[run.flow_id].append(run)
    for flow_runs in by_flow.values():
        Counter(r.status for r in flow_runs), max(r.started_at for r in flow_runs)
        python_percentiles([r.duration_ms for r in flow_runs if r.duration_ms is not None])


def orm_error_groups(engine: Engine, flt: FlowRunFilter) -> None:
    runs = orm_rows(engine, flt.replace(statuses=("failure",)))
    Counter((r.error_type, message_signature(r.error_message)) for r in runs).most_common()


# ---- scenarios ---------------------------------------------------------------------------


def overview(engine: Engine, url: str, p: dict[str, Any]) -> dict[str, Any]:
    """run_stats + run_timeseries + flow_breakdown: the overview page's data."""
    flt = scenario_filter(engine, p["days"], p["narrow"])
    approach = p["approach"]
    if approach == "pandas":
        return {"samples": samples(lambda: naive_approach(url, p["days"]), 1, False)}
    if approach == "orm":
        return {"samples": samples(lambda: orm_overview(engine, flt), 1, False)}
    exact = True if approach == "exact" else None
    parts: dict[str, Callable[[], object]] = {
        "stats": lambda: q.run_stats(engine, flt, exact=exact),
        "series": lambda: q.run_timeseries(engine, flt, exact=exact),
        "flows": lambda: q.flow_breakdown(engine, flt, exact=exact),
    }
    # Each part timed on its own: the profile that says which one a goal waits for.
    times = {name: samples(part, p["repeats"], True) for name, part in parts.items()}
    totals = [sum(run) for run in zip(*times.values(), strict=True)]
    return {
        "samples": totals,
        "parts_ms": {k: statistics.median(v) * 1000 for k, v in times.items()},
    }


def flows(engine: Engine, url: str, p: dict[str, Any]) -> dict[str, Any]:
    flt = window(p.get("days", 90))
    if p["approach"] == "orm":
        return {"samples": samples(lambda: orm_flow_table(orm_rows(engine, flt)), 1, False)}
    return {"samples": samples(lambda: q.flow_breakdown(engine, flt), p["repeats"], True)}


def errors(engine: Engine, url: str, p: dict[str, Any]) -> dict[str, Any]:
    flt = window(p.get("days", 90))
    if p["approach"] == "orm":
        return {"samples": samples(lambda: orm_error_groups(engine, flt), 1, False)}
    return {"samples": samples(lambda: q.error_breakdown(engine, flt), p["repeats"], True)}


def cursor_before(engine: Engine, flt: FlowRunFilter, offset: int) -> str | None:
    """The keyset cursor a client holds after reading ``offset`` rows (None at 0)."""
    if offset == 0:
        return None
    last = q.list_runs(engine, flt, limit=1, offset=offset - 1).runs[0]
    return encode_cursor("started_at", "desc", last.started_at, last.id)


def page_at(engine: Engine, flt: FlowRunFilter, offset: int, approach: str) -> Callable[[], Any]:
    if approach == "offset":
        return lambda: q.list_runs(engine, flt, limit=PAGE, offset=offset)
    cursor = cursor_before(engine, flt, offset)
    return lambda: q.list_runs(engine, flt, limit=PAGE, cursor=cursor)


def paging(engine: Engine, url: str, p: dict[str, Any]) -> dict[str, Any]:
    """One page of 50 at ``offset`` rows deep; ``with_total`` adds the X-Total-Count."""
    flt = FlowRunFilter()
    page = page_at(engine, flt, p["offset"], p["approach"])
    if p.get("with_total"):
        return {"samples": samples(lambda: (page(), q.count_runs(engine, flt)), p["repeats"], True)}
    return {"samples": samples(page, p["repeats"], True)}


def filtered_depths(engine: Engine, url: str, p: dict[str, Any]) -> dict[str, Any]:
    """Newest 50 with a status or flow filter at depths spread over every page of it:
    the samples give the p95 "at any depth"."""
    flt = scenario_filter(engine, 90, p["narrow"]).replace(started_after=None)
    matching = q.count_runs(engine, flt)
    last_page = max(0, (matching - 1) // PAGE)
    depths = sorted({round(last_page * f) * PAGE for f in (0, 0.1, 0.25, 0.5, 0.75, 0.9, 1)})
    times: list[float] = []
    for offset in depths:
        times += samples(page_at(engine, flt, offset, p["approach"]), p["repeats"], True)
    return {"samples": times, "matching": matching, "deepest_page": last_page + 1}


class Watch:
    """Readers and a writer running beside a delete; their worst wait is the answer."""

    def __init__(self, engine: Engine, flow_id: uuid.UUID):
        self.engine, self.flow_id = engine, flow_id
        self.stop = threading.Event()
        self.waits: dict[str, list[float]] = {"reader": [], "writer": []}
        self.failures: list[str] = []
        self.threads = [threading.Thread(target=self.loop, args=(k,)) for k in self.waits]

    def read(self) -> None:
        q.list_runs(self.engine, FlowRunFilter(statuses=("failure",)), limit=PAGE)
        q.run_stats(self.engine, window(7))

    def write(self) -> None:
        with Session(self.engine) as session, session.begin():
            session.add(
                FlowRun(flow_id=self.flow_id, status="success", started_at=NOW, duration_ms=5)
            )

    def loop(self, kind: str) -> None:
        work = self.read if kind == "reader" else self.write
        while not self.stop.is_set():
            try:
                self.waits[kind].append(timed(work))
            except Exception as exc:  # a failed read or write is a result, not a crash
                self.failures.append(f"{kind}: {type(exc).__name__}: {exc}"[:200])
            time.sleep(0.05)

    def __enter__(self) -> Watch:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()


def delete_one_by_one(engine: Engine, budget_s: float) -> int:
    """The original's bulk delete: one DELETE per run (committed per 1,000 here, which
    only flatters it), stopped after ``budget_s``."""
    deadline, deleted = time.perf_counter() + budget_s, 0
    while time.perf_counter() < deadline:
        with engine.begin() as conn:
            ids = conn.scalars(
                select(FlowRun.id).where(FlowRun.started_at < RETENTION_CUTOFF).limit(1000)
            ).all()
            if not ids:
                break
            for run_id in ids:
                conn.execute(delete(FlowRun).where(FlowRun.id == run_id))
        deleted += len(ids)
    return deleted


def retention(engine: Engine, url: str, p: dict[str, Any]) -> dict[str, Any]:
    """Delete the runs older than 30 days (2/3 of the demo) while readers and a writer run."""
    doomed = FlowRun.started_at < RETENTION_CUTOFF
    matching = count_where(engine, doomed)
    flow_id = busiest_flow(engine)
    with Watch(engine, flow_id) as watch:
        started = time.perf_counter()
        if p["approach"] == "one_by_one":
            deleted = delete_one_by_one(engine, p["budget_s"])
        else:
            deleted = delete_where(engine, doomed)
        seconds = time.perf_counter() - started
    return {
        "samples": [seconds],
        "rows": deleted,
        "matching": matching,
        "rows_per_s": deleted / seconds,
        "reader_worst_s": max(watch.waits["reader"], default=float("nan")),
        "writer_worst_s": max(watch.waits["writer"], default=float("nan")),
        "reads": len(watch.waits["reader"]),
        "writes": len(watch.waits["writer"]),
        "failures": watch.failures[:3],
    }


SCENARIOS = {
    "overview": overview,
    "flows": flows,
    "errors": errors,
    "paging": paging,
    "filtered_depths": filtered_depths,
    "retention": retention,
}


def run_scenario(name: str, url: str, params: dict[str, Any]) -> dict[str, Any]:
    engine = build_engine(url)
    result = SCENARIOS[name](engine, url, params)
    engine.dispose()
    return {**result, "peak_mb": peak_rss_mb()}


def main() -> None:
    print(json.dumps(run_scenario(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))))


if __name__ == "__main__":
    main()
