"""The compare baseline (last successful run of a flow), the run-id filter and the user
list, on both backends; expected values come from Python over the inserted rows."""

from __future__ import annotations

import uuid

from runfactory import World, at, make_world
from sqlalchemy import Engine

from data import queries as q
from data.filters import FlowRunFilter

STATUSES = ("success", "failure", "success", "cancelled", "running")


def _seed(engine: Engine) -> World:
    world = make_world(engine, flows=2, users=2)
    rows = [
        world.run(
            flow=i % 2,
            status=STATUSES[i % 5],
            started_at=at(hours=i * 3),
            inputs={"i": i},
            outputs={"answer": i * 2},
            metadata={"model": f"m{i % 3}"},
        )
        for i in range(20)
    ]
    # Two successes at the very same moment: the newest by (started_at, id) wins, as listed.
    rows.append(world.run(flow=0, status="success", started_at=at(hours=30), inputs={"tie": 1}))
    world.add(rows)
    return world


def _expected(world: World, flow_id: uuid.UUID, before: object) -> dict[str, object] | None:
    candidates = [
        r
        for r in world.runs
        if r["flow_id"] == flow_id and r["status"] == "success" and r["started_at"] < before
    ]
    return max(candidates, key=lambda r: (r["started_at"], str(r["id"]))) if candidates else None


def test_last_successful_run_is_the_newest_success_before(engine: Engine) -> None:
    world = _seed(engine)
    for run in world.runs:
        expected = _expected(world, run["flow_id"], run["started_at"])
        found = q.last_successful_run(engine, run["flow_id"], run["started_at"])
        if expected is None:
            assert found is None
            continue
        assert found is not None and found.id == expected["id"]
        assert found.status == "success" and found.started_at < run["started_at"]
        assert found.inputs == expected["inputs"] and found.outputs == expected["outputs"]
        assert found.metadata == expected["metadata"]


def test_no_baseline_for_an_unknown_flow_or_the_first_run(engine: Engine) -> None:
    world = _seed(engine)
    assert q.last_successful_run(engine, uuid.uuid4(), at(days=100)) is None
    first = min(world.runs, key=lambda r: r["started_at"])
    assert q.last_successful_run(engine, first["flow_id"], first["started_at"]) is None


def test_run_id_filter_selects_exactly_that_run(engine: Engine) -> None:
    world = _seed(engine)
    target = world.runs[7]
    flt = FlowRunFilter.build(run_id=str(target["id"]))
    assert [r.id for r in q.list_runs(engine, flt).runs] == [target["id"]]
    assert q.count_runs(engine, flt) == 1
    # Combined with a filter the run does not match: nothing.
    other = "failure" if target["status"] != "failure" else "success"
    assert q.count_runs(engine, flt.replace(statuses=[other])) == 0
    assert q.count_runs(engine, FlowRunFilter.build(run_id=str(uuid.uuid4()))) == 0


def test_users_are_listed_by_name(engine: Engine) -> None:
    world = make_world(engine, flows=1, users=3)
    expected = sorted(world.usernames.items(), key=lambda item: item[1])
    assert q.list_users(engine) == expected
