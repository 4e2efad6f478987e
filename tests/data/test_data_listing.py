"""Listing: every sort key and direction against a pandas sort (id tiebreak); offset and
cursor pages concatenate to the full list; cursors survive concurrent inserts; filters on
several statuses or flows page the same through merged index ranges; the count comes
from the rollup when it can and equals raw rows."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
from runfactory import World, at
from sqlalchemy import update

from data import queries as q
from data.errors import InvalidQuery
from data.filters import FlowRunFilter
from data.models import RollupDay
from data.queries.listing import MAX_PAGE_SIZE
from data.queries.page_branches import MAX_BRANCHES, page_branches
from data.rollup.maintain import rebuild
from data.rollup.routing import rollup_grain

SORT_COLUMNS = {
    "started_at": "started_at",
    "duration_ms": "duration_key",
    "status": "status",
    "flow_name": "flow_name",
    "trigger_type": "trigger_type",
}


def seed_with_ties(world: World) -> None:
    """31 runs where every sort key has ties (and durations have NULLs), so the id
    tiebreak decides part of every order."""
    statuses = ("success", "failure", "running", "weird")
    triggers = ("api", "cron", "manual")
    world.add(
        world.run(
            flow=i % 3,
            user=i % 2,
            status=statuses[i % 4],
            trigger_type=triggers[i % 3],
            started_at=at(hours=i // 3),  # three runs per timestamp
            duration_ms=None if i % 5 == 0 else (i % 4) * 250,
        )
        for i in range(31)
    )


def expected_order(world: World, sort: str, direction: str) -> list[uuid.UUID]:
    frame = world.frame()
    # NULL durations sort as -1 (documented in data.queries.listing.SORT_KEYS).
    frame["duration_key"] = frame["duration_ms"].fillna(-1)
    frame["id_key"] = frame["id"].map(lambda run_id: run_id.int)
    ascending = direction == "asc"
    ordered = frame.sort_values([SORT_COLUMNS[sort], "id_key"], ascending=ascending, kind="stable")
    return list(ordered["id"])


def cursor_pages(world: World, flt: FlowRunFilter, **order: Any) -> list[list[uuid.UUID]]:
    pages, cursor = [], None
    while True:
        page = q.list_runs(world.engine, flt, cursor=cursor, **order)
        pages.append([r.id for r in page.runs])
        cursor = page.next_cursor
        if cursor is None:
            return pages


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("sort", list(SORT_COLUMNS))
def test_every_sort_key_pages_like_one_sorted_list(world: World, sort: str, direction: str) -> None:
    assert set(q.SORT_KEYS) == set(SORT_COLUMNS)
    seed_with_ties(world)
    expected = expected_order(world, sort, direction)
    flt = FlowRunFilter()
    whole = q.list_runs(world.engine, flt, sort=sort, direction=direction, limit=MAX_PAGE_SIZE)
    assert [r.id for r in whole.runs] == expected
    assert whole.next_cursor is None
    by_offset = [
        r.id
        for offset in range(0, len(expected), 7)
        for r in q.list_runs(
            world.engine, flt, sort=sort, direction=direction, limit=7, offset=offset
        ).runs
    ]
    assert by_offset == expected
    pages = cursor_pages(world, flt, sort=sort, direction=direction, limit=7)
    assert [len(p) for p in pages] == [7, 7, 7, 7, 3]
    assert [run_id for page in pages for run_id in page] == expected


def test_cursor_paging_with_a_filter_and_an_exact_last_page(world: World) -> None:
    seed_with_ties(world)
    flt = FlowRunFilter.build(statuses=["success", "weird"])
    expected = [
        run_id
        for run_id in expected_order(world, "started_at", "desc")
        if run_id in world.ids(lambda r: r["status"] in ("success", "weird"))
    ]
    assert len(expected) == 15
    pages = cursor_pages(world, flt, limit=5)
    # A full last page has no next cursor: no empty trailing page.
    assert [len(p) for p in pages] == [5, 5, 5]
    assert [run_id for page in pages for run_id in page] == expected


def test_cursor_pages_stay_gap_and_duplicate_free_while_runs_arrive(world: World) -> None:
    seed_with_ties(world)
    expected = expected_order(world, "started_at", "desc")
    flt = FlowRunFilter()
    first = q.list_runs(world.engine, flt, limit=10)
    seen = [r.id for r in first.runs]
    cursor = first.next_cursor
    # New runs start now (newest of all) while the reader pages on.
    world.add(world.run(started_at=at(days=30), flow=i % 3) for i in range(12))
    while cursor is not None:
        page = q.list_runs(world.engine, flt, limit=10, cursor=cursor)
        seen.extend(r.id for r in page.runs)
        cursor = page.next_cursor
        if cursor is not None:
            world.add([world.run(started_at=at(days=31))])
    assert seen == expected


def test_page_frame_and_joined_names(world: World) -> None:
    seed_with_ties(world)
    page = q.list_runs(world.engine, FlowRunFilter(), limit=5)
    frame = page.to_frame()
    assert len(frame) == 5
    assert "inputs" not in frame.columns
    by_id = {r["id"]: r for r in world.runs}
    for run in page.runs:
        source = by_id[run.id]
        assert run.flow_name == world.flow_names[source["flow_id"]]
        assert run.username == world.usernames[source["user_id"]]
        assert run.started_at == source["started_at"]
        assert run.duration_ms == source["duration_ms"]
    assert frame["id"].tolist() == [r.id for r in page.runs]


def forged(payload: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("cursor", "message"),
    [
        ("garbage!!", "not a cursor"),
        ("", None),  # an empty cursor means "first page"
        (forged({"s": "started_at", "d": "desc"}), "not a cursor"),
        (forged({"s": "started_at", "d": "desc", "k": 1, "id": "nope"}), "not a cursor"),
        (base64.urlsafe_b64encode(b"\xff\xfe").decode(), "not a cursor"),
    ],
)
def test_invalid_cursors_are_rejected(world: World, cursor: str, message: str | None) -> None:
    seed_with_ties(world)
    if message is None:
        assert len(q.list_runs(world.engine, FlowRunFilter(), cursor=cursor).runs) == 31
        return
    with pytest.raises(InvalidQuery, match=message):
        q.list_runs(world.engine, FlowRunFilter(), cursor=cursor)


def test_cursor_from_another_order_is_rejected(world: World) -> None:
    seed_with_ties(world)
    cursor = q.list_runs(world.engine, FlowRunFilter(), limit=3).next_cursor
    assert cursor is not None
    for order in ({"sort": "duration_ms"}, {"direction": "asc"}):
        with pytest.raises(InvalidQuery, match="different order"):
            q.list_runs(world.engine, FlowRunFilter(), limit=3, cursor=cursor, **order)
    with pytest.raises(InvalidQuery, match="offset"):
        q.list_runs(world.engine, FlowRunFilter(), limit=3, cursor=cursor, offset=3)


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": MAX_PAGE_SIZE + 1}, "limit"),
        ({"offset": -1}, "offset"),
        ({"sort": "error_message"}, "order_by"),
        ({"direction": "up"}, "order_dir"),
    ],
)
def test_page_arguments_are_validated(world: World, arguments: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidQuery, match=field):
        q.list_runs(world.engine, FlowRunFilter(), **arguments)


def test_limit_bounds_are_inclusive(world: World) -> None:
    world.add(world.run(started_at=at(minutes=i)) for i in range(3))
    assert len(q.list_runs(world.engine, FlowRunFilter(), limit=1).runs) == 1
    assert len(q.list_runs(world.engine, FlowRunFilter(), limit=MAX_PAGE_SIZE).runs) == 3
    assert q.list_runs(world.engine, FlowRunFilter(), offset=3).runs == []


def test_get_run_is_scoped_by_the_filter(world: World) -> None:
    [mine, theirs] = world.add(
        [
            world.run(user=0, inputs={"q": "hi"}, outputs=[1, 2], metadata={"k": "v"}),
            world.run(user=1),
        ]
    )
    own_scope = FlowRunFilter.build(user_id=world.users[0])
    found = q.get_run(world.engine, mine["id"], own_scope)
    assert found is not None
    assert found.id == mine["id"]
    assert (found.inputs, found.outputs, found.metadata) == ({"q": "hi"}, [1, 2], {"k": "v"})
    assert found.username == "user0"
    assert q.get_run(world.engine, theirs["id"], own_scope) is None
    assert q.get_run(world.engine, theirs["id"]) is not None
    assert q.get_run(world.engine, uuid.uuid4()) is None


def test_iter_runs_streams_every_match_newest_first(world: World) -> None:
    seed_with_ties(world)
    chunks = list(q.iter_runs(world.engine, FlowRunFilter(), chunk_size=4))
    assert [len(c) for c in chunks] == [4] * 7 + [3]
    streamed = [row["id"] for chunk in chunks for row in chunk]
    assert streamed == expected_order(world, "started_at", "desc")


def test_list_flows_sorted_by_name_and_scoped(world: World) -> None:
    flows = q.list_flows(world.engine)
    assert [name for _, name in flows] == sorted(world.flow_names.values())
    # make_world gives flow i to user i % 2: user0 owns alpha and charlie.
    owned = q.list_flows(world.engine, user_id=world.users[0])
    assert owned == [(world.flows[0], "alpha"), (world.flows[2], "charlie")]


# Every stored spelling the status rule matches (data.statuses), one it does not
# (sUcCeSs is an unknown status of its own), over three flows, with timestamp ties.
SPELLINGS = ("success", "SUCCESS", "Success", "failure", "FAILURE", "weird", "sUcCeSs")
SUCCESS_SPELLINGS = {"success", "SUCCESS", "Success"}


def seed_spellings(world: World) -> None:
    world.add(
        world.run(
            flow=i % 3,
            status=SPELLINGS[i % len(SPELLINGS)],
            trigger_type=("api", "cron")[i % 2],
            started_at=at(hours=i // 4),
        )
        for i in range(84)
    )


MULTI_VALUE_CASES = {
    "one status, three spellings": (
        {"statuses": ["success"]},
        lambda r: r["status"] in SUCCESS_SPELLINGS,
    ),
    "two statuses": (
        {"statuses": ["SUCCESS", "failure"]},
        lambda r: r["status"] in SUCCESS_SPELLINGS | {"failure", "FAILURE"},
    ),
    "status and trigger": (
        {"statuses": ["success"], "trigger_types": ["api"]},
        lambda r: r["status"] in SUCCESS_SPELLINGS and r["trigger_type"] == "api",
    ),
    "two flows": ({"flows": [0, 2]}, lambda r: r["flow"] in (0, 2)),
    "status within two flows": (
        {"statuses": ["failure"], "flows": [1, 2]},
        lambda r: r["status"] in ("failure", "FAILURE") and r["flow"] in (1, 2),
    ),
}


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("case", list(MULTI_VALUE_CASES))
def test_multi_value_filters_merge_index_ranges_into_one_sorted_list(
    world: World, case: str, direction: str
) -> None:
    """A filter on several stored values is read as one index range per value, merged
    (data.queries.page_branches): cursor and offset pages equal one pandas-sorted list."""
    criteria, predicate = MULTI_VALUE_CASES[case]
    seed_spellings(world)
    flows = {flow_id: index for index, flow_id in enumerate(world.flows)}
    chosen = {**criteria}
    if "flows" in chosen:
        chosen["flow_ids"] = [world.flows[i] for i in chosen.pop("flows")]
    flt = FlowRunFilter.build(**chosen)
    assert len(page_branches(flt)) > 1  # the merged statement is the one under test
    matching = world.ids(lambda r: predicate({**r, "flow": flows[r["flow_id"]]}))
    expected = [i for i in expected_order(world, "started_at", direction) if i in matching]
    assert len(expected) >= 12
    pages = cursor_pages(world, flt, direction=direction, limit=5)
    assert [run_id for page in pages for run_id in page] == expected
    assert all(len(page) == 5 for page in pages[:-1])
    by_offset = [
        r.id
        for offset in range(0, len(expected), 5)
        for r in q.list_runs(world.engine, flt, direction=direction, limit=5, offset=offset).runs
    ]
    assert by_offset == expected
    page = q.list_runs(world.engine, flt, direction=direction, limit=3)
    source = {r["id"]: r for r in world.runs}
    assert [(r.flow_name, r.status) for r in page.runs] == [
        (world.flow_names[source[r.id]["flow_id"]], source[r.id]["status"]) for r in page.runs
    ]


def test_one_value_or_many_values_keep_a_single_range(world: World) -> None:
    assert page_branches(FlowRunFilter.build(statuses=["sUcCeSs"])) == []
    assert page_branches(FlowRunFilter.build(flow_ids=[world.flows[0]])) == []
    many = FlowRunFilter.build(statuses=[f"status{i}" for i in range(MAX_BRANCHES // 3 + 1)])
    assert page_branches(many) == []


COUNT_CASES = {
    "everything": ({}, lambda r: True),
    "status": ({"statuses": ["success"]}, lambda r: r["status"] in SUCCESS_SPELLINGS),
    "excluded status": (
        {"exclude_statuses": ["success"]},
        lambda r: r["status"] not in SUCCESS_SPELLINGS,
    ),
    "whole days": (
        {"started_after": at(days=1), "started_before": at(days=2)},
        lambda r: at(days=1) <= r["started_at"] < at(days=2),
    ),
}


def test_count_reads_the_rollup_when_it_can_and_equals_raw_rows(world: World) -> None:
    seed_spellings(world)
    for name, (criteria, predicate) in COUNT_CASES.items():
        flt = FlowRunFilter.build(**criteria)
        assert rollup_grain(flt) is not None, name
        expected = len(world.ids(predicate))
        assert q.count_runs(world.engine, flt) == expected, name
        assert q.count_runs(world.engine, flt, exact=True) == expected, name
    # Proof of the route: a rollup off by 1,000 per row shows in the routed count only;
    # a filter the rollup cannot answer (trigger) still counts raw rows.
    with world.engine.begin() as conn:
        rows = conn.execute(update(RollupDay).values(runs=RollupDay.runs + 1000)).rowcount
    assert rows > 0
    assert q.count_runs(world.engine, FlowRunFilter()) == 84 + 1000 * rows
    assert q.count_runs(world.engine, FlowRunFilter(), exact=True) == 84
    assert q.count_runs(world.engine, FlowRunFilter.build(trigger_types=["api"])) == 42
    rebuild(world.engine)
    assert q.count_runs(world.engine, FlowRunFilter()) == 84
