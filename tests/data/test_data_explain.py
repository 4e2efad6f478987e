"""EXPLAIN the real data-layer statements of the dashboard's hot queries: each is answered
through our indexes, never by scanning flow_run (SQLite EXPLAIN QUERY PLAN; PostgreSQL
EXPLAIN with enable_seqscan off), on 20,000 demo rows after ANALYZE: with fewer, the
PostgreSQL planner rightly prefers sorting a hundred rows to walking the composite index."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from runfactory import temporary_pg_database
from sqlalchemy import Engine, event
from sqlalchemy.sql import Select

from data import migrate
from data import queries as q
from data.db import build_engine
from data.demo import generate_demo
from data.filters import FlowRunFilter
from data.queries.listing import count_statement, page_statement
from data.queries.stats import stats_statement

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
WEEK = {"started_after": NOW - timedelta(days=7), "started_before": NOW}


def explain(engine: Engine, statement: Select[Any]) -> str:
    """The plan of ``statement`` exactly as the data layer sends it (same SQL, same
    bound parameters): EXPLAIN is prefixed at the cursor."""
    sqlite = engine.dialect.name == "sqlite"
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "

    def add_prefix(*args: Any) -> tuple[str, Any]:
        return prefix + args[2], args[3]

    with engine.connect() as conn:
        if not sqlite:
            conn.exec_driver_sql("SET enable_seqscan = off")
        event.listen(conn, "before_cursor_execute", add_prefix, retval=True)
        try:
            rows = conn.execute(statement).cursor.fetchall()  # raw rows: plan text
        finally:
            event.remove(conn, "before_cursor_execute", add_prefix)
    return "\n".join(" ".join(str(part) for part in row) for row in rows)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def demo_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A database of its own per backend, seeded once for every plan in this module."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('explain') / 'explain.db'}"
        else:
            request.getfixturevalue("pg_database_url")  # skips (or fails in CI) without it
            url = stack.enter_context(temporary_pg_database("flowruns_explain"))
        migrate.upgrade(url)
        engine = build_engine(url)
        stack.callback(engine.dispose)
        generate_demo(engine, 20_000, days=30, seed=3, now=NOW)
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        yield engine


def one_flow(engine: Engine) -> uuid.UUID:
    return q.list_flows(engine)[0][0]


HOT_QUERIES: dict[str, tuple[Callable[[Engine], Select[Any]], tuple[str, ...]]] = {
    # Runs page: newest 50 failures. A status matches three spellings (failure, FAILURE,
    # Failure: data.statuses); each is its own range of the status index, merged
    # (data.queries.page_branches; test_multi_value_pages_read_one_range_per_value).
    "newest_page_with_status": (
        lambda e: page_statement(FlowRunFilter.build(statuses=["failure"]), limit=50),
        ("ix_flow_run_status_started_at",),
    ),
    # Overview KPIs for the last 7 days.
    "stats_7_days": (
        lambda e: stats_statement(FlowRunFilter.build(**WEEK)),
        ("ix_flow_run_started_at",),
    ),
    # One flow's KPIs over a range.
    "one_flow_over_a_range": (
        lambda e: stats_statement(FlowRunFilter.build(flow_ids=[one_flow(e)], **WEEK)),
        ("ix_flow_run_flow_id_started_at",),
    ),
    # The total above the runs table. The planner may prefer the narrow single-column
    # status index here (it is ours too, and smaller); either is an index-only answer.
    "count_with_status": (
        lambda e: count_statement(FlowRunFilter.build(statuses=["failure"])),
        ("ix_flow_run_status_started_at", "ix_flow_run_status"),
    ),
    # The next runs page after a cursor, no filter.
    "newest_page_after_cursor": (
        lambda e: page_statement(
            FlowRunFilter(),
            limit=50,
            cursor=q.list_runs(e, FlowRunFilter(), limit=50).next_cursor,
        ),
        ("ix_flow_run_started_at",),
    ),
}


@pytest.mark.parametrize("name", list(HOT_QUERIES))
def test_hot_queries_use_our_indexes(demo_engine: Engine, name: str) -> None:
    build, indexes = HOT_QUERIES[name]
    plan = explain(demo_engine, build(demo_engine))
    flow_run_lines = [line for line in plan.splitlines() if "flow_run" in line]
    assert flow_run_lines, plan
    assert any(index in plan for index in indexes), plan
    if demo_engine.dialect.name == "sqlite":
        # "SCAN flow_run" without an index is a full table scan.
        assert not any(
            "SCAN flow_run" in line and "INDEX" not in line for line in flow_run_lines
        ), plan
    else:
        assert "Seq Scan on flow_run" not in plan, plan


def test_explain_helper_sees_a_full_scan_when_no_index_fits(demo_engine: Engine) -> None:
    """The check above can fail: a filter no index serves shows a table scan."""
    plan = explain(demo_engine, count_statement(FlowRunFilter.build(error_contains="timeout")))
    if demo_engine.dialect.name == "sqlite":
        assert "SCAN flow_run" in plan, plan
    else:
        assert "Seq Scan on flow_run" in plan, plan


MULTI_VALUE_PAGES: dict[str, tuple[Callable[[Engine], FlowRunFilter], str, int]] = {
    # filter, the column each branch seeks by equality, how many branches
    "status": (lambda e: FlowRunFilter.build(statuses=["cancelled"]), "status", 3),
    "two flows": (
        lambda e: FlowRunFilter.build(flow_ids=[f for f, _ in q.list_flows(e)[:2]]),
        "flow_id",
        2,
    ),
}


def equality_seeks(plan: str, column: str, sqlite: bool) -> list[str]:
    """The plan lines where an index is entered with ``column = value``."""
    if sqlite:
        return [line for line in plan.splitlines() if f"({column}=?" in line]
    pattern = re.compile(rf"\(+{column}\)?(::text)? = '")
    return [line for line in plan.splitlines() if "Index Cond:" in line and pattern.search(line)]


@pytest.mark.parametrize("deep", [False, True], ids=["first page", "after a cursor"])
@pytest.mark.parametrize("name", list(MULTI_VALUE_PAGES))
def test_multi_value_pages_read_one_range_per_value(
    demo_engine: Engine, name: str, deep: bool
) -> None:
    """Newest 50 with a status (three stored spellings) or with two flows, at any depth:
    each value is its own index seek by equality, merged in order; a status page never
    walks the started_at index filtering statuses (most of the table for a rare status).
    (For one busy flow PostgreSQL may walk the started_at index with flow_id = x as its
    index condition: that is still a seek per flow, and its cheaper choice.)"""
    build, column, branches = MULTI_VALUE_PAGES[name]
    flt = build(demo_engine)
    cursor = None
    if deep:
        first = q.list_runs(demo_engine, flt, limit=50, offset=60)
        assert first.next_cursor is not None
        cursor = first.next_cursor
    sqlite = demo_engine.dialect.name == "sqlite"
    plan = explain(demo_engine, page_statement(flt, limit=50, cursor=cursor))
    assert len(equality_seeks(plan, column, sqlite)) == branches, plan
    if column == "status":
        assert "ix_flow_run_started_at" not in plan, plan
    if sqlite:
        assert "SCAN flow_run" not in plan, plan
    else:
        assert "Seq Scan on flow_run" not in plan, plan
