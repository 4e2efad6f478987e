"""Flags: p95 regression and success drop per flow against the previous period, and
error groups first seen inside the range; on data built to trigger and not trigger each
flag, compared with the same rules applied by pandas/numpy to the inserted rows."""

from __future__ import annotations

import pandas as pd
import pytest
from runfactory import World, at, make_world, percentile
from sqlalchemy import Engine

from data import queries as q
from data.filters import FlowRunFilter
from data.signature import message_signature

RULE = q.DEFAULT_RULE
CURRENT = FlowRunFilter.build(started_after=at(days=7), started_before=at(days=14))
FINISHED = ("success", "failure", "cancelled")

# Per flow: (previous period, current period), each a list of (status, duration ms).
PLANS: dict[str, tuple[list[tuple[str, int]], list[tuple[str, int]]]] = {
    # p95 exactly +25% (the boundary counts), success rate unchanged: p95 flag only.
    "alpha": ([("success", 1000)] * 20, [("success", 1250)] * 20),
    # 100% -> 90% success, same durations: success flag only.
    "bravo": ([("success", 800)] * 20, [("success", 800)] * 18 + [("failure", 800)] * 2),
    # Both would trigger, but only 19 finished runs now (a running run does not count).
    "charlie": (
        [("success", 500)] * 20,
        [("success", 2000)] * 15 + [("failure", 2000)] * 4 + [("running", 9000)],
    ),
    # p95 +24% and 100% -> 96% success: just under both thresholds.
    "delta": ([("success", 1000)] * 25, [("success", 1240)] * 24 + [("failure", 1240)]),
    # 100% -> 95%: exactly 5 points (0.95 is inexact in binary; the boundary still counts).
    "echo": ([("success", 700)] * 20, [("success", 700)] * 19 + [("failure", 700)]),
}


def _seed_periods(world: World) -> None:
    rows = []
    for index, name in enumerate(PLANS):
        assert world.flow_names[world.flows[index]] == name
        for period, plan in enumerate(PLANS[name]):
            for minute, (status, duration) in enumerate(plan):
                when = at(days=7 * period + 1, minutes=minute)
                rows.append(
                    world.run(flow=index, status=status, duration_ms=duration, started_at=when)
                )
    # Noise outside both periods must not count.
    rows.append(world.run(flow=0, status="failure", duration_ms=10**6, started_at=at(days=20)))
    world.add(rows)


def _expected_flags(world: World) -> pd.DataFrame:
    """The rules applied by pandas/numpy to the inserted rows."""
    frame = world.frame()
    records = []
    for flow_id, runs in frame.groupby("flow_id"):
        periods = {}
        for period, start in (("prev", at(days=0)), ("cur", at(days=7))):
            end = start + pd.Timedelta(7, "D")
            rows = runs[(runs.started_at >= start) & (runs.started_at < end)]
            finished = int(rows.status.isin(FINISHED).sum())
            rate = (rows.status == "success").sum() / finished if finished else None
            periods[period] = (finished, percentile(rows.duration_ms, 95), rate)
        (prev_n, prev_p95, prev_rate), (cur_n, cur_p95, cur_rate) = periods["prev"], periods["cur"]
        enough = min(prev_n, cur_n) >= RULE.min_runs
        records.append(
            {
                "flow_id": flow_id,
                "p95_regression": enough and cur_p95 >= prev_p95 * 1.25 and cur_p95 > prev_p95,
                "success_drop": enough and round(prev_rate - cur_rate, 9) >= 0.05,
                "prev_p95_ms": prev_p95,
                "prev_finished": prev_n,
            }
        )
    return pd.DataFrame(records).set_index("flow_id").sort_index()


def test_flow_flags_trigger_exactly_where_the_rules_say(engine: Engine) -> None:
    world = make_world(engine, flows=5)
    _seed_periods(world)
    flags = q.flow_flags(engine, CURRENT).set_index("flow_id").sort_index()
    expected = _expected_flags(world)
    pd.testing.assert_frame_equal(
        flags[expected.columns], expected, check_dtype=False, check_exact=False
    )
    name = world.flow_names.get
    assert {name(f) for f in flags.index[flags.p95_regression]} == {"alpha"}
    assert {name(f) for f in flags.index[flags.success_drop]} == {"bravo", "echo"}
    alpha = flags.loc[world.flows[0]]
    assert alpha.p95_change == pytest.approx(0.25)
    bravo = flags.loc[world.flows[1]]
    assert bravo.success_rate_change == pytest.approx(-0.10)


