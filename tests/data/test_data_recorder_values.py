"""The embedded recorder never loses a run over a value the database cannot store: a lone
surrogate, NUL, NaN, 300-level nesting, a huge integer or an object is degraded (U+FFFD,
null, a marker naming the problem), a warning names it, and the run is written on both
backends. What is stored passes the API's own check (``json_values.find_problem``)."""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from typing import Any

import pytest
from runfactory import World

from data import queries as q
from data import record_writer
from data.filters import FlowRunFilter
from data.json_values import MAX_JSON_DEPTH, find_problem
from data.queries import RunRecord
from data.record_values import UNSTORABLE_PREFIX, storable_json
from data.recorder import finish_run, record_run, recorded, start_run


def nested(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = {"k": value}
    return value


def depth_of(value: Any) -> int:
    """Container levels above the first non-container (independent of the code under test)."""
    levels = 0
    while isinstance(value, dict):
        value = value["k"]
        levels += 1
    return levels


def only_run(world: World) -> RunRecord:
    assert record_writer.flush(10)
    [run] = q.list_runs(world.engine, FlowRunFilter(), include_payloads=True).runs
    return run


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "data.recorder" and r.levelno == logging.WARNING
    ]


def test_record_run_degrades_a_surrogate_and_deep_nesting_and_writes_the_run(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="data.recorder")
    with record_run(
        world.engine,
        world.flows[0],
        inputs={"a": "x\udc00y", "ok": 1},
        metadata=nested(300),
        session_id="s\udc00",
    ) as run:
        run.outputs = {"n": [1, 2.5, None, True]}
    record = only_run(world)
    assert record.status == "success"
    assert record.inputs == {"a": "x\ufffdy", "ok": 1}
    assert record.session_id == "s\ufffd"
    assert record.outputs == {"n": [1, 2.5, None, True]}  # a clean value is untouched
    assert depth_of(record.metadata) == MAX_JSON_DEPTH
    bottom = record.metadata
    for _ in range(MAX_JSON_DEPTH):
        bottom = bottom["k"]
    assert bottom == f"{UNSTORABLE_PREFIX}nested deeper than {MAX_JSON_DEPTH} levels"
    [message] = [m for m in warnings(caplog) if "degraded" in m]
    assert "start of run" in message and "inputs.a:" in message and "session_id:" in message
    assert f"metadata{'.k' * MAX_JSON_DEPTH}: nested deeper than" in message


def test_recorded_degrades_nan_and_a_surrogate_in_its_return_value(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="data.recorder")

    @recorded(world.engine, world.flows[0])
    def work() -> dict[str, Any]:
        return {"score": math.nan, "big": math.inf, "text": "ok\udcff", "n": 3}

    assert work()["n"] == 3  # the caller gets its own value back, unchanged
    record = only_run(world)
    assert record.status == "success"
    assert record.outputs == {"score": None, "big": None, "text": "ok\ufffd", "n": 3}
    assert any("end of run" in m and "outputs.score: nan" in m for m in warnings(caplog))


def test_an_async_recorded_function_with_a_deep_result_is_recorded(world: World) -> None:
    @recorded(world.engine, world.flows[1])
    async def work() -> Any:
        return [nested(5_000)]  # too deep even for json.dumps

    assert depth_of(asyncio.run(work())[0]) == 5_000
    record = only_run(world)
    assert record.status == "success"
    assert isinstance(record.outputs, list) and depth_of(record.outputs[0]) == MAX_JSON_DEPTH - 1


def test_finish_run_degrades_text_fields_and_objects(world: World) -> None:
    run_id = start_run(world.engine, world.flows[0], inputs={"when": object()})
    finish_run(
        world.engine,
        run_id,
        "failure",
        outputs={"huge": 10**5000, 7: "int key"},
        error_type="Bad\x00Type",
        error_message="path /tmp/\udcff\x00 broke",
    )
    record = only_run(world)
    assert record.status == "failure"
    assert record.inputs == {"when": f"{UNSTORABLE_PREFIX}object is not a JSON type"}
    assert record.outputs == {
        "huge": f"{UNSTORABLE_PREFIX}integer with more than 4000 digits",
        "7": "int key",
    }
    assert (record.error_type, record.error_message) == (
        "Bad\ufffdType",
        "path /tmp/\ufffd\ufffd broke",
    )


@pytest.mark.parametrize(
    "value",
    [
        {"a": "\ud800", "b": ["\udfff", {"\udc00key": 1}]},
        nested(MAX_JSON_DEPTH + 1),
        [math.nan, -math.inf, {"x": [math.inf]}],
        {uuid.UUID(int=1): 1, (1, 2): 2},
        [object(), {1, 2}, b"bytes"],
    ],
)
def test_every_degraded_value_passes_the_apis_check(value: Any) -> None:
    problems: list[str] = []
    cleaned = storable_json(value, "inputs", problems)
    assert problems  # each of these needed a change...
    assert find_problem(cleaned, "inputs") is None  # ...and now passes the door's check
    assert storable_json(cleaned, "inputs", []) == cleaned  # and is stable


def test_a_self_referencing_value_is_cut_short_not_looped(world: World) -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    run_id = start_run(world.engine, world.flows[2], inputs=loop)
    record = only_run(world)
    assert record.id == run_id and record.inputs[0] == 1
    assert find_problem(record.inputs, "inputs") is None
