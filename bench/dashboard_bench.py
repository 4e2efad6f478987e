"""Dashboard benchmark: per-page data time (cold vs warm cache) and the peak memory of
a process rendering every page, against the naive approach (every row into pandas,
then filter and aggregate), measured in the same run on the same database.

    python bench/dashboard_bench.py --runs 1000000            # SQLite and PostgreSQL
    python bench/dashboard_bench.py --runs 100000 --backends sqlite
    python bench/dashboard_bench.py --database-url URL --no-naive --out FILE  # as it is

Page data = the same ``dashboard.data_access`` calls the page scripts make (through
``st.cache_data``, so the second call is the warm cache). Peak memory: every page is
rendered with Streamlit's AppTest in a fresh subprocess (ru_maxrss); the naive approach
runs in its own subprocess too. The PostgreSQL database is created and dropped here.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PG_DB = "flowruns_bench_dash"
RANGES = ("7d", "90d")


def _peak_mb() -> float:
    """This process' peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss over from
    the parent across fork+exec, which would report the orchestrator's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _use(url: str) -> None:
    os.environ["FLOWRUNS_DATABASE_URL"] = url
    os.environ["FLOWRUNS_CACHE_TTL_SECONDS"] = "3600"
    from data.settings import get_settings

    get_settings.cache_clear()


def page_calls(range_: str) -> dict[str, Callable[[], Any]]:
    """What each page script asks ``data_access`` for (the frame's calls included)."""
    from dashboard import data_access as da
    from dashboard.state.filters import FilterState, filter_for
    from data.filters import FlowRunFilter

    flt = filter_for(FilterState(range=range_))
    failures = flt.replace(statuses=("failure",))
    return {
        "frame (sidebar, demo label, empty check)": lambda: (
            da.list_flows(),
            da.is_demo(),
            da.count_runs(FlowRunFilter()),
        ),
        "Overview": lambda: (da.run_stats(flt), da.run_timeseries(flt, "UTC")),
        "History (count + first page)": lambda: (
            da.count_runs(flt),
            da.list_runs(flt, sort="started_at", direction="desc", limit=50, cursor=None),
        ),
        "Flows": lambda: (da.flow_breakdown(flt), da.count_timeseries(flt, "flow_id", "UTC")),
        "Errors": lambda: (
            da.error_breakdown(flt),
            da.count_timeseries(failures, "error_type", "UTC"),
        ),
        "Retention": lambda: da.list_flows(),
    }


def time_pages(url: str, range_: str) -> dict[str, dict[str, float]]:
    import streamlit as st

    _use(url)
    st.cache_data.clear()
    timings: dict[str, dict[str, float]] = {}
    for name, call in page_calls(range_).items():
        start = time.perf_counter()
        call()
        cold = time.perf_counter() - start
        start = time.perf_counter()
        call()
        timings[name] = {"cold": cold, "warm": time.perf_counter() - start}
    return timings


def render_all_pages(url: str, range_: str) -> dict[str, float]:
    """Child process: AppTest renders every page; returns its own peak RSS."""
    _use(url)
    from streamlit.testing.v1 import AppTest

    start = time.perf_counter()
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=600)
    at.query_params["range"] = range_
    at.run()
    for page in ("history", "flows", "errors", "retention"):
        at.switch_page(f"views/{page}.py").run()
        if at.exception or at.error:
            raise RuntimeError(f"{page}: {[e.value for e in [*at.exception, *at.error]]}")
    return {"seconds": time.perf_counter() - start, "peak_mb": _peak_mb()}


def naive(url: str, range_: str) -> dict[str, float]:
    """Child process: what the original did, for the same pages' numbers."""
    from datetime import UTC, datetime

    import pandas as pd
    from sqlalchemy import text

    from dashboard.state.filters import FilterState, time_bounds
    from data.db import build_engine
    from data.signature import message_signature

    start = time.perf_counter()
    engine = build_engine(url)
    runs = pd.read_sql(text("SELECT * FROM flow_run"), engine)
    flows = pd.read_sql(text("SELECT id, name FROM flow"), engine)
    runs["started_at"] = pd.to_datetime(runs["started_at"], utc=True, format="mixed")
    loaded = time.perf_counter()
    after, before = time_bounds(FilterState(range=range_), datetime.now(UTC))
    current = runs[(runs.started_at >= after) & (runs.started_at < before)]
    previous = runs[(runs.started_at >= after - (before - after)) & (runs.started_at < after)]
    for part in (current, previous):  # Overview KPIs
        part.status.value_counts(), part.trigger_type.value_counts()
        part.duration_ms.quantile([0.5, 0.95, 0.99])
    day = current.started_at.dt.floor("D")  # Overview charts
    current.groupby([day, "status"]).size()
    current.groupby(day).duration_ms.quantile([0.5, 0.95])
    current.sort_values("started_at", ascending=False).head(50).merge(  # History
        flows, left_on="flow_id", right_on="id", how="left"
    )
    by_flow = current.groupby("flow_id")  # Flows
    by_flow.size(), by_flow.duration_ms.quantile([0.5, 0.95]), by_flow.started_at.max()
    current.groupby(["flow_id", day]).size()
    failed = current[current.status == "failure"]  # Errors
    signature = failed.error_message.fillna("").map(message_signature)
    failed.groupby([failed.error_type, signature]).agg(n=("id", "size"))
    done = time.perf_counter()
    return {"load": loaded - start, "compute": done - loaded, "peak_mb": _peak_mb()}