def test_no_flags_without_a_previous_period(engine: Engine) -> None:
    world = make_world(engine, flows=5)
    _seed_periods(world)
    unbounded = FlowRunFilter.build(started_after=at(days=7))  # no end: no equal period
    flags = q.flow_flags(engine, unbounded)
    assert len(flags) == 5
    assert not flags.p95_regression.any() and not flags.success_drop.any()
    assert flags.prev_p95_ms.isna().all() and (flags.prev_finished == 0).all()


def test_a_flow_without_runs_before_is_not_flagged(engine: Engine) -> None:
    world = make_world(engine, flows=1)
    world.add(
        world.run(status="failure", duration_ms=9000, started_at=at(days=8, minutes=i))
        for i in range(30)
    )
    flags = q.flow_flags(engine, CURRENT)
    assert list(flags.runs) == [30]
    assert not flags.p95_regression.any() and not flags.success_drop.any()


def _failure(
    world: World, flow: int, days: float, kind: str | None, message: str
) -> dict[str, object]:
    return world.run(
        flow=flow,
        status="failure",
        started_at=at(days=days),
        error_type=kind,
        error_message=message,
    )


def _seed_errors(world: World) -> None:
    world.add(
        [
            # Seen before the range and inside it (numbers masked: one group): not new.
            _failure(world, 0, 3, "TimeoutError", "Timeout after 30 s"),
            _failure(world, 0, 9, "TimeoutError", "Timeout after 45 s"),
            # First seen inside the range: new, with a type and without one.
            _failure(world, 0, 8, "KeyError", "key 'x' missing"),
            _failure(world, 0, 10, "KeyError", "key 'y' missing"),
            _failure(world, 1, 11, None, "boom"),
            # Seen before only: not in the range at all.
            _failure(world, 0, 2, "RateLimitError", "rate limited"),
            # Before the range on another flow only: new when the filter names flow 0.
            _failure(world, 1, 1, "ValueError", "bad value"),
            _failure(world, 0, 12, "ValueError", "bad value"),
            # A success with an error text is no failure.
            world.run(flow=0, started_at=at(days=2), error_type="KeyError", error_message="boom"),
        ]
    )


def _expected_new(world: World, flt: FlowRunFilter) -> dict[tuple[str | None, str], bool]:
    """Groups in range -> new?, by pandas over the inserted rows."""
    frame = world.frame()
    frame = frame[frame.status == "failure"]
    if flt.flow_ids:
        frame = frame[frame.flow_id.isin(flt.flow_ids)]
    frame = frame.assign(
        key=[
            (None if pd.isna(t) else t, message_signature(m))
            for t, m in zip(frame.error_type, frame.error_message, strict=True)
        ]
    )
    start, end = flt.started_after, flt.started_before
    before = set(frame[frame.started_at < start].key)
    inside = frame[(frame.started_at >= start) & (frame.started_at < end)]
    return {key: key not in before for key in inside.key}


@pytest.mark.parametrize("one_flow", [False, True])
def test_new_error_groups_are_those_first_seen_inside_the_range(
    engine: Engine, one_flow: bool
) -> None:
    world = make_world(engine, flows=2)
    _seed_errors(world)
    flt = CURRENT.replace(flow_ids=[world.flows[0]]) if one_flow else CURRENT
    groups = q.error_groups_with_new(engine, flt)
    got = {
        (None if pd.isna(t) else t, s): bool(n)
        for t, s, n in zip(groups.error_type, groups.signature, groups.new, strict=True)
    }
    expected = _expected_new(world, flt)
    assert got == expected
    new_types = {t for (t, _), is_new in got.items() if is_new}
    assert new_types == ({"KeyError", "ValueError"} if one_flow else {"KeyError", None})


def test_nothing_is_new_without_a_range_start(engine: Engine) -> None:
    world = make_world(engine, flows=2)
    _seed_errors(world)
    groups = q.error_groups_with_new(engine, FlowRunFilter())
    assert len(groups) == 5 and not groups.new.any()
    assert q.earlier_filter(FlowRunFilter()) is None
    assert q.earlier_filter(CURRENT) == FlowRunFilter.build(started_before=at(days=7))


def test_mark_new_groups_matches_missing_types_and_signatures() -> None:
    current = pd.DataFrame({"error_type": [None, "A", "B"], "signature": ["s", None, "t"]})
    earlier = pd.DataFrame({"error_type": [float("nan"), "A"], "signature": ["s", float("nan")]})
    assert list(q.mark_new_groups(current, earlier).new) == [False, False, True]
    assert list(q.mark_new_groups(current, None).new) == [False, False, False]
