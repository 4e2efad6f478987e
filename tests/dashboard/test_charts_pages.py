"""The pages draw Plotly charts (no Altair left) whose data equals pandas over the rows:
the Overview's "Last 7 days" is exactly 7 local day buckets, today marked in progress."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from dashworld import all_rows, app, assert_clean, seed


def _decode(value: Any) -> Any:
    """Plotly's JSON packs numeric arrays as {"dtype", "bdata"(, "shape")}: unpack them."""
    if isinstance(value, dict) and set(value) >= {"dtype", "bdata"}:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        if isinstance(shape, str):
            shape = [int(n) for n in shape.split(",")]
        return array.reshape(shape).tolist() if shape else array.tolist()
    if isinstance(value, dict):
        return {key: _decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value


def _figures(at: Any) -> list[go.Figure]:
    return [go.Figure(_decode(json.loads(c.proto.spec))) for c in at.get("plotly_chart")]


def test_overview_volume_is_seven_local_days_equal_to_pandas(
    monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    seed(db_url, runs=500, days=10)
    tz = "America/New_York"
    at = app(monkeypatch, db_url, {"range": "7d", "tz": tz})
    assert_clean(at)
    figures = _figures(at)
    assert len(figures) == 5  # volume, duration, status mix, triggers, runs scatter
    volume = figures[0]
    bars = volume.data[0]
    zone = ZoneInfo(tz)
    today = datetime.now(zone).date()
    days = [today - timedelta(days=6 - i) for i in range(7)]
    starts = [datetime.combine(d, datetime.min.time(), zone) for d in days]
    ends = [datetime.combine(d + timedelta(days=1), datetime.min.time(), zone) for d in days]
    rows = all_rows(db_url)
    expected = [
        int(((rows.started_at >= s) & (rows.started_at < e)).sum())
        for s, e in zip(starts, ends, strict=True)
    ]
    assert list(bars.y) == expected
    assert [row[0] for row in bars.customdata] == [f"{d:%Y-%m-%d}T00:00" for d in days]
    assert list(bars.marker.pattern.shape) == [""] * 6 + ["/"]  # today is in progress
    assert volume.layout.xaxis.title.text == f"Day ({tz})"
    spec = json.dumps([c.proto.spec for c in at.get("plotly_chart")])
    assert "altair" not in spec.lower()
    assert not at.get("arrow_vega_lite_chart")


def test_errors_and_flows_pages_draw_plotly(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    seed(sqlite_url, runs=400, days=10)
    at = app(monkeypatch, sqlite_url, {"range": "30d"})
    at.switch_page("views/errors.py").run()
    assert_clean(at)
    (trend,) = _figures(at)
    rows = all_rows(sqlite_url)
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    window = rows[rows.started_at >= start - timedelta(days=29)]
    failures = window[window.status == "failure"]
    assert sum(sum(t.y) for t in trend.data) == len(failures)
    at.switch_page("views/flows.py").run()
    assert_clean(at)
    rates, grid = _figures(at)
    finished = window[window.status.isin(["success", "failure", "cancelled"])]
    by_flow = (finished.status == "failure").groupby(finished.flow_id.astype(str)).mean()
    got = {row[0]: x for row, x in zip(rates.data[0].customdata, rates.data[0].x, strict=True)}
    assert got == pytest.approx(by_flow.to_dict())
    cells = pd.DataFrame([list(r[:6]) for r in grid.data[0].customdata])
    assert cells[4].sum() == len(window)  # every run in one cell


def test_overview_scatter_draws_the_newest_runs_chosen(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    """The scatter draws the newest 1,000 timed runs by default (SVG), and the newest 5,000
    (WebGL) once picked: the same runs pandas finds newest."""
    seed(sqlite_url, runs=3000, days=5)
    at = app(monkeypatch, sqlite_url, {"range": "7d"})
    assert_clean(at)
    rows = all_rows(sqlite_url).sort_values("started_at", ascending=False)

    def drawn(figure: go.Figure) -> set[str]:
        return {str(row[0]) for trace in figure.data for row in trace.customdata}

    def newest(n: int) -> set[str]:
        top = rows.head(n)
        return {str(run_id) for run_id in top[top.duration_ms.notna()].id}

    scatter = _figures(at)[4]
    assert all(isinstance(trace, go.Scatter) for trace in scatter.data)
    assert drawn(scatter) == newest(1000)
    at.segmented_control(key="ov_scatter_size").set_value(5000).run()
    assert_clean(at)
    scatter = _figures(at)[4]
    assert all(isinstance(trace, go.Scattergl) for trace in scatter.data)
    assert drawn(scatter) == newest(3000)