def idle() -> dict[str, float]:
    """Child process: imports only (the floor every Streamlit process pays)."""
    import streamlit.testing.v1  # noqa: F401

    import dashboard.data_access  # noqa: F401

    return {"peak_mb": _peak_mb()}


def in_child(mode: str, *args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def prepare(url: str, runs: int) -> None:
    from data import migrate
    from data import queries as q
    from data.db import build_engine
    from data.demo import generate_demo
    from data.filters import FlowRunFilter

    migrate.upgrade(url)
    engine = build_engine(url)
    if q.count_runs(engine, FlowRunFilter()) != runs:
        if q.count_runs(engine, FlowRunFilter()):
            raise SystemExit(f"{url}: has a different number of runs; remove it first")
        print(f"seeding {runs:,} runs ...", file=sys.stderr)
        generate_demo(engine, runs)
    engine.dispose()


def pg_database(admin_url: str, create: bool) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": PG_DB})
        if create and exists.first() is None:
            conn.execute(text(f'CREATE DATABASE "{PG_DB}"'))
        if not create:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
    admin.dispose()
    return make_url(admin_url).set(database=PG_DB).render_as_string(hide_password=False)


def count_all(url: str) -> int:
    from data import queries as q
    from data.db import build_engine
    from data.filters import FlowRunFilter

    engine = build_engine(url)
    try:
        return q.count_runs(engine, FlowRunFilter(), exact=True)
    finally:
        engine.dispose()


# What a baseline that never ran shows: no time, no memory.
SKIPPED = {"load": float("nan"), "compute": float("nan"), "peak_mb": float("nan")}


def bench_backend(name: str, url: str, runs: int | None, with_naive: bool = True) -> list[str]:
    """``runs=None``: measure the database at ``url`` as it is (no seeding)."""
    if runs is None:
        runs = count_all(url)
    else:
        prepare(url, runs)
    floor = in_child("idle")["peak_mb"]
    lines = [f"### {name}, {runs:,} runs", ""]
    for range_ in RANGES:
        pages = time_pages(url, range_)
        render = in_child("render", url, range_)
        base = in_child("naive", url, range_) if with_naive else SKIPPED
        cold = sum(t["cold"] for t in pages.values())
        warm = sum(t["warm"] for t in pages.values())
        naive_total = base["load"] + base["compute"]
        lines += [
            f"**Range: last {range_}** (the sidebar preset)",
            "",
            "| page | cold cache (s) | warm cache (ms) |",
            "|---|---|---|",
            *(f"| {p} | {t['cold']:.3f} | {t['warm'] * 1000:.2f} |" for p, t in pages.items()),
            f"| **all pages** | **{cold:.2f}** | **{warm * 1000:.1f}** |",
            "",
            "| approach | time (s) | peak RSS (MB) |",
            "|---|---|---|",
            f"| dashboard data, every page, cold cache | {cold:.2f} | - |",
            f"| AppTest renders every page (process) | {render['seconds']:.2f} | "
            f"{render['peak_mb']:.0f} |",
            *(
                [
                    f"| naive: all rows into pandas ({base['load']:.1f} s load) + aggregate "
                    f"({base['compute']:.1f} s) | {naive_total:.2f} | {base['peak_mb']:.0f} |"
                ]
                if with_naive
                else []
            ),
            f"| process floor (imports only) | - | {floor:.0f} |",
            "",
            (
                f"Naive / dashboard: **{naive_total / cold:.1f}x** the time (cold cache), "
                f"**{naive_total / max(warm, 1e-6):,.0f}x** (warm), "
                f"**{base['peak_mb'] / render['peak_mb']:.1f}x** the peak memory."
                if with_naive
                else "The load-all baseline was not run on this database (--no-naive)."
            ),
            "",
        ]
        print("\n".join(lines[-16:]), file=sys.stderr)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--sqlite-path", type=Path, default=None)
    parser.add_argument(
        "--pg-admin-url",
        default=os.environ.get(
            "FLOWRUNS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--keep-pg", action="store_true", help="do not drop the PG database")
    parser.add_argument("--database-url", help="measure this database as it is (no seeding)")
    parser.add_argument("--no-naive", action="store_true", help="skip the load-all baseline")
    parser.add_argument("--out", type=Path, default=RESULTS / "dashboard.md")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, *rest = args.child
        result = {"render": render_all_pages, "naive": naive, "idle": idle}[mode](*rest)
        print(json.dumps(result))
        return
    sqlite_path = args.sqlite_path or Path(tempfile.gettempdir()) / f"dash_bench_{args.runs}.db"
    lines = [
        "## Dashboard benchmark",
        "",
        f"`python bench/dashboard_bench.py --runs {args.runs}`; demo data over 90 days, "
        f"{os.cpu_count()} CPUs shared with other work. Cold = first call after "
        "`st.cache_data.clear()`; warm = the same call again (served from `st.cache_data`).",
        "",
    ]
    if args.database_url:
        backend = "SQLite" if args.database_url.startswith("sqlite") else "PostgreSQL"
        lines += bench_backend(backend, args.database_url, None, not args.no_naive)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines))
        return
    for backend in args.backends.split(","):
        if backend == "sqlite":
            lines += bench_backend("SQLite", f"sqlite:///{sqlite_path}", args.runs)
        else:
            url = pg_database(args.pg_admin_url, create=True)
            try:
                lines += bench_backend("PostgreSQL", url, args.runs)
            finally:
                if not args.keep_pg:
                    pg_database(args.pg_admin_url, create=False)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
