"""A page read from a cursor costs the same at any depth: the statement seeks to the
cursor instead of walking from the filter's range end down to it (SQLite seeks on the
first of two bounds on one column, so the cursor's bound must come first).

Work is counted in SQLite VM instructions (a progress handler), not seconds: exact and
repeatable on a loaded machine."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event

from data import migrate
from data import queries as q
from data.db import build_engine
from data.demo import generate_demo
from data.filters import FlowRunFilter
from data.queries.cursors import encode_cursor
from data.queries.listing import iter_runs

NOW = datetime(2026, 11, 20, tzinfo=UTC)
RUNS = 12_000


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path_factory.mktemp('depth') / 'depth.db'}"
    migrate.upgrade(url)
    built = build_engine(url)
    generate_demo(built, RUNS, days=30, now=NOW, seed=5)
    yield built
    built.dispose()


class Steps:
    """VM instructions SQLite runs while the block is active (in units of 100)."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.count = engine, 0

    def _tick(self) -> int:
        self.count += 1
        return 0

    def _install(self, dbapi_connection: Any, *_: Any) -> None:
        dbapi_connection.set_progress_handler(self._tick, 100)

    def __enter__(self) -> Steps:
        self.engine.dispose()  # new connections get the handler
        event.listen(self.engine, "connect", self._install)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine, "connect", self._install)
        self.engine.dispose()


def _filters(engine: Engine) -> dict[str, FlowRunFilter]:
    window = FlowRunFilter(started_after=NOW - timedelta(days=40), started_before=NOW)
    busiest = q.flow_breakdown(engine, window).sort_values("runs").iloc[-1]["flow_id"]
    return {
        "one flow": window.replace(flow_ids=(busiest,)),
        "one status": window.replace(statuses=("success",)),
        "two statuses": window.replace(statuses=("success", "failure")),
        "no filter": window,
    }


@pytest.mark.parametrize("name", ["one flow", "one status", "two statuses", "no filter"])
def test_a_deep_page_costs_what_the_first_costs(engine: Engine, name: str) -> None:
    flt = _filters(engine)[name]
    first = q.list_runs(engine, flt, limit=50)
    deep_rows = q.count_runs(engine, flt, exact=True) - 60
    assert deep_rows > 2_000  # deep enough that a walk from the range end would show
    last_before = q.list_runs(engine, flt, limit=1, offset=deep_rows).runs[0]
    cursor = encode_cursor("started_at", "desc", last_before.started_at, last_before.id)
    with Steps(engine) as shallow:
        q.list_runs(engine, flt, limit=50, cursor=first.next_cursor)
    with Steps(engine) as deep:
        page = q.list_runs(engine, flt, limit=50, cursor=cursor)
    assert [r.id for r in page.runs] == [
        r.id for r in q.list_runs(engine, flt, limit=50, offset=deep_rows + 1).runs
    ]
    assert deep.count < 3 * shallow.count + 20, (shallow.count, deep.count)


def test_export_chunks_seek_to_their_cursor(engine: Engine) -> None:
    """iter_runs' chunks continue from a keyset: the last chunk costs what the first did."""
    flt = _filters(engine)["one flow"]
    with Steps(engine) as steps:
        per_chunk = []
        for _ in iter_runs(engine, flt, chunk_size=100, include_payloads=False):
            per_chunk.append(steps.count)
            steps.count = 0
    assert len(per_chunk) > 10
    assert max(per_chunk[-3:-1]) < 1.2 * per_chunk[1] + 5, per_chunk
