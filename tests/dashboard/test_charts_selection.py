"""Chart selections -> filter changes (``dashboard.state.selection``), the minute-precise
custom range in the URL, preset alignment, and the KPI deltas. No Streamlit needed."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from dashboard.components import kpis
from dashboard.state import selection as sel
from dashboard.state.filters import FilterState, parse_params, time_bounds, to_params
from data.queries import RunStats

FLOW = str(uuid.UUID(int=5))
BASE = FilterState(range="7d", tz="Europe/Berlin", triggers=("api",))


def _click(*custom: object) -> dict[str, object]:
    return {"points": [{"customdata": list(custom), "x": "ignored"}], "box": [], "lasso": []}


def test_bucket_click_sets_that_bucket_and_its_status() -> None:
    picked = sel.time_pick(_click("2026-03-29T00:00", "2026-03-30T00:00", "failure"), BASE)
    assert picked is not None
    assert picked.range == "custom" and picked.statuses == ("failure",)
    assert picked.from_ts == datetime(2026, 3, 29) and picked.to_ts == datetime(2026, 3, 30)
    assert picked.triggers == ("api",)  # other filters stay
    assert to_params(picked)["from"] == ["2026-03-29T00:00"]
    assert to_params(picked)["to"] == ["2026-03-30T00:00"]
    after, before = time_bounds(picked)
    assert after == datetime(2026, 3, 28, 23, tzinfo=UTC)  # CET midnight
    assert before - after == timedelta(hours=23)  # the DST day
    volume = sel.time_pick(_click("2026-03-29T10:00", "2026-03-29T11:00", ""), BASE)
    assert volume is not None and volume.statuses == ()  # a volume bar sets no status
    other = sel.time_pick(_click("2026-03-29T10:00", "2026-03-29T11:00", "other"), BASE)
    assert other is not None and other.statuses == ()  # no filter names unknown statuses


def test_drag_becomes_a_minute_precise_span() -> None:
    box = {"points": [], "box": [{"x": ["2026-05-01 10:17:45.2", "2026-05-01 08:03:00"]}]}
    picked = sel.time_pick(box, BASE)
    assert picked is not None
    assert (picked.from_ts, picked.to_ts) == (
        datetime(2026, 5, 1, 8, 3),
        datetime(2026, 5, 1, 10, 18),
    )
    assert picked.dates == (date(2026, 5, 1), date(2026, 5, 1))
    # A drag on the errors chart picks a span too, and keeps the error filters.
    assert sel.error_pick(box, BASE) == picked
    assert sel.time_pick({"points": [], "box": [{"x": ["2026-05-01 08:00"]}]}, BASE) is None


def test_error_flow_grid_and_run_picks() -> None:
    err = sel.error_pick(_click("2026-05-01T00:00", "2026-05-02T00:00", "TimeoutError"), BASE)
    assert err == replace(BASE, statuses=("failure",), error_types=("TimeoutError",))
    untyped = sel.error_pick(_click("2026-05-01T00:00", "2026-05-02T00:00", ""), BASE)
    assert untyped is not None and untyped.error_types == () and untyped.statuses == ("failure",)
    assert sel.flow_pick(_click(FLOW, "alpha"), BASE) == replace(BASE, flows=(FLOW,))
    assert sel.flow_pick(_click("not-a-uuid"), BASE) is None
    cell = sel.grid_pick(_click(FLOW, "2026-05-01T10:00", "2026-05-01T11:00", "span"), BASE)
    assert cell is not None and cell.flows == (FLOW,)
    assert (cell.from_ts, cell.to_ts) == (datetime(2026, 5, 1, 10), datetime(2026, 5, 1, 11))
    box = {"points": [], "box": [{"x": ["2026-05-01 10:00", "2026-05-01 12:00"]}]}
    dragged = sel.grid_pick(box, BASE)
    assert dragged is not None and dragged.flows == () and dragged.to_ts == datetime(2026, 5, 1, 12)
    assert sel.run_pick(_click(FLOW.upper())) == FLOW
    assert sel.run_pick({"points": [], "box": []}) is None
    assert sel.time_pick({"points": [{"x": 1}], "box": []}, BASE) is None


def test_table_row_picks() -> None:
    groups = [("TimeoutError", "timed out after <n> s"), (None, "boom"), (float("nan"), "x")]
    picked = sel.error_row_pick({"rows": [0], "columns": []}, BASE, groups)
    assert picked == replace(
        BASE,
        statuses=("failure",),
        error_types=("TimeoutError",),
        error_sig="timed out after <n> s",
    )
    untyped = sel.error_row_pick({"rows": [2]}, BASE, groups)
    assert untyped is not None and untyped.error_types == () and untyped.error_sig == "x"
    assert sel.error_row_pick({"rows": [3]}, BASE, groups) is None  # a stale row index
    assert sel.error_row_pick({"rows": []}, BASE, groups) is None
    flows = [str(uuid.UUID(int=i)) for i in range(3)]
    assert sel.flow_row_pick({"rows": [1]}, BASE, flows) == replace(BASE, flows=(flows[1],))
    assert sel.flow_row_pick({"rows": [9]}, BASE, flows) is None


def test_datetime_links_parse_and_date_links_still_work() -> None:
    params = {"from": ["2026-05-01T10:00"], "to": ["2026-05-01T11:30"], "tz": ["Asia/Tokyo"]}
    state, errors = parse_params(params, set(), date(2026, 5, 2))
    assert errors == []
    assert state.range == "custom" and state.to_ts == datetime(2026, 5, 1, 11, 30)
    assert to_params(state) == {
        "range": ["custom"],
        "from": ["2026-05-01T10:00"],
        "to": ["2026-05-01T11:30"],
        "tz": ["Asia/Tokyo"],
    }
    assert time_bounds(state)[0] == datetime(2026, 5, 1, 1, tzinfo=UTC)
    dated, errors = parse_params(
        {"from": ["2026-05-01"], "to": ["2026-05-03"]}, set(), date.today()
    )
    assert errors == [] and dated.dates == (date(2026, 5, 1), date(2026, 5, 3))
    assert dated.from_ts is None
    for bad in (
        {"from": ["2026-05-01T12:00"], "to": ["2026-05-01T11:00"]},
        {"from": ["2026-05-01T25:00"], "to": ["2026-05-01T11:00"]},
        {"from": ["2026-05-01T10:00"]},
    ):
        state, errors = parse_params(bad, set(), date(2026, 5, 2))
        assert errors and errors[0].startswith("from") and state.from_ts is None


def test_last_7_days_is_seven_local_day_buckets() -> None:
    now = datetime(2026, 3, 30, 22, 30, tzinfo=UTC)  # already 31 March in Berlin (CEST)
    after, before = time_bounds(FilterState(range="7d", tz="Europe/Berlin"), now)
    assert after == datetime(2026, 3, 24, 23, tzinfo=UTC)  # 25 March, CET midnight
    assert before == datetime(2026, 3, 31, 22, tzinfo=UTC)  # 1 April, CEST midnight
    hours_after, hours_before = time_bounds(FilterState(range="24h", tz="Asia/Kolkata"), now)
    assert hours_before == datetime(2026, 3, 30, 23, 30, tzinfo=UTC)  # 05:00 in Kolkata
    assert hours_before - hours_after == timedelta(hours=24)


def _stats(total: int, success: int, failure: int, running: int = 0, **kw: object) -> RunStats:
    return RunStats(
        total=total,
        status_counts={"success": success, "failure": failure, "running": running},
        trigger_counts={},
        avg_duration_ms=None,
        p50_duration_ms=kw.get("p50", 1000.0),  # type: ignore[arg-type]
        p95_duration_ms=2000.0,
        p99_duration_ms=None,
        max_duration_ms=None,
        previous=kw.get("previous"),  # type: ignore[arg-type]
    )


def test_kpi_deltas() -> None:
    empty_before = _stats(50, 40, 10, previous=_stats(0, 0, 0, p50=None))
    tiles = {t.label: t for t in kpis.tiles(empty_before)}
    assert tiles["Runs"].delta == kpis.NO_EARLIER and tiles["Runs"].arrow == "off"
    assert tiles["p50 duration"].delta == kpis.NO_EARLIER
    assert tiles["In progress"].delta is None
    same = _stats(50, 40, 10, 2, previous=_stats(50, 40, 10, 7))
    tiles = {t.label: t for t in kpis.tiles(same)}
    for label in ("Runs", "Success rate", "Failures", "p50 duration"):
        assert (tiles[label].delta, tiles[label].arrow, tiles[label].colour) == (
            kpis.NO_CHANGE,
            "off",
            "off",
        )
    assert tiles["In progress"].delta is None
    worse = _stats(60, 45, 15, previous=_stats(50, 45, 5, p50=800.0))
    tiles = {t.label: t for t in kpis.tiles(worse)}
    assert tiles["Runs"].delta == "+10" and tiles["Failures"].delta == "+10"
    assert tiles["Failures"].colour == "inverse" and tiles["Runs"].arrow == "auto"
    assert tiles["Success rate"].delta == f"{(45 / 60 - 45 / 50) * 100:+.1f} pp"
    assert tiles["p50 duration"].delta == "+200 ms"
    unbounded = {t.label: t for t in kpis.tiles(_stats(5, 5, 0))}
    assert all(t.delta is None for t in unbounded.values())
