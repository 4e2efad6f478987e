"""The data layer's ``other`` (unknown statuses) and ``without_duration`` reach the screen:
the status-mix chart's "other" segment, the Flows table's "other status" column, and the
note on runs left out of the duration figures, each against pandas over the same rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from dashworld import all_rows, app, assert_clean, legacy_statuses, seed
from sqlalchemy import Engine, update

from dashboard.charts import colours, overview
from dashboard.components.flow_table import flows_view
from dashboard.formatting import without_duration_note
from data import queries as q
from data.db import build_engine
from data.filters import FlowRunFilter
from data.models import FlowRun


@pytest.fixture
def legacy(sqlite_url: str):  # type: ignore[no-untyped-def]
    rows = legacy_statuses(sqlite_url)
    engine = build_engine(sqlite_url)
    yield engine, rows
    engine.dispose()


def test_status_mix_has_an_other_segment_for_unknown_statuses(legacy) -> None:  # type: ignore[no-untyped-def]
    engine, rows = legacy
    engine: Engine
    series = q.run_timeseries(engine, FlowRunFilter(), tz="UTC")
    fig = overview.status_mix(series, "UTC", (None, None), datetime.now(UTC))
    by_name = {trace.name: trace for trace in fig.data}
    assert sum(by_name["other"].y) == int((rows["status"] == "weird").sum()) == 5
    assert by_name["other"].marker.color == colours.OTHER_COLOUR
    # SUCCESS is a success, and every run is in exactly one segment.
    assert sum(by_name["success"].y) == int(rows["status"].str.lower().eq("success").sum())
    assert sum(sum(trace.y) for trace in fig.data) == len(rows)


def test_flows_table_counts_other_statuses_per_flow(legacy) -> None:  # type: ignore[no-untyped-def]
    engine, rows = legacy
    table = q.flag_flows(q.flow_breakdown(engine, FlowRunFilter()), None)
    labels = {str(f): f"label {i}" for i, f in enumerate(table["flow_id"])}
    view = flows_view(table, labels, [[] for _ in range(len(table))], "UTC", "day")
    expected = rows[rows["status"] == "weird"].groupby("flow_id").size()
    shown = dict(zip(table["flow_id"].astype(str), view["other status"], strict=True))
    assert {f: n for f, n in shown.items() if n} == {str(f): n for f, n in expected.items()}
    assert list(view["flow"]) == [labels[str(f)] for f in table["flow_id"]]


def test_flows_table_has_no_other_column_without_unknown_statuses(sqlite_url: str) -> None:
    seed(sqlite_url, runs=40)
    engine = build_engine(sqlite_url)
    table = q.flag_flows(q.flow_breakdown(engine, FlowRunFilter()), None)
    engine.dispose()
    view = flows_view(table, {}, [[] for _ in range(len(table))], "UTC", "day")
    assert "other status" not in view.columns and list(view["runs"]) == list(table["runs"])


def test_without_duration_note_wording() -> None:
    assert without_duration_note(0) is None
    assert (
        without_duration_note(1) == "1 run without a duration is left out of the duration figures."
    )
    assert without_duration_note(1200, "p50 and p95") == (
        "1,200 runs without a duration are left out of p50 and p95."
    )


def test_overview_says_how_many_runs_have_no_duration(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    legacy_statuses(sqlite_url)
    engine = build_engine(sqlite_url)
    with engine.begin() as conn:  # another engine recorded no duration for its runs
        conn.execute(update(FlowRun).where(FlowRun.status == "weird").values(duration_ms=None))
    engine.dispose()
    untimed = int(all_rows(sqlite_url)["duration_ms"].isna().sum())
    assert untimed >= 5
    at = app(monkeypatch, sqlite_url, {"range": "all"})
    assert_clean(at)
    wanted = without_duration_note(untimed)
    assert [c.value for c in at.caption].count(wanted) == 1
    at.switch_page("views/flows.py").run()
    assert_clean(at)
    assert without_duration_note(untimed, "p50 and p95") in [c.value for c in at.caption]
