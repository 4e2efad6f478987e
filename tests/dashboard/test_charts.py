"""Chart builders: each figure's data (x/y/customdata, colours, hover) against the input
frame, computed independently with pandas/zoneinfo."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard.charts import colours, errors, flows, grid, overview, runs
from dashboard.charts.time import IN_PROGRESS, buckets

BERLIN = ZoneInfo("Europe/Berlin")


def _days(first: datetime, n: int) -> list[datetime]:
    """Local midnights in Berlin from ``first`` (a local date), as aware UTC instants."""
    return [
        datetime.combine(first.date() + timedelta(days=i), datetime.min.time(), BERLIN).astimezone(
            UTC
        )
        for i in range(n)
    ]


def _series(starts: list[datetime], success: list[int], failure: list[int]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "bucket": pd.to_datetime(starts, utc=True),
            "success": success,
            "failure": failure,
            "cancelled": 0,
            "running": 0,
            "pending": 0,
        }
    )
    frame["runs"] = frame[["success", "failure"]].sum(axis=1)
    finished = frame["success"] + frame["failure"]
    frame["success_rate"] = frame["success"] / finished.where(finished > 0)
    frame["p50_ms"] = 1000.0
    frame["p95_ms"] = 3000.0
    frame.attrs["bucket"] = "day"
    return frame


def _local_key(instant: datetime) -> str:
    return instant.astimezone(BERLIN).strftime("%Y-%m-%dT%H:%M")


def test_volume_bars_hover_and_partial_day() -> None:
    starts = _days(datetime(2026, 3, 27), 4)  # spans the 2026-03-29 DST change (a 23 h day)
    series = _series(starts, [95, 97, 94, 10], [5, 3, 6, 0])
    now = starts[3] + timedelta(hours=5)  # the fourth day is in progress
    fig = overview.success_and_volume(series, "Europe/Berlin", (starts[0], None), now)
    bars = fig.data[0]
    assert isinstance(bars, go.Bar)
    assert list(bars.y) == [100, 100, 100, 10]
    custom = np.asarray(bars.customdata)
    assert list(custom[:, 0]) == [_local_key(t) for t in starts]
    ends = [*starts[1:], starts[3] + timedelta(days=1)]
    assert list(custom[:, 1]) == [_local_key(t) for t in ends]
    assert (ends[2] - starts[2]) == timedelta(hours=23)  # the DST day, width follows
    assert bars.width[2] == pytest.approx(23 * 3600 * 1000 * 0.9)
    assert list(custom[:, 4]) == [100, 100, 100, 10]
    assert list(custom[:, 5]) == [5, 3, 6, 0]
    assert list(custom[:, 6]) == ["95.0%", "97.0%", "94.0%", "100.0%"]
    assert "(Europe/Berlin)" in custom[0, 3] and IN_PROGRESS in custom[3, 3]
    assert IN_PROGRESS not in custom[2, 3]
    assert list(bars.marker.pattern.shape) == ["", "", "", "/"]
    for field in ("Runs", "Failures", "Success rate", "customdata[3]"):
        assert field in bars.hovertemplate
    markers = fig.data[-1]
    assert list(markers.marker.symbol) == ["circle"] * 3 + ["circle-open"]
    dotted = fig.data[2]
    assert dotted.line.dash == "dot" and list(pd.Series(dotted.y).notna()) == [
        False,
        False,
        True,
        True,
    ]
    assert fig.layout.xaxis.title.text == "Day (Europe/Berlin)"


def test_success_rate_axis_zooms_and_never_collapses() -> None:
    zoomed = overview.rate_axis(pd.Series([0.94, 0.98, 0.96]))
    low, high = zoomed["range"]
    assert 0.9 < low < 0.94 and 0.98 < high <= 1.0
    assert zoomed["tickformat"] == ".1%"
    for constant in (1.0, 0.0, 0.5):
        axis = overview.rate_axis(pd.Series([constant, constant]))
        low, high = axis["range"]
        assert 0.0 <= low <= constant <= high <= 1.0 and high - low >= 0.02
    assert overview.rate_axis(pd.Series([0.1, 0.9]))["tickformat"] == ".0%"
    assert overview.rate_axis(pd.Series([None], dtype="float64"))["range"] == [0.0, 1.0]


def test_status_mix_one_colour_map_and_unknown_statuses() -> None:
    starts = _days(datetime(2026, 5, 1), 2)
    series = _series(starts, [3, 4], [1, 0])
    series["runs"] = series["runs"] + [2, 0]  # two rows with a status no engine of ours writes
    fig = overview.status_mix(series, "Europe/Berlin", None, starts[1] + timedelta(days=5))
    by_name = {trace.name: trace for trace in fig.data}
    assert list(by_name) == ["success", "failure", "other"]
    assert list(by_name["success"].y) == [3, 4]
    assert list(by_name["other"].y) == [2, 0]
    assert by_name["other"].marker.color == colours.OTHER_COLOUR
    for status in ("success", "failure"):
        assert by_name[status].marker.color == colours.STATUS_COLOURS[status]
        assert {row[2] for row in by_name[status].customdata} == {status}
    assert colours.status_colour("SUCCESS") == colours.OTHER_COLOUR
    assert len(set(colours.STATUS_COLOURS.values()) | {colours.OTHER_COLOUR}) == 6


def test_trigger_bars_all_labelled() -> None:
    counts = {"manual": 700, "api": 250, "webhook": 40, "cron": 10}
    fig = overview.by_trigger(counts)
    bar = fig.data[0]
    labels = dict(zip(bar.y, bar.text, strict=True))
    assert labels == {t: f"{n:,} ({n / 1000:.0%})" for t, n in counts.items()}
    assert bar.textposition == "outside" and bar.cliponaxis is False
    assert fig.layout.yaxis.title.text == "Trigger type" and fig.layout.yaxis.automargin
    assert fig.layout.xaxis.range[1] > max(counts.values())  # room for the outside labels


def test_duration_lines_in_seconds() -> None:
    starts = _days(datetime(2026, 5, 1), 3)
    series = _series(starts, [1, 1, 1], [0, 0, 0])
    series["p50_ms"] = [1500.0, 2500.0, None]
    fig = overview.duration_percentiles(series, "UTC", None, starts[2] + timedelta(days=9))
    markers = [t for t in fig.data if t.mode == "markers"]
    assert [t.name for t in markers] == ["p50", "p95"]
    assert list(markers[0].y[:2]) == [1.5, 2.5] and pd.isna(markers[0].y[2])
    assert fig.layout.xaxis.title.text == "Day (UTC)"


def test_error_trend_top_types_and_escaped_names() -> None:
    starts = pd.to_datetime(_days(datetime(2026, 5, 1), 2), utc=True)
    rows = [(starts[0], f"E{i}", 10 - i) for i in range(10)]
    rows += [(starts[1], "<b>Boom</b>", 20), (starts[1], None, 3)]
    trend = pd.DataFrame(rows, columns=["bucket", "error_type", "runs"])
    trend.attrs["bucket"] = "day"
    fig = errors.error_trend(trend, "UTC", None, datetime(2026, 6, 1, tzinfo=UTC))
    names = [t.name for t in fig.data]
    expected = trend.assign(error_type=trend["error_type"].fillna("(no type)"))
    ranked = expected.groupby("error_type")["runs"].sum().sort_values(ascending=False)
    assert len(names) == errors.TOP_TYPES + 1 and names[-1] == errors.OTHER_TYPES
    assert names[0] == "&lt;b&gt;Boom&lt;/b&gt;"
    total = sum(sum(t.y) for t in fig.data)
    assert total == expected["runs"].sum()
    other = sum(fig.data[-1].y)
    assert other == ranked.iloc[errors.TOP_TYPES :].sum()
    keys = {t.name: {row[2] for row in t.customdata} for t in fig.data}
    assert keys[names[0]] == {"<b>Boom</b>"}  # the raw type is what a click filters on
    assert keys[errors.OTHER_TYPES] == {""}
    if "(no type)" in keys:
        assert keys["(no type)"] == {""}


def _points(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    start = pd.Timestamp("2026-05-01", tz="UTC")
    return pd.DataFrame(
        {
            "id": [str(uuid.UUID(int=i)) for i in range(n)],
            "flow_id": str(uuid.UUID(int=99)),
            "flow_name": "nightly",
            "status": rng.choice(["success", "failure", "running"], n),
            "started_at": start + pd.to_timedelta(rng.integers(0, 86_400, n), unit="s"),
            "duration_ms": rng.integers(0, 90_000, n).astype("float64"),
        }
    )


def test_runs_scatter_points_and_webgl() -> None:
    small = _points(50)
    small.loc[small["status"] == "running", "duration_ms"] = np.nan
    fig = runs.runs_scatter(small, "Asia/Kolkata")
    assert all(isinstance(t, go.Scatter) for t in fig.data)
    timed = small[small["duration_ms"].notna()]
    drawn = {row[0] for t in fig.data for row in t.customdata}
    assert drawn == set(timed["id"])
    for trace in fig.data:
        ids = [row[0] for row in trace.customdata]
        expected = timed.set_index("id").loc[ids]
        assert set(expected["status"]) == {trace.name}
        assert trace.marker.color == colours.STATUS_COLOURS[trace.name]
        assert list(trace.y) == list((expected["duration_ms"] / 1000).clip(lower=0.001))
        local = expected["started_at"].dt.tz_convert("Asia/Kolkata").dt.tz_localize(None)
        assert list(pd.to_datetime(trace.x)) == list(local)
    assert fig.layout.yaxis.type == "log"
    assert fig.layout.xaxis.title.text == "Started (Asia/Kolkata)"
    big = runs.runs_scatter(_points(runs.WEBGL_FROM + 1), "UTC")
    assert all(isinstance(t, go.Scattergl) for t in big.data)


def _flow_trend(rows: list[tuple[datetime, str, int]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["bucket", "flow_id", "runs"])
    frame["bucket"] = pd.to_datetime(frame["bucket"], utc=True)
    frame.attrs["bucket"] = "hour"
    return frame


def test_grid_cells_failure_rate_and_click_data() -> None:
    a, b = str(uuid.UUID(int=1)), str(uuid.UUID(int=2))
    h0 = datetime(2026, 5, 1, 10, tzinfo=UTC)
    h1 = h0 + timedelta(hours=1)
    all_runs = _flow_trend([(h0, a, 10), (h1, a, 4), (h0, b, 2)])
    failed = _flow_trend([(h0, a, 3), (h0, b, 2)])
    fig = grid.flow_grid(all_runs, failed, {a: "alpha", b: "beta"}, "UTC", None, h1)
    cell = fig.data[0]
    got = {(row[0], row[1]): (row[4], row[5]) for row in cell.customdata}
    assert got == {
        (a, "2026-05-01T10:00"): (10, 3),
        (a, "2026-05-01T11:00"): (4, 0),
        (b, "2026-05-01T10:00"): (2, 2),
    }
    rates = dict(zip([(r[0], r[1]) for r in cell.customdata], cell.marker.color, strict=True))
    assert rates[(a, "2026-05-01T10:00")] == pytest.approx(0.3)
    assert rates[(b, "2026-05-01T10:00")] == 1.0
    assert {row[2] for row in cell.customdata if row[1] == "2026-05-01T10:00"} == {
        "2026-05-01T11:00"
    }
    assert fig.layout.yaxis.categoryarray == ("beta", "alpha")  # busiest flow on top
    in_progress = {(r[0], r[1]) for r in cell.customdata if IN_PROGRESS in r[3]}
    assert in_progress == {(a, "2026-05-01T11:00")}


def test_failure_rate_bars_labelled_and_zoomed() -> None:
    table = pd.DataFrame(
        {
            "flow_id": [uuid.UUID(int=i) for i in range(3)],
            "flow_name": ["a", "b", "c"],
            "runs": [100, 200, 50],
            "success": [91, 196, 50],
            "failure": [9, 2, 0],
            "cancelled": [0, 2, 0],
        }
    )
    fig = flows.failure_rate_bars(table, {})
    bar = fig.data[0]
    finished = table[["success", "failure", "cancelled"]].sum(axis=1)
    expected = (table["failure"] / finished).sort_values()  # drawn lowest first
    assert list(bar.x) == pytest.approx(list(expected))
    assert list(bar.text) == ["0.0% (0 of 50)", "1.0% (2 of 200)", "9.0% (9 of 100)"]
    assert [row[0] for row in bar.customdata] == [str(table["flow_id"][i]) for i in (2, 1, 0)]
    assert fig.layout.xaxis.range[1] < 0.2  # zoomed to the data, not 0-100%


def test_sparklines_leave_out_the_bucket_in_progress() -> None:
    a = str(uuid.UUID(int=1))
    h0 = datetime(2026, 5, 1, 10, tzinfo=UTC)
    trend = _flow_trend(
        [(h0, a, 5), (h0 + timedelta(hours=1), a, 7), (h0 + timedelta(hours=2), a, 1)]
    )
    now = h0 + timedelta(hours=2, minutes=5)
    lines, left_out = flows.sparklines(trend, [a, "missing"], "UTC", None, now)
    assert lines == [[5, 7], [0, 0]] and left_out == 1


def test_bucket_spans_in_a_half_hour_zone() -> None:
    starts = pd.to_datetime(["2026-05-01 09:30", "2026-05-01 10:30"], utc=True)
    frame = pd.DataFrame({"bucket": starts})
    frame.attrs["bucket"] = "hour"
    out = buckets(frame, "Asia/Kolkata", None, datetime(2026, 5, 2, tzinfo=UTC))
    assert list(out["from_key"]) == ["2026-05-01T15:00", "2026-05-01T16:00"]
    assert list(out["to_key"]) == ["2026-05-01T16:00", "2026-05-01T17:00"]
    assert not out["partial"].any()


def test_time_axis_spans_the_whole_range_in_the_zone() -> None:
    starts = _days(datetime(2026, 5, 1), 2)
    series = _series(starts, [1, 1], [0, 0])
    end = starts[0] + timedelta(days=7)  # a 7-day range with data on its first two days only
    fig = overview.status_mix(series, "Europe/Berlin", (starts[0], end), end)
    assert fig.layout.xaxis.range == ("2026-05-01 00:00:00", "2026-05-08 00:00:00")
    assert fig.layout.xaxis.tickformat == "%Y-%m-%d"
    assert "%I" not in fig.layout.xaxis.hoverformat and "%p" not in fig.layout.xaxis.hoverformat


def test_tables_use_the_charts_status_colours() -> None:
    from dashboard.components.runs_table import styled

    frame = pd.DataFrame({"status": ["● success", "● failure", "● SUCCESS"]})
    styles = styled(frame)._compute().ctx  # (row, column) -> [(property, value)]
    colour = {row: dict(props)["color"] for (row, _), props in styles.items()}
    assert colour == {
        0: colours.STATUS_COLOURS["success"],
        1: colours.STATUS_COLOURS["failure"],
        2: colours.OTHER_COLOUR,  # legacy upper case: not a status we know
    }


def test_grid_colour_scale_zooms_to_the_worst_cell() -> None:
    a = str(uuid.UUID(int=1))
    h0 = datetime(2026, 5, 1, 10, tzinfo=UTC)
    all_runs = _flow_trend([(h0, a, 100), (h0 + timedelta(hours=1), a, 100)])
    failed = _flow_trend([(h0, a, 23), (h0 + timedelta(hours=1), a, 2)])
    fig = grid.flow_grid(all_runs, failed, {}, "UTC", None, h0 + timedelta(days=1))
    assert fig.data[0].marker.cmax == 0.3 and fig.data[0].marker.cmin == 0
    quiet = grid.flow_grid(all_runs, failed.iloc[:0], {}, "UTC", None, h0 + timedelta(days=1))
    assert quiet.data[0].marker.cmax == 0.1  # no failures: the scale still spans 0-10%


def test_empty_frames_give_empty_figures() -> None:
    now = datetime(2026, 5, 1, tzinfo=UTC)
    flows_trend = _flow_trend([])
    assert len(grid.flow_grid(flows_trend, flows_trend, {}, "UTC", None, now).data[0].x) == 0
    assert flows.sparklines(flows_trend, ["a"], "UTC", None, now) == ([[]], 0)
    series = _series([], [], [])
    assert list(overview.success_and_volume(series, "UTC", None, now).data[0].y) == []
    assert overview.status_mix(series, "UTC", None, now).data == ()
    errors_trend = pd.DataFrame(
        {"bucket": pd.to_datetime([], utc=True), "error_type": [], "runs": []}
    )
    errors_trend.attrs["bucket"] = "day"
    assert errors.error_trend(errors_trend, "UTC", None, now).data == ()
    assert runs.runs_scatter(_points(0), "UTC").data == ()
