"""Every page renders; filters (widgets and URL) change the numbers; KPIs equal pandas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from dashworld import (
    FINISHED,
    SEED_NOW,
    all_rows,
    app,
    assert_clean,
    matched_total,
    metric,
    seed,
)

from dashboard.formatting import human_duration, md_escape

PAGES = {
    "views/history.py": "History",
    "views/flows.py": "Flows",
    "views/errors.py": "Errors",
    "views/retention.py": "Retention",
}


def test_every_page_renders(monkeypatch: pytest.MonkeyPatch, db_url: str) -> None:
    seed(db_url)
    at = app(monkeypatch, db_url, {"range": "all"})
    assert_clean(at)
    assert at.title[0].value == "Overview"
    assert len(at.metric) == 6
    for path, title in PAGES.items():
        at.switch_page(path).run()
        assert_clean(at)
        assert at.title[0].value == title


def _custom_range() -> tuple[dict[str, str], datetime, datetime]:
    today = SEED_NOW.date()
    start = today - timedelta(days=6)
    params = {"from": start.isoformat(), "to": today.isoformat()}
    after = datetime.combine(start, datetime.min.time(), UTC)
    return params, after, after + timedelta(days=7)


def _kpis(rows: pd.DataFrame) -> dict[str, float | int | None]:
    counts = rows["status"].value_counts()
    finished = sum(int(counts.get(s, 0)) for s in FINISHED)
    durations = rows["duration_ms"].dropna().astype(float)
    return {
        "runs": len(rows),
        "rate": int(counts.get("success", 0)) / finished if finished else None,
        "failures": int(counts.get("failure", 0)),
        "p50": durations.quantile(0.5) if len(durations) else None,
        "p95": durations.quantile(0.95) if len(durations) else None,
        "active": int(counts.get("pending", 0) + counts.get("running", 0)),
    }


def _delta(text: str) -> str:
    """A delta as the tile shows it: one that prints as zero (+0, +0.0 pp) is "no change"."""
    return "no change" if set(filter(str.isdigit, text)) == {"0"} else text


def test_kpis_equal_pandas_over_the_same_rows(monkeypatch: pytest.MonkeyPatch, db_url: str) -> None:
    seed(db_url, runs=400)
    params, after, before = _custom_range()
    at = app(monkeypatch, db_url, params)
    assert_clean(at)
    rows = all_rows(db_url)
    current = _kpis(rows[(rows.started_at >= after) & (rows.started_at < before)])
    prev_rows = rows[(rows.started_at >= after - (before - after)) & (rows.started_at < after)]
    previous = _kpis(prev_rows)
    assert current["runs"] and previous["runs"], "seed must cover both periods"
    runs_delta = current["runs"] - previous["runs"]
    assert metric(at, "Runs") == (f"{current['runs']:,}", _delta(f"{runs_delta:+,}"))
    assert metric(at, "Success rate")[0] == f"{current['rate'] * 100:.1f}%"
    change = (current["rate"] - previous["rate"]) * 100
    assert metric(at, "Success rate")[1] == _delta(f"{change:+.1f} pp")
    failures = current["failures"] - previous["failures"]
    assert metric(at, "Failures") == (f"{current['failures']:,}", _delta(f"{failures:+,}"))
    assert metric(at, "p50 duration")[0] == human_duration(current["p50"])
    assert metric(at, "p95 duration")[0] == human_duration(current["p95"])
    assert metric(at, "In progress")[0] == f"{current['active']:,}"


def test_status_and_text_filters_change_the_numbers(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    seed(sqlite_url)
    rows = all_rows(sqlite_url)
    at = app(monkeypatch, sqlite_url, {"range": "all"})
    assert metric(at, "Runs")[0] == f"{len(rows):,}"

    at.multiselect(key="f_statuses").set_value(["failure"]).run()
    failures = int((rows.status == "failure").sum())
    assert 0 < failures < len(rows)
    assert metric(at, "Runs")[0] == f"{failures:,}"
    assert at.query_params["status"] == "failure"  # the URL follows the widgets

    at.multiselect(key="f_statuses").set_value([]).run()
    at.text_input(key="f_text").input("TIMED OUT").run()
    matches = int(rows.error_message.fillna("").str.lower().str.contains("timed out").sum())
    assert 0 < matches < failures
    assert metric(at, "Runs")[0] == f"{matches:,}"
    at.switch_page("views/history.py").run()
    assert matched_total(at) == matches  # kept across the page switch


def test_url_parameters_seed_the_filters(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    seed(sqlite_url)
    rows = all_rows(sqlite_url)
    flow_id = rows.flow_id.astype(str).value_counts().index[0]
    params = {"range": "all", "flow": flow_id, "trigger": ["api", "webhook"], "tz": "Asia/Tokyo"}
    at = app(monkeypatch, sqlite_url, params)
    assert_clean(at)
    at.switch_page("views/history.py").run()
    assert_clean(at)
    of_flow = rows.flow_id.astype(str) == flow_id
    wanted = rows[of_flow & rows.trigger_type.isin(["api", "webhook"])]
    assert matched_total(at) == len(wanted) > 0
    assert any("(Asia/Tokyo)" in column for column in at.dataframe[0].value.columns)
    assert at.query_params["flow"] == flow_id and at.query_params["tz"] == "Asia/Tokyo"


def test_invalid_url_parameters_give_one_named_error(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    seed(sqlite_url, runs=50)
    params = {
        "range": "fortnight",
        "flow": "not-a-uuid",
        "status": "exploded",
        "from": "2026-13-40",
        "tz": "Mars/Olympus",
    }
    at = app(monkeypatch, sqlite_url, params)
    assert not at.exception
    assert len(at.error) == 1
    message = at.error[0].value
    for name in ("range:", "flow:", "status:", "from:", "tz:"):
        assert md_escape(name) in message  # the link's text is shown escaped
    assert len(at.metric) == 6  # the page still renders, with defaults
    assert at.session_state["f_range"] == "7d" and at.session_state["f_tz"] == "UTC"


def test_errors_link_opens_history_for_that_group(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    seed(sqlite_url)
    at = app(monkeypatch, sqlite_url, {"range": "all"})
    at.switch_page("views/errors.py").run()
    assert_clean(at)
    first_group_count = int(at.dataframe[0].value["count"].iloc[0])
    next(b for b in at.button if b.label == "History →").click().run()  # the first group
    assert_clean(at)
    assert at.title[0].value == "History"
    assert matched_total(at) == first_group_count
    assert at.session_state["f_statuses"] == ["failure"]


def test_flows_page_focus_filters_every_page(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    seed(sqlite_url)
    rows = all_rows(sqlite_url)
    at = app(monkeypatch, sqlite_url, {"range": "all"})
    at.switch_page("views/flows.py").run()
    table = at.dataframe[0].value
    assert table["runs"].sum() == len(rows)
    flow_id = rows.flow_id.astype(str).value_counts().index[-1]  # the least-run flow
    at.selectbox(key="flows_pick").set_value(flow_id).run()
    at.button(key="flows_focus").click().run()
    at.switch_page("views/overview.py").run()
    expected = int((rows.flow_id.astype(str) == flow_id).sum())
    assert 0 < expected < len(rows)
    assert at.session_state["f_flows"] == [flow_id]
    assert metric(at, "Runs")[0] == f"{expected:,}"


def test_history_pages_through_all_runs_in_order(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    seed(sqlite_url, runs=120)
    rows = all_rows(sqlite_url)
    at = app(monkeypatch, sqlite_url, {"range": "all"})
    at.switch_page("views/history.py").run()
    at.selectbox(key="h_size").set_value(25).run()
    at.selectbox(key="h_sort").set_value("duration_ms").run()
    seen: list[str] = []
    while True:
        seen += list(at.dataframe[0].value["run id"])
        next_button = next(b for b in at.button if b.label == "Next →")
        if next_button.disabled:
            break
        next_button.click().run()
    assert len(seen) == len(set(seen)) == len(rows)
    durations = rows.set_index("id").loc[seen, "duration_ms"].fillna(-1).tolist()
    assert durations == sorted(durations, reverse=True)
    next(b for b in at.button if b.label == "← Previous").click().run()
    assert list(at.dataframe[0].value["run id"]) == seen[-45:-20]


def test_custom_dates_and_time_zone_from_the_widgets(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    seed(sqlite_url)
    rows = all_rows(sqlite_url)
    at = app(monkeypatch, sqlite_url)
    at.selectbox(key="f_tz").set_value("America/New_York").run()
    at.selectbox(key="f_range").set_value("custom").run()
    day = (SEED_NOW - timedelta(days=3)).date()
    at.text_input(key="f_from_text").input((day - timedelta(days=1)).isoformat())
    at.text_input(key="f_to_text").input(day.isoformat())
    at.button(key="FormSubmitter:custom_range-Apply dates").click().run()
    assert_clean(at)
    local = rows.started_at.dt.tz_convert("America/New_York").dt.date
    wanted = rows[(local >= day - timedelta(days=1)) & (local <= day)]
    assert 0 < len(wanted) < len(rows)
    assert metric(at, "Runs")[0] == f"{len(wanted):,}"
    assert at.query_params["from"] == (day - timedelta(days=1)).isoformat()
    at.switch_page("views/history.py").run()
    newest = wanted.sort_values("started_at").iloc[-1]
    shown = at.dataframe[0].value.iloc[0]
    assert shown["run id"] == newest["id"]
    expected = newest["started_at"].tz_convert("America/New_York").strftime("%Y-%m-%d %H:%M:%S")
    assert shown["started (America/New_York)"] == expected


def test_auto_refresh_renders(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    seed(sqlite_url, runs=60)
    at = app(monkeypatch, sqlite_url)
    at.toggle(key="overview_auto_refresh").set_value(True).run()
    assert_clean(at)
    assert len(at.metric) == 6


def test_csv_export_is_exactly_the_filtered_runs(
    monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    import io

    from dashboard import data_access as da
    from data.filters import FlowRunFilter

    seed(db_url, runs=150)
    rows = all_rows(db_url)
    app(monkeypatch, db_url)  # points the settings at db_url
    flt = FlowRunFilter.build(statuses=["failure", "cancelled"])
    text = da.csv_builder(flt, ("id", "status", "error_message"))()
    csv = pd.read_csv(io.StringIO(text), keep_default_na=False)
    wanted = rows[rows.status.isin(["failure", "cancelled"])]
    assert sorted(csv["id"]) == sorted(wanted["id"])
    assert list(csv.columns) == ["id", "status", "error_message"]


def test_results_are_cached_until_refresh(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    from data.db import build_engine
    from data.demo import generate_demo

    seed(sqlite_url, runs=50)
    at = app(monkeypatch, sqlite_url, {"range": "all"})
    assert metric(at, "Runs")[0] == "50"
    engine = build_engine(sqlite_url)
    generate_demo(engine, 7, days=5, now=SEED_NOW, seed=99)  # recorded meanwhile
    engine.dispose()
    at.run()
    assert metric(at, "Runs")[0] == "50"  # served from st.cache_data (TTL 30 s)
    next(b for b in at.button if b.label == "Refresh data").click().run()
    assert metric(at, "Runs")[0] == "57"


def test_large_exports_point_to_the_streaming_exports(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    import dashboard.components.runs_table as rt

    seed(sqlite_url)
    at = app(monkeypatch, sqlite_url, {"range": "all"})
    at.switch_page("views/history.py").run()
    hint = "stream the same CSV with constant memory"
    assert not any(hint in c.value for c in at.caption)
    monkeypatch.setattr(rt, "LARGE_EXPORT", matched_total(at) - 1)
    at.run()
    assert any(hint in c.value for c in at.caption)
