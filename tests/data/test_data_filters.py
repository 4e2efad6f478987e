"""FlowRunFilter: every field alone and combined selects exactly what a Python predicate
over the inserted rows selects (a table of cases, datasette style); validation; identity."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from runfactory import World, at, clear, make_world
from sqlalchemy import Engine

from data import queries as q
from data.db import build_engine
from data.errors import InvalidQuery
from data.filters import MAX_FILTER_VALUES, FlowRunFilter
from data.retention import RetentionPolicy, prune
from data.signature import message_signature
from data.statuses import check_statuses, status_values
from data.sweep import sweep_stuck

STATUSES = ("success", "failure", "cancelled", "running", "pending", "weird")
TRIGGERS = ("manual", "api", "webhook", "schedule", "cron", "zap")
MESSAGES = (
    "Timeout after 30 s calling 'gpt-4o'",
    "TIMEOUT after 45 s calling 'claude'",
    "rate 50% exceeded",
    "rate 500 exceeded",
    "key_name missing",
    "keyXname missing",
    "ÄRGER with the Größe",
    None,
)
ERROR_TYPES = ("TimeoutError", "RateLimitError", "KeyError", None)
PLUS_TWO = timezone(timedelta(hours=2))


def seed_cases(world: World) -> None:
    """36 runs crossing every filtered column, with boundary values the cases aim at."""
    rows = []
    for i in range(36):
        rows.append(
            world.run(
                flow=i % 3,
                user=(None, 0, 1)[i % 3 if i % 4 else (i + 1) % 3],
                session_id=f"s{i % 4}",
                status=STATUSES[i % 6],
                trigger_type=TRIGGERS[(i // 2) % 6],
                started_at=at(hours=i * 5),
                duration_ms=None if i % 7 == 0 else (i * 100) % 1700,
                error_message=MESSAGES[i % len(MESSAGES)],
                error_type=ERROR_TYPES[i % 4],
            )
        )
    world.add(rows)


Case = tuple[str, Callable[[World], dict[str, Any]], Callable[[dict[str, Any], World], bool]]

CASES: list[Case] = [
    ("empty", lambda w: {}, lambda r, w: True),
    ("one_flow", lambda w: {"flow_ids": [w.flows[1]]}, lambda r, w: r["flow_id"] == w.flows[1]),
    (
        "two_flows",
        lambda w: {"flow_ids": [w.flows[0], w.flows[2]]},
        lambda r, w: r["flow_id"] in (w.flows[0], w.flows[2]),
    ),
    ("status", lambda w: {"statuses": ["success"]}, lambda r, w: r["status"] == "success"),
    (
        "unknown_status",
        lambda w: {"statuses": ["failure", "weird"]},
        lambda r, w: r["status"] in ("failure", "weird"),
    ),
    (
        "exclude_statuses",
        lambda w: {"exclude_statuses": ["success", "running"]},
        lambda r, w: r["status"] not in ("success", "running"),
    ),
    ("trigger", lambda w: {"trigger_types": ["cron"]}, lambda r, w: r["trigger_type"] == "cron"),
    (
        "triggers_with_unknown",
        lambda w: {"trigger_types": ["api", "zap"]},
        lambda r, w: r["trigger_type"] in ("api", "zap"),
    ),
    ("user", lambda w: {"user_id": w.users[1]}, lambda r, w: r["user_id"] == w.users[1]),
    ("session", lambda w: {"session_id": "s2"}, lambda r, w: r["session_id"] == "s2"),
    # Boundaries hit rows exactly: started_after is inclusive, started_before exclusive.
    (
        "started_after_inclusive",
        lambda w: {"started_after": at(hours=50)},
        lambda r, w: r["started_at"] >= at(hours=50),
    ),
    (
        "started_before_exclusive",
        lambda w: {"started_before": at(hours=50)},
        lambda r, w: r["started_at"] < at(hours=50),
    ),
    (
        "time_window",
        lambda w: {"started_after": at(hours=20), "started_before": at(hours=100)},
        lambda r, w: at(hours=20) <= r["started_at"] < at(hours=100),
    ),
    (
        "time_window_other_tz",
        lambda w: {
            "started_after": at(hours=20).astimezone(PLUS_TWO),
            "started_before": at(hours=100).astimezone(PLUS_TWO).isoformat(),
        },
        lambda r, w: at(hours=20) <= r["started_at"] < at(hours=100),
    ),
    (
        "min_duration",
        lambda w: {"min_duration_ms": 800},
        lambda r, w: r["duration_ms"] is not None and r["duration_ms"] >= 800,
    ),
    (
        "max_duration",
        lambda w: {"max_duration_ms": 800},
        lambda r, w: r["duration_ms"] is not None and r["duration_ms"] <= 800,
    ),
    (
        "duration_range",
        lambda w: {"min_duration_ms": 300, "max_duration_ms": 1200},
        lambda r, w: r["duration_ms"] is not None and 300 <= r["duration_ms"] <= 1200,
    ),
    (
        "duration_exact",
        lambda w: {"min_duration_ms": 1200, "max_duration_ms": 1200},
        lambda r, w: r["duration_ms"] == 1200,
    ),
    (
        "error_contains_case_insensitive",
        lambda w: {"error_contains": "timeout"},
        # The message or the type (TimeoutError runs whose message says something else).
        lambda r, w: "timeout" in f"{r['error_message'] or ''} {r['error_type'] or ''}".lower(),
    ),
    # LIKE wildcards in the needle are literal characters.
    (
        "error_contains_percent",
        lambda w: {"error_contains": "50%"},
        lambda r, w: "50%" in (r["error_message"] or ""),
    ),
    (
        "error_contains_underscore",
        lambda w: {"error_contains": "key_"},
        lambda r, w: "key_" in (r["error_message"] or ""),
    ),
    (
        "error_contains_non_ascii",
        lambda w: {"error_contains": "ärger"},
        lambda r, w: "ärger" in (r["error_message"] or "").lower(),
    ),
    (
        "error_types",
        lambda w: {"error_types": ["KeyError", "TimeoutError"]},
        lambda r, w: r["error_type"] in ("KeyError", "TimeoutError"),
    ),
    (
        "error_signature",
        lambda w: {"error_signature": message_signature(MESSAGES[0])},
        lambda r, w: message_signature(r["error_message"]) == message_signature(MESSAGES[0]),
    ),
    (
        "combined",
        lambda w: {
            "flow_ids": [w.flows[0], w.flows[1]],
            "statuses": ["success", "failure", "weird"],
            "started_after": at(hours=10),
            "min_duration_ms": 100,
            "trigger_types": ["manual", "api", "webhook", "zap"],
        },
        lambda r, w: (
            r["flow_id"] in (w.flows[0], w.flows[1])
            and r["status"] in ("success", "failure", "weird")
            and r["started_at"] >= at(hours=10)
            and r["duration_ms"] is not None
            and r["duration_ms"] >= 100
            and r["trigger_type"] in ("manual", "api", "webhook", "zap")
        ),
    ),
    (
        "combined_user_session_errors",
        lambda w: {"user_id": w.users[0], "session_id": "s1", "error_contains": "missing"},
        lambda r, w: (
            r["user_id"] == w.users[0]
            and r["session_id"] == "s1"
            and "missing" in (r["error_message"] or "")
        ),
    ),
]


@pytest.mark.parametrize(("name", "make_filter", "predicate"), CASES, ids=[c[0] for c in CASES])
def test_filter_selects_what_the_predicate_selects(
    world: World,
    name: str,
    make_filter: Callable[[World], dict[str, Any]],
    predicate: Callable[[dict[str, Any], World], bool],
) -> None:
    seed_cases(world)
    flt = FlowRunFilter.build(**make_filter(world))
    expected = world.ids(lambda r: predicate(r, world))
    # Every case must discriminate: neither nothing nor (except "empty") everything.
    assert expected, name
    assert name == "empty" or len(expected) < len(world.runs)
    listed = q.list_runs(world.engine, flt, limit=500).runs
    assert {r.id for r in listed} == expected
    assert len(listed) == len(expected)
    assert q.count_runs(world.engine, flt) == len(expected)
    assert q.run_stats(world.engine, flt, compare=False).total == len(expected)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"started_after": at(1), "started_before": at(1)}, "started_after"),
        ({"started_after": at(2), "started_before": at(1)}, "started_after"),
        ({"min_duration_ms": 10, "max_duration_ms": 9}, "min_duration_ms"),
        ({"min_duration_ms": -1}, "min_duration_ms"),
        ({"flow_ids": ["not-a-uuid"]}, "flow_ids"),
        ({"user_id": "12345"}, "user_id"),
        ({"statuses": [f"s{i}" for i in range(MAX_FILTER_VALUES + 1)]}, "statuses"),
        ({"flow_ids": [uuid.uuid4() for _ in range(MAX_FILTER_VALUES + 1)]}, "flow_ids"),
        ({"started_after": "yesterday-ish"}, "started_after"),
        ({"error_contains": "x" * 501}, "error_contains"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_input_raises_invalid_query_naming_the_field(
    values: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidQuery) as raised:
        FlowRunFilter.build(**values)
    message = str(raised.value)
    assert field in message
    assert "\n" not in message


def test_limits_are_inclusive() -> None:
    at_limit = FlowRunFilter.build(statuses=[f"s{i}" for i in range(MAX_FILTER_VALUES)])
    assert len(at_limit.statuses) == MAX_FILTER_VALUES
    assert FlowRunFilter.build(min_duration_ms=5, max_duration_ms=5).min_duration_ms == 5


def test_filters_are_hashable_and_normalised() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    one = FlowRunFilter.build(flow_ids=[a, b, a], statuses=["failure", " success ", ""])
    other = FlowRunFilter.build(flow_ids=[str(b), str(a)], statuses=["success", "failure"])
    assert one == other
    assert hash(one) == hash(other)
    assert {one: "cached"}[other] == "cached"
    assert one.statuses == ("failure", "success")
    assert len(one.flow_ids) == 2
    assert hash(one) != hash(one.replace(statuses=["failure"]))


def test_filters_are_immutable_and_replace_copies() -> None:
    flt = FlowRunFilter.build(statuses=["success"])
    with pytest.raises(ValidationError):
        flt.statuses = ("failure",)  # type: ignore[misc]
    changed = flt.replace(statuses=["failure"])
    assert flt.statuses == ("success",)
    assert changed.statuses == ("failure",)
    with pytest.raises(InvalidQuery, match="min_duration_ms"):
        flt.replace(min_duration_ms=5, max_duration_ms=1)


def test_is_empty_and_blank_text() -> None:
    assert FlowRunFilter().is_empty
    assert FlowRunFilter.build(session_id="  ", error_contains="", statuses=[" "]).is_empty
    assert not FlowRunFilter.build(session_id="s1").is_empty


def test_times_are_normalised_to_utc() -> None:
    local = datetime(2024, 1, 2, 5, 0, tzinfo=PLUS_TWO)
    flt = FlowRunFilter.build(started_after=local, started_before="2024-01-02T03:30:00")
    assert flt.started_after == datetime(2024, 1, 2, 3, 0, tzinfo=UTC)
    assert flt.started_after is not None and flt.started_after.utcoffset() == timedelta(0)
    # A naive input is taken as UTC.
    assert flt.started_before == datetime(2024, 1, 2, 3, 30, tzinfo=UTC)


def test_previous_period_is_the_equal_length_window_just_before() -> None:
    flow = uuid.uuid4()
    flt = FlowRunFilter.build(
        flow_ids=[flow], statuses=["failure"], started_after=at(10), started_before=at(17)
    )
    previous = flt.previous_period()
    assert previous is not None
    assert previous.started_after == at(3)
    assert previous.started_before == at(10)
    assert previous.period == flt.period == timedelta(days=7)
    assert previous.replace(started_after=None, started_before=None) == flt.replace(
        started_after=None, started_before=None
    )
    assert FlowRunFilter.build(started_after=at(1)).previous_period() is None
    assert FlowRunFilter.build(started_before=at(1)).previous_period() is None
    assert FlowRunFilter().previous_period() is None


# Wildcards, escapes, quotes, and non-ASCII letters (SQLite's own lower() is ASCII-only).
NEEDLE_ALPHABET = "abcAB %_/\\'\"[]^!-äÄöÖéÉ"


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    messages=st.lists(st.text(alphabet=NEEDLE_ALPHABET, max_size=12), min_size=1, max_size=6),
    pick=st.tuples(st.integers(0, 5), st.integers(0, 12), st.integers(1, 6)),
)
def test_error_contains_is_a_literal_case_insensitive_substring(
    engine: Engine, messages: list[str], pick: tuple[int, int, int]
) -> None:
    """LIKE wildcards and escape characters in the needle match only themselves."""
    clear(engine)
    world = make_world(engine, flows=1, users=0)
    world.add(world.run(error_message=m, started_at=at(minutes=i)) for i, m in enumerate(messages))
    source = messages[pick[0] % len(messages)]
    needle = source[pick[1] : pick[1] + pick[2]].swapcase()
    if not needle.strip():
        return
    flt = FlowRunFilter.build(error_contains=needle)
    expected = world.ids(lambda r: needle.lower() in r["error_message"].lower())
    assert {r.id for r in q.list_runs(engine, flt).runs} == expected


# --- Statuses as real tables hold them (issue 8 item 9, data.statuses) -----------------

SPELLINGS = ("success", "SUCCESS", "Success", "sUcCeSs", "weird", "WEIRD", "failure", "Odd")


@pytest.fixture
def spelled(world: World) -> World:
    """One run per spelling; the "Odd" run belongs to the second user only."""
    world.add([world.run(status=status, user=1 if status == "Odd" else 0) for status in SPELLINGS])
    return world


def statuses_of(world: World, *values: str) -> list[str]:
    flt = FlowRunFilter.build(statuses=values)
    return sorted(run.status for run in q.list_runs(world.engine, flt, limit=100).runs)


def test_a_status_matches_its_lower_upper_and_capitalised_spellings(spelled: World) -> None:
    assert statuses_of(spelled, "success") == ["SUCCESS", "Success", "success"]
    assert statuses_of(spelled, "SUCCESS") == statuses_of(spelled, "success")
    assert statuses_of(spelled, "Weird") == ["WEIRD", "weird"]
    # Any other spelling is a value of its own, matched exactly.
    assert statuses_of(spelled, "sUcCeSs") == ["sUcCeSs"]
    excluded = FlowRunFilter.build(exclude_statuses=["success", "weird"])
    remaining = q.list_runs(spelled.engine, excluded, limit=100).runs
    assert sorted(run.status for run in remaining) == ["Odd", "failure", "sUcCeSs"]
    assert FlowRunFilter.build(statuses=["SUCCESS", "success "]).statuses == ("success",)


def test_known_statuses_are_valid_and_others_only_when_present_in_scope(spelled: World) -> None:
    engine = spelled.engine
    assert check_statuses(engine, ["RUNNING", "cancelled"]) == ("running", "cancelled")
    # An unknown status is named by its lower case when stored in one of its case spellings.
    assert check_statuses(engine, ["WEIRD", "sUcCeSs", "Odd"]) == ("weird", "sUcCeSs", "odd")
    for absent in ("bogus", "sucess", "SUCCESs"):
        with pytest.raises(InvalidQuery, match=f"status: unknown status '{absent}'"):
            check_statuses(engine, [absent])
    first_user = FlowRunFilter(user_id=spelled.users[0]).where()
    assert check_statuses(engine, ["weird"], first_user) == ("weird",)
    with pytest.raises(InvalidQuery, match="unknown status 'odd'"):
        check_statuses(engine, ["Odd"], first_user)  # only the other user's runs have it
    for bad, message in ((" ", "must not be empty"), ("x" * 101, "at most 100")):
        with pytest.raises(InvalidQuery, match=message):
            check_statuses(engine, [bad])


def test_status_values_lists_what_the_table_holds(spelled: World) -> None:
    assert status_values(spelled.engine) == ["success", "failure", "odd", "sUcCeSs", "weird"]
    clear(spelled.engine)
    assert status_values(spelled.engine) == []


def test_every_surface_counts_other_statuses_so_columns_add_up(spelled: World) -> None:
    stats = q.run_stats(spelled.engine, FlowRunFilter())
    assert stats.status_counts == {
        "success": 3,
        "failure": 1,
        "weird": 2,
        "sUcCeSs": 1,
        "odd": 1,
    }
    assert (stats.other, stats.finished, stats.success_rate) == (4, 4, 0.75)
    for frame in (
        q.flow_breakdown(spelled.engine, FlowRunFilter()),
        q.run_timeseries(spelled.engine, FlowRunFilter(), bucket="day"),
    ):
        assert int(frame["success"].sum()) == 3 and int(frame["other"].sum()) == 4
        statuses = ["pending", "running", "success", "failure", "cancelled", "other"]
        assert (frame[statuses].sum(axis=1) == frame["runs"]).all()


def test_nothing_finished_is_no_data_not_zero(world: World) -> None:
    world.add([world.run(status="running", duration_ms=None), world.run(status="weird")])
    stats = q.run_stats(world.engine, FlowRunFilter())
    assert (stats.total, stats.finished, stats.success_rate) == (2, 0, None)
    assert stats.without_duration == 2 and stats.avg_duration_ms is None
    series = q.run_timeseries(world.engine, FlowRunFilter(), bucket="day")
    assert series["success_rate"].isna().all()
    assert q.flow_breakdown(world.engine, FlowRunFilter())["success_rate"].isna().all()


def test_upper_case_active_runs_stay_protected_and_failures_keep_their_age(world: World) -> None:
    """Retention and the stuck-run sweep read statuses by the same rule."""
    now = at(days=60)
    old = now - timedelta(days=40)
    world.add(
        [
            world.run(status="RUNNING", started_at=old),
            world.run(status="FAILURE", started_at=old),
            world.run(status="Success", started_at=old),
        ]
    )
    policy = RetentionPolicy(max_age_days=30, status_max_age_days={"failure": 90})
    result = prune(world.engine, policy, now=now)
    left = sorted(run.status for run in q.list_runs(world.engine, FlowRunFilter()).runs)
    assert (result.total, left) == (1, ["FAILURE", "RUNNING"])
    assert sweep_stuck(world.engine, timedelta(hours=2), now=now) == 1
    swept = q.list_runs(world.engine, FlowRunFilter.build(error_types=["Timeout"])).runs
    assert [(run.status, run.started_at) for run in swept] == [("failure", old)]


def test_a_status_stored_as_a_blob_or_number_is_an_other_status(sqlite_url: str) -> None:
    """SQLite keeps whatever another engine wrote; reading never fails on it."""
    world = make_world(build_engine(sqlite_url))
    world.add([world.run(status="success")])
    with world.engine.begin() as conn:
        for raw in ("X'535543434553535f'", "7"):  # b"SUCCESS_" and a number
            conn.exec_driver_sql(
                "INSERT INTO flow_run (id, flow_id, status, started_at, trigger_type,"
                f" components_executed) SELECT lower(hex(randomblob(16))), flow_id, {raw},"
                " started_at, trigger_type, 0 FROM flow_run LIMIT 1"
            )
    stats = q.run_stats(world.engine, FlowRunFilter())
    assert (stats.total, stats.other, stats.status_counts["success"]) == (3, 2, 1)
    assert set(status_values(world.engine)) == {"success", "success_", "7"}
