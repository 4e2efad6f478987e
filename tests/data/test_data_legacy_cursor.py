"""Keyset paging over times another engine stored as non-canonical text (issue 8, poison
rows): on SQLite ``started_at`` sorts by its stored text, so a cursor must carry and
compare that text (data.types.StoredTimeKey), not the parsed time written back
canonically. Every walk (cursor pages, iter_runs chunks, export chunks, the retention
boundary) is checked against an independent Python sort: of the stored text on SQLite,
of the time on PostgreSQL, which stores the same rows as ``timestamptz``.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import uuid
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

import pytest
from runfactory import World, at, make_world
from sqlalchemy import Engine, event, select, text, true

from data import queries as q
from data.db import build_engine
from data.deletion import delete_where
from data.export.stream import iter_csv
from data.filters import FlowRunFilter
from data.models import FlowRun
from data.queries.cursors import InvalidCursor, decode_cursor
from data.queries.listing import RUN_FIELDS
from data.retention import RetentionPolicy, preview_prune, prune
from data.types import as_utc

# Forms other engines wrote that stay as they are on SQLite (migration 0006 rewrites the
# ISO forms SQLite's own date functions read, such as "T", "Z", "+05:00" or a missing
# fraction, into the canonical one: tests/data/test_data_rollup_writers.py): minutes
# without seconds, an offset without a colon, next to the canonical form ours write.
FORMS = (
    lambda m: m.strftime("%Y-%m-%d %H:%M:%S.%f"),
    lambda m: m.strftime("%Y-%m-%d %H:%M"),
    lambda m: m.strftime("%Y-%m-%dT%H:%M"),
    lambda m: (m + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%S+0500"),
    lambda m: (m - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S-0300"),
    lambda m: m.strftime("%Y-%m-%d %H:%M:%S.500000"),
)
RUNS = 40  # runs i and i + 24 share their stored text: ties the id order decides
STATUSES = ("success", "failure", "weird", "success", "cancelled")
TRIGGERS = ("api", "cron", "manual")
SORT_VALUE = {
    "duration_ms": lambda r: -1 if r["duration_ms"] is None else r["duration_ms"],
    "status": lambda r: r["status"],
    "flow_name": lambda r: r["flow_name"],
    "trigger_type": lambda r: r["trigger_type"],
}


def seed_legacy_times(world: World) -> list[dict[str, Any]]:
    """Runs over four moments in every form; on SQLite the form is written as stored
    text with plain SQL, as another engine would. Each run dict gets ``stored`` (the text)
    and ``flow_name``."""
    runs = []
    for i in range(RUNS):
        moment = at(minutes=i % 4).replace(tzinfo=None)
        stored = FORMS[i % len(FORMS)](moment)
        run = world.run(
            flow=i % 3,
            status=STATUSES[i % len(STATUSES)],
            trigger_type=TRIGGERS[i % 3],
            started_at=as_utc(datetime.fromisoformat(stored)),
            duration_ms=None if i % 7 == 0 else (i % 4) * 100,
        )
        runs.append({**run, "stored": stored, "flow_name": world.flow_names[run["flow_id"]]})
    world.add([{k: v for k, v in r.items() if k not in ("stored", "flow_name")} for r in runs])
    if world.engine.dialect.name == "sqlite":
        with world.engine.begin() as conn:
            for run in runs:
                conn.execute(
                    text("UPDATE flow_run SET started_at = :stored WHERE id = :id"),
                    {"stored": run["stored"], "id": run["id"].hex},
                )
    return runs


def started_key(engine: Engine) -> Any:
    """How the backend orders started_at: SQLite the stored text, PostgreSQL the time."""
    if engine.dialect.name == "sqlite":
        return lambda r: r["stored"]
    return lambda r: r["started_at"]


def expected(engine: Engine, runs: list[dict[str, Any]], sort: str, direction: str) -> list:
    value = started_key(engine) if sort == "started_at" else SORT_VALUE[sort]
    ordered = sorted(runs, key=lambda r: (value(r), r["id"].int), reverse=direction == "desc")
    return [r["id"] for r in ordered]


def cursor_walk(engine: Engine, flt: FlowRunFilter, limit: int, **order: Any) -> list:
    seen, cursor = [], None
    for _ in range(RUNS + 2):
        page = q.list_runs(engine, flt, limit=limit, cursor=cursor, **order)
        seen += [run.id for run in page.runs]
        cursor = page.next_cursor
        if cursor is None:
            return seen
    raise AssertionError("the walk did not end")


def test_the_seeded_text_order_is_not_the_time_order(world: World) -> None:
    """Guard for the tests below: on SQLite the stored text orders these runs differently
    from their times (so a canonical cursor would disagree), with ties on the text."""
    runs = seed_legacy_times(world)
    by_text = expected(world.engine, runs, "started_at", "asc")
    if world.engine.dialect.name == "sqlite":
        by_time = [r["id"] for r in sorted(runs, key=lambda r: (r["started_at"], r["id"].int))]
        assert by_text != by_time
    assert len({r["stored"] for r in runs}) < len(runs)


@pytest.mark.parametrize("direction", ["desc", "asc"])
@pytest.mark.parametrize("sort", list(q.SORT_KEYS))
def test_cursor_walks_follow_the_stored_order(world: World, sort: str, direction: str) -> None:
    runs = seed_legacy_times(world)
    order = {"sort": sort, "direction": direction}
    want = expected(world.engine, runs, sort, direction)
    for limit in (1, 7):
        assert cursor_walk(world.engine, FlowRunFilter(), limit, **order) == want, limit
    whole = q.list_runs(world.engine, FlowRunFilter(), limit=RUNS, **order)
    assert [run.id for run in whole.runs] == want


MERGED_FILTERS = {
    # Three stored spellings of a status, or two flows: pages merged from one index range
    # per value (data.queries.page_branches).
    "status spellings": ({"statuses": ["success"]}, lambda r: r["status"] == "success"),
    "two flows": ({"flow_ids": [0, 2]}, lambda r: r["flow_name"] in ("alpha", "charlie")),
}


@pytest.mark.parametrize("direction", ["desc", "asc"])
@pytest.mark.parametrize("case", list(MERGED_FILTERS))
def test_merged_range_pages_follow_the_stored_order(
    world: World, case: str, direction: str
) -> None:
    runs = seed_legacy_times(world)
    fields, keep = MERGED_FILTERS[case]
    if "flow_ids" in fields:
        fields = {"flow_ids": [world.flows[i] for i in fields["flow_ids"]]}
    flt = FlowRunFilter.build(**fields)
    want = expected(world.engine, [r for r in runs if keep(r)], "started_at", direction)
    for limit in (1, 4):
        assert cursor_walk(world.engine, flt, limit, direction=direction) == want, limit


def test_iter_runs_chunks_follow_the_stored_order(world: World) -> None:
    runs = seed_legacy_times(world)
    want = expected(world.engine, runs, "started_at", "desc")
    for chunk_size in (1, 6):
        # Bounded: a chunk boundary compared wrongly can repeat the same chunk forever.
        chunks = list(
            islice(q.iter_runs(world.engine, FlowRunFilter(), chunk_size=chunk_size), RUNS + 1)
        )
        assert [row["id"] for chunk in chunks for row in chunk] == want
        assert all(set(row) == set(RUN_FIELDS) for chunk in chunks for row in chunk)


def test_export_chunks_follow_the_stored_order(world: World) -> None:
    runs = seed_legacy_times(world)
    chunks = iter_csv(world.engine, FlowRunFilter(), columns=["id"], chunk_size=3)
    text_out = "".join(islice(chunks, RUNS + 2))
    exported = [uuid.UUID(row["id"]) for row in csv.DictReader(io.StringIO(text_out))]
    assert exported == expected(world.engine, runs, "started_at", "desc")


def test_retention_keeps_exactly_the_newest_runs_in_stored_order(world: World) -> None:
    """The max-runs-per-flow boundary is compared as stored: a boundary written without
    microseconds was pruned with the older runs."""
    runs = seed_legacy_times(world)
    # Each flow's runs, newest first as the database orders them.
    ordered = [
        r for i in expected(world.engine, runs, "started_at", "desc") for r in runs if r["id"] == i
    ]
    newest = {flow: [r for r in ordered if r["flow_id"] == flow] for flow in world.flows}
    for keep in range(1, 14):
        surplus = sum(max(0, len(flow_runs) - keep) for flow_runs in newest.values())
        counted = preview_prune(world.engine, RetentionPolicy(max_runs_per_flow=keep), now=at())
        assert counted.total == surplus, keep
    prune(world.engine, RetentionPolicy(max_runs_per_flow=5))
    kept = {r["id"] for flow_runs in newest.values() for r in flow_runs[:5]}
    assert {run.id for run in q.list_runs(world.engine, FlowRunFilter(), limit=100).runs} == kept


def test_batched_delete_walks_the_stored_order_without_restarting(world: World) -> None:
    """Batches of one run each resume after the last deleted run: deleted oldest first
    in the database's order, one batch query per batch (a position compared in another
    form skipped runs and fell back to rescans from the start)."""
    runs = seed_legacy_times(world)
    batch_queries: list[str] = []
    deleted: list[Any] = []
    left = [set(world.ids())]

    def watch(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "ORDER BY flow_run.started_at, flow_run.id" in statement:  # a batch's choice
            batch_queries.append(statement)

    def progress(_done: int, _total: int) -> None:  # which run this one-run batch took
        with world.engine.connect() as conn:
            now = set(conn.execute(select(FlowRun.id)).scalars())
        deleted.extend(left[0] - now)
        left[0] = now

    event.listen(world.engine, "before_cursor_execute", watch)
    try:
        assert delete_where(world.engine, true(), batch_size=1, progress=progress) == RUNS
    finally:
        event.remove(world.engine, "before_cursor_execute", watch)
    assert deleted == expected(world.engine, runs, "started_at", "asc")
    assert len(batch_queries) == RUNS


def encode(key: Any, sort: str = "started_at", direction: str = "desc") -> str:
    payload = json.dumps({"s": sort, "d": direction, "k": key, "id": uuid.UUID(int=1).hex})
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def test_stored_time_keys_are_checked() -> None:
    stored = "2026-01-02T08:04:05+05:00"
    assert decode_cursor(encode({"stored": stored}), "started_at", "desc")[0] == stored
    bad_keys: list[Any] = [
        {"stored": "yesterday"},
        {"stored": 5},
        {"stored": None},
        {"stored": "2026-01-02 03:04:05" + " " * 60},
        {"stored": "2026-01-02\x0003:04:05"},
        {"stored": "0001-01-01T00:00:00+14:00"},  # before year 1 in UTC
        {"stored": "2026-01-02", "ts": "2026-01-02"},
        {"text": "2026-01-02"},
    ]
    for key in bad_keys:
        with pytest.raises(InvalidCursor, match="the started_at key must be an ISO time"):
            decode_cursor(encode(key), "started_at", "desc")
    with pytest.raises(InvalidCursor, match="the status key must be text"):
        decode_cursor(encode({"stored": "x"}, sort="status"), "status", "desc")


@pytest.mark.postgres
def test_a_stored_key_on_postgres_is_the_time_it_holds(pg_url: str) -> None:
    """PostgreSQL compares a text key as the time it names: a cursor holding SQLite's
    stored form pages exactly like the ``{"ts": ...}`` key of the same moment."""
    engine = build_engine(pg_url)
    try:
        runs = seed_legacy_times(make_world(engine))
        moment = at(minutes=2)
        as_stored = {"stored": (moment + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%S+05:00")}
        for direction in ("desc", "asc"):
            pages = [
                q.list_runs(
                    engine,
                    FlowRunFilter(),
                    direction=direction,
                    limit=RUNS,
                    cursor=encode(key, direction=direction),
                )
                for key in (as_stored, {"ts": moment.isoformat()})
            ]
            # The cursor's run id (1) is below every other: the moment's own runs come
            # after it ascending only.
            later = {r["id"] for r in runs if r["started_at"] >= moment}
            after = later if direction == "asc" else {r["id"] for r in runs} - later
            assert [r.id for r in pages[0].runs] == [r.id for r in pages[1].runs]
            assert {r.id for r in pages[0].runs} == after
    finally:
        engine.dispose()
