"""Load test: real uvicorn with 2 worker processes over PostgreSQL loaded with
``flowruns demo``, concurrent clients asking for the first page and the stats.

CI runs the short version (FLOWRUNS_LOAD_RUNS=20000 runs for FLOWRUNS_LOAD_SECONDS=10);
the long one (1,000,000 runs, a cached database) is bench/load_bench.py, whose driver
this test uses, with its figures in bench/results/load.md and docs/reliability.md.
Required: zero errors. Speeds are reported (junit properties), not asserted here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from types import ModuleType

import pytest
from reliakit import env_number

CACHED_FROM_RUNS = 100_000  # below this, load into a throw-away database


@pytest.fixture(scope="module")
def load_shape() -> tuple[int, float]:
    # Module scope: read before the per-test fixture clears FLOWRUNS_* variables.
    return int(env_number("FLOWRUNS_LOAD_RUNS", 20_000)), env_number("FLOWRUNS_LOAD_SECONDS", 10)


@pytest.fixture
def loaded_url(
    pg_database_url: str, load_bench: ModuleType, load_shape: tuple[int, float]
) -> Iterator[str]:
    """A PostgreSQL database holding exactly ``runs`` demo runs (``pg_database_url`` only
    makes the test skip or fail like every PostgreSQL test when no server answers)."""
    runs, _ = load_shape
    cached = runs >= CACHED_FROM_RUNS
    name = f"flowruns_load_{runs}" if cached else f"flowruns_load_ci_{uuid.uuid4().hex[:8]}"
    url = load_bench.ensure_database(name)
    try:
        present = load_bench.count_runs(url)
        if present != runs:
            assert present == 0, f"{name} holds {present} runs, not {runs}: drop it"
            load_bench.load_demo(url, runs)
        yield url
    finally:
        if not cached:
            load_bench.drop_database(name)


@pytest.mark.postgres
def test_load_postgres_two_uvicorn_workers_zero_errors(
    loaded_url: str,
    load_bench: ModuleType,
    load_shape: tuple[int, float],
    record_figure: Callable[[str, object], None],
) -> None:
    runs, seconds = load_shape
    key = load_bench.superuser_key(loaded_url)
    with load_bench.running_server(loaded_url, workers=2) as server:
        report = load_bench.drive_load(server.base, key, seconds, concurrency=6)
    record_figure("runs", runs)
    for name, count, errors, rps, median, p95 in report.rows():
        record_figure(
            name,
            f"{count} requests, {errors} errors, {rps:.1f}/s, median {median:.0f} ms, "
            f"p95 {p95:.0f} ms",
        )
    assert not report.errors, report.errors[:5]
    assert all(len(result.latencies_ms) >= 5 for result in report.targets.values())
    assert load_bench.count_runs(loaded_url) == runs  # reading changed nothing
