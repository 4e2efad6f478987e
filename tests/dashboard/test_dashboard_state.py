"""Pure parts of the dashboard: URL parsing round trip, time bounds, human units."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from dashboard.formatting import human_duration
from dashboard.state.filters import FilterState, filter_for, parse_params, time_bounds, to_params

FLOW = str(uuid.uuid4())
TODAY = date(2026, 3, 29)  # the day Europe/Berlin switches to summer time


def test_canonical_params_round_trip() -> None:
    state = FilterState(
        range="custom",
        dates=(date(2026, 1, 2), date(2026, 1, 9)),
        tz="Europe/Berlin",
        flows=(FLOW,),
        statuses=("failure", "success"),
        triggers=("api",),
        text="timeout",
        error_types=("TimeoutError",),
        error_sig="Request timed out after <n> s",
    )
    params = to_params(state)
    parsed, errors = parse_params(params, {FLOW}, TODAY)
    assert errors == [] and parsed == state


def test_defaults_give_a_clean_url() -> None:
    assert to_params(FilterState()) == {}
    assert parse_params({}, set(), TODAY) == (FilterState(), [])


def test_each_bad_parameter_is_named_and_dropped() -> None:
    params = {"range": ["week"], "flow": ["x", str(uuid.uuid4())], "trigger": ["fax"], "to": ["9"]}
    state, errors = parse_params(params, {FLOW}, TODAY)
    assert [e.split(":")[0] for e in errors] == ["range", "to", "flow", "flow", "trigger"]
    assert state.flows == () and state.triggers == () and state.dates is None


def test_custom_dates_cover_whole_local_days() -> None:
    state = FilterState(range="custom", dates=(TODAY, TODAY), tz="Europe/Berlin")
    after, before = time_bounds(state)
    assert after == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)  # CET midnight
    assert before == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)  # CEST midnight: a 23 h day


def test_presets_are_whole_buckets_so_the_filter_is_cacheable() -> None:
    now = datetime(2026, 5, 1, 12, 30, 41, tzinfo=UTC)
    first = filter_for(FilterState(range="24h"), now)
    assert first == filter_for(FilterState(range="24h"), now + timedelta(minutes=29))
    assert first.started_before == datetime(2026, 5, 1, 13, 0, tzinfo=UTC)  # this hour's end
    assert first.period == timedelta(hours=24)
    assert filter_for(FilterState(range="all"), now).started_after is None


def test_human_durations() -> None:
    assert [human_duration(v) for v in (None, 850, 2449, 192_000, 3_900_000)] == [
        "-",
        "850 ms",
        "2.4 s",
        "3 min 12 s",
        "1 h 05 min",
    ]
