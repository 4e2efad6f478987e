"""CSV export benchmark: ``data.export.iter_csv`` against the previous approach (ORM rows,
one Python conversion per cell, csv.writer; kept below as ``baseline_export``), in the same
run on the same cached dataset, each export in its own subprocess so that its peak RSS
(VmHWM) is its own.

    python bench/export_bench.py --backend sqlite --runs 200000             # quick
    python bench/export_bench.py --backend postgres --runs 1000000 --repeats 3
    python bench/export_bench.py --backend sqlite --payload-runs 2000 --payload-kb 200
    python bench/export_bench.py --backend postgres --runs 1000000 --previous 2b07470

``--previous REV`` also measures ``iter_csv`` as it was at commit REV (its ``data`` package,
extracted with ``git archive``), in the same run: before and after side by side.

Datasets are built once and cached: SQLite files under var/bench/, PostgreSQL databases
named flowruns_bench_* on --pg-admin-url (drop them with --drop). The file (all columns)
goes to /dev/null, as a streamed HTTP response would leave the process.
Appends a markdown section to bench/results/export.md.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from data import migrate
from data.db import build_engine
from data.demo import generate_demo
from data.export import EXPORT_COLUMNS, iter_csv
from data.export.cells import cell, json_text_cell
from data.filters import FlowRunFilter
from data.queries.listing import iter_runs

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "export.md"
CACHE = ROOT / "var" / "bench"
NOW = datetime(2026, 11, 1, tzinfo=UTC)
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def export_filter() -> FlowRunFilter:
    """Runs started at or after ``EXPORT_SINCE`` (ISO time; the child's environment),
    else every run: a smaller export of the same dataset."""
    since = os.environ.get("EXPORT_SINCE")
    return FlowRunFilter.build(started_after=since) if since else FlowRunFilter()


def baseline_export(engine: Engine) -> Iterator[str]:
    """The export before this change: ORM-typed rows in chunks of 5,000 (dicts of
    datetime/UUID objects), one Python call per cell, csv.writer per chunk."""
    payloads = {"inputs", "outputs", "metadata"}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    yield buffer.getvalue()
    pairs = [(c, json_text_cell if c in payloads else cell) for c in EXPORT_COLUMNS]
    for rows in iter_runs(engine, export_filter(), chunk_size=5000, payloads_as_text=True):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows([convert(row[c]) for c, convert in pairs] for row in rows)
        yield buffer.getvalue()


def ours_export(engine: Engine) -> Iterator[str]:
    return iter_csv(engine, export_filter())


APPROACHES = {"ours": ours_export, "baseline": baseline_export}
# Runs ``iter_csv`` from another commit's data package (``--previous``), put first on
# the child's import path.
PREVIOUS = "previous"
LABELS = {
    "ours": "ours (this commit)",
    PREVIOUS: "previous export (commit {previous})",
    "baseline": "baseline (ORM rows)",
}


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(approach: str, url: str) -> None:
    engine = build_engine(url)
    rss_before = peak_rss_mb()
    wall, cpu = time.perf_counter(), time.process_time()
    rows = chars = 0
    with open("/dev/null", "w", encoding="utf-8") as sink:
        for chunk in APPROACHES.get(approach, ours_export)(engine):
            sink.write(chunk)
            chars += len(chunk)
            rows += chunk.count("\r\n")
    result = {
        "wall_s": time.perf_counter() - wall,
        "cpu_s": time.process_time() - cpu,
        "server_cpu_s": server_cpu_s(engine),
        "rows": rows - 1,  # the header (payload cells hold no CRLF in these datasets)
        "mb": chars / 1e6,
        "rss_before_mb": rss_before,
        "peak_mb": peak_rss_mb(),
    }
    print(json.dumps(result))


def server_cpu_s(engine: Engine) -> float:
    """CPU time of the PostgreSQL backend behind the pooled connection the export used
    (same machine; parallel workers not included); NaN on SQLite (it runs in-process)."""
    if engine.dialect.name != "postgresql":
        return float("nan")
    with engine.connect() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    approach: str, url: str, previous_tree: Path | None = None, since: str | None = None
) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", approach, "--url", url]
    load = float(Path("/proc/loadavg").read_text().split()[0])
    env = dict(os.environ, EXPORT_SINCE=since or "")
    if approach == PREVIOUS and previous_tree is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(previous_tree), env.get("PYTHONPATH")])
        )
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return {**json.loads(out.strip().splitlines()[-1]), "load": load}


def extract_previous(revision: str, into: Path) -> Path:
    """The ``data`` package of ``revision``, extracted under ``into``."""
    archive = subprocess.run(
        ["git", "archive", revision, "data"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


# ---- datasets ---------------------------------------------------------------------------


def sqlite_dataset(name: str) -> tuple[str, bool]:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{name}.db"
    url = f"sqlite:///{path}"
    if not path.exists():
        migrate.upgrade(url)
        return url, False
    return url, True


def pg_dataset(name: str, admin_url: str, drop: bool) -> tuple[str, bool]:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if drop:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        cached = exists.first() is not None
        if not cached:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    if not cached:
        migrate.upgrade(url)
    return url, cached


def fill_payloads(url: str, runs: int, kilobytes: int) -> None:
    """``runs`` demo runs, then each one's inputs replaced by ``kilobytes`` KB of JSON."""
    engine = build_engine(url)
    generate_demo(engine, runs, now=NOW, seed=7)
    blob = json.dumps({"document": "x" * (kilobytes * 1024)})
    with engine.begin() as conn:
        conn.execute(text("UPDATE flow_run SET inputs = :blob"), {"blob": blob})
    engine.dispose()


def dataset(args: argparse.Namespace) -> tuple[str, str]:
    if args.payload_runs:
        name = f"flowruns_bench_payload_{args.payload_runs}x{args.payload_kb}kb"
        label = f"{args.payload_runs:,} runs x {args.payload_kb} KB inputs"
    else:
        name = f"flowruns_bench_{args.runs}"
        label = f"{args.runs:,} demo runs"
    if args.backend == "sqlite":
        url, cached = sqlite_dataset(name)
    else:
        url, cached = pg_dataset(name, args.pg_admin_url, args.drop)
    if not cached:
        started = time.perf_counter()
        if args.payload_runs:
            fill_payloads(url, args.payload_runs, args.payload_kb)
        else:
            generate_demo(build_engine(url), args.runs, now=NOW, seed=42)
        print(f"built {label} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return url, label


# ---- report -----------------------------------------------------------------------------


def summarise(samples: list[dict[str, float]]) -> dict[str, float]:
    walls = [s["wall_s"] for s in samples]
    rows = samples[0]["rows"]
    return {
        "rows": rows,
        "mb": samples[0]["mb"],
        "median_s": statistics.median(walls),
        "min_s": min(walls),
        "max_s": max(walls),
        "cpu_s": statistics.median(s["cpu_s"] for s in samples),
        "server_cpu_s": statistics.median(s["server_cpu_s"] for s in samples),
        "rows_per_s": rows / statistics.median(walls),
        "peak_mb": max(s["peak_mb"] for s in samples),
        "rss_before_mb": min(s["rss_before_mb"] for s in samples),
        "load_min": min(s["load"] for s in samples),
        "load_max": max(s["load"] for s in samples),
    }


def report(args: argparse.Namespace, label: str, results: dict[str, dict[str, float]]) -> str:
    ours, base = results["ours"], results["baseline"]
    labels = {name: text.format(previous=args.previous) for name, text in LABELS.items()}
    load = Path("/proc/loadavg").read_text().split()[0]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    lines = [
        f"### {args.backend}, {label}",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC at commit {commit};"
        f" {args.repeats} run(s) per approach,"
        f" alternating, each in its own process; load average {load} at the end, on 2 shared"
        " cores."
        f" {ours['rows']:,.0f} rows, {ours['mb']:,.0f} MB of CSV.",
        "",
        "| approach | median wall (s) | min-max (s) | rows/s (wall) | CPU of the exporting"
        " process (s) | rows per CPU-second (process + server) | server backend CPU (s)"
        " | peak RSS (MB) | RSS after imports (MB) | load average at start |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in ((labels[n], r) for n, r in results.items()):
        lines.append(
            f"| {name} | {row['median_s']:.2f} | {row['min_s']:.2f}-{row['max_s']:.2f}"
            f" | {row['rows_per_s']:,.0f} | {row['cpu_s']:.2f}"
            f" | {row['rows'] / cpu_total(row):,.0f} | {row['server_cpu_s']:.2f}"
            f" | {row['peak_mb']:.0f} | {row['rss_before_mb']:.0f}"
            f" | {row['load_min']:.2f}-{row['load_max']:.2f} |"
        )
    speedup = base["median_s"] / ours["median_s"]
    memory = base["peak_mb"] / ours["peak_mb"]
    lines += ["", f"Ours vs baseline: {speedup:.1f}x faster, {memory:.1f}x less peak RSS."]
    if PREVIOUS in results:
        before = results[PREVIOUS]
        lines.append(
            f"Ours vs the previous export: {before['median_s'] / ours['median_s']:.2f}x faster"
            f" (wall), {cpu_total(before) / cpu_total(ours):.2f}x less CPU (process + server)."
        )
    lines.append("")
    return "\n".join(lines)


def cpu_total(row: dict[str, float]) -> float:
    server = 0.0 if math.isnan(row["server_cpu_s"]) else row["server_cpu_s"]
    return row["cpu_s"] + server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--runs", type=int, default=200_000)
    parser.add_argument("--payload-runs", type=int, default=0)
    parser.add_argument("--payload-kb", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--pg-admin-url", default=PG_ADMIN)
    parser.add_argument("--drop", action="store_true", help="rebuild the PostgreSQL dataset")
    parser.add_argument("--previous", help="also measure iter_csv as of this commit")
    parser.add_argument("--since", help="export only runs started at or after this ISO time")
    parser.add_argument("--child")
    parser.add_argument("--url")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.url)
        return
    url, label = dataset(args)
    names = ["ours", *([PREVIOUS] if args.previous else []), "baseline"]
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="export_previous_") as tree:
        previous_tree = extract_previous(args.previous, Path(tree)) if args.previous else None
        for _ in range(args.repeats):
            for name in names:
                samples[name].append(measure(name, url, previous_tree, args.since))
                print(name, samples[name][-1], file=sys.stderr)
    if args.since:
        label += f", exporting those started since {args.since}"
    section = report(args, label, {n: summarise(s) for n, s in samples.items()})
    print(section)
    with RESULTS.open("a", encoding="utf-8") as handle:
        handle.write(section + "\n")


if __name__ == "__main__":
    main()
