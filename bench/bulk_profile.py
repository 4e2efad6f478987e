"""Where a demo load's time goes, phase by phase: generating the columns, turning them into
the stored form (rows for SQLite, COPY text for PostgreSQL), the transfer into the
database, the index build, the rollup rebuild and the final commit.

    python -m bench.bulk_profile --backend sqlite --runs 200000
    python -m bench.bulk_profile --backend postgres --runs 1000000

Each load goes into a new empty database (bench.bulk_bench.fresh_database), in this
process; prints one line of seconds per phase. Generation, preparation and the rollup
tally run in the prefetch thread beside the transfer (``--serial``: in the loading
thread, one after the other), so the phases can add up to more than the total.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.bulk_bench import NOW, PG_ADMIN, drop_database, fresh_database
from data import migrate
from data.db import build_engine
from data.demo import generate, schema_pause, writers
from data.demo.rollup_tally import RollupTally

SPENT: dict[str, float] = defaultdict(float)


def timed(phase: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            SPENT[phase] += time.perf_counter() - began

    return wrapper


@contextmanager
def serial(items: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
    """In place of data.demo.prefetch.ahead: every chunk prepared in the loading thread."""
    yield iter(items)


def instrument(prefetch: bool) -> None:
    """Wrap the loader's steps; the transfer is the writer's time less its preparation."""
    wrapped = (
        (schema_pause, "install", "rollup fill"),
        (generate, "chunk_rows", "generate"),
        (RollupTally, "add", "rollup tally"),
        (RollupTally, "write", "rollup fill"),
    )
    for owner, name, phase in wrapped:
        setattr(owner, name, timed(phase, getattr(owner, name)))
    writer_for = writers.writer_for

    def timed_writer_for(engine: Any) -> writers.Writer:
        writer = writer_for(engine)
        return writers.Writer(timed("prepare", writer.prepare), timed("transfer", writer.send))

    built_after = schema_pause.indexes_built_after

    @contextmanager
    def timed_built_after(conn: Any, fill_rollup: Any) -> Iterator[None]:
        with built_after(conn, fill_rollup):
            yield
            SPENT["_after_load"] -= time.perf_counter()
        SPENT["_after_load"] += time.perf_counter()

    setattr(generate, "writer_for", timed_writer_for)  # noqa: B010
    if not prefetch:
        setattr(generate, "ahead", serial)  # noqa: B010
    setattr(generate, "indexes_built_after", timed_built_after)  # noqa: B010


def profile(backend: str, runs: int, folder: str, admin_url: str) -> dict[str, float]:
    url, name = fresh_database(backend, folder, admin_url)
    try:
        migrate.upgrade(url)
        engine = build_engine(url)
        SPENT.clear()
        began = time.perf_counter()
        generate.generate_demo(engine, runs, now=NOW, seed=42)
        total = time.perf_counter() - began
        engine.dispose()
    finally:
        drop_database(admin_url, name)
    spent = dict(SPENT)
    rollup = spent.get("rollup fill", 0.0)
    phases = {
        "generate": spent["generate"],
        "prepare": spent["prepare"],
        "transfer": spent["transfer"],
        "index build": spent.get("_after_load", 0.0) - rollup,
        "rollup tally": spent.get("rollup tally", 0.0),
        "rollup fill": rollup,
    }
    # Generation, preparation and tally run in the prefetch thread beside the transfer.
    phases["overlapped or other"] = total - sum(phases.values())
    phases["total"] = total
    return {k: round(v, 2) for k, v in phases.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--runs", type=int, default=200_000)
    parser.add_argument("--pg-admin-url", default=PG_ADMIN)
    parser.add_argument("--serial", action="store_true", help="no prefetch thread")
    args = parser.parse_args()
    instrument(prefetch=not args.serial)
    with tempfile.TemporaryDirectory() as folder:
        phases = profile(args.backend, args.runs, folder, args.pg_admin_url)
    load = Path("/proc/loadavg").read_text().split()[0]
    head = {"backend": args.backend, "runs": args.runs, "serial": args.serial, "load": load}
    print(json.dumps({**head, **phases}))


if __name__ == "__main__":
    main()
