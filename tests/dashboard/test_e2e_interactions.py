"""Chart interactions in Debian's headless Chromium: each click or drag is made with the
mouse on the real app, then the resulting URL (the shared filter), the page and the
numbers are checked against pandas over the seeded rows.

One app server for the module, a small seeded database (AppTest cannot send chart
selections; a browser can).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest
from dashworld import SEED_NOW, all_rows, seed
from e2e_server import running_dashboard

pytestmark = pytest.mark.browser
pytest.importorskip("playwright.sync_api")
Page = Any  # playwright's sync Page


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, pd.DataFrame]]:
    from data import migrate

    url = f"sqlite:///{tmp_path_factory.mktemp('e2e-charts') / 'flowruns.db'}"
    migrate.upgrade(url)
    seed(url, runs=1200, days=8)
    with running_dashboard(url) as base:
        yield base, all_rows(url)


@pytest.fixture
def page(browser: Any) -> Iterator[Page]:
    """A tab of the session's Chromium (one playwright per process), 1000 px tall."""
    tab = browser.new_page()
    tab.set_viewport_size({"width": 1400, "height": 1000})
    try:
        yield tab
    finally:
        tab.close()


def _open(page: Page, url: str, charts: int) -> None:
    page.goto(url)
    page.locator('[data-testid="stMainBlockContainer"] h1').first.wait_for(timeout=30_000)
    page.wait_for_function(
        f"() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= {charts}",
        timeout=30_000,
    )
    page.wait_for_timeout(500)  # the chart's event handlers attach after it has drawn


def _chart(page: Page, key: str) -> Any:
    chart = page.locator(f".st-key-{key} .js-plotly-plot")
    chart.scroll_into_view_if_needed()
    return chart


def _trace_names(chart: Any) -> list[str]:
    return list(chart.evaluate("gd => gd.data.map(t => t.name)"))


def _click(page: Page, mark: Any) -> None:
    box = mark.bounding_box()
    assert box, "the mark is not drawn"
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_timeout(150)
    page.mouse.down()
    page.mouse.up()


def _params(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def _wait_url(page: Page, pattern: str) -> dict[str, list[str]]:
    page.wait_for_url(re.compile(pattern), timeout=20_000)
    return _params(page)


def _history_total(page: Page) -> int:
    line = page.locator("p", has_text=re.compile(r"runs? match"))
    line.first.wait_for(timeout=30_000)
    return int(line.first.inner_text().split()[0].replace(",", ""))


def _days() -> list[datetime]:
    """The 7 UTC day buckets of "Last 7 days" (today in progress)."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return [today - timedelta(days=6 - i) for i in range(7)]


def _between(rows: pd.DataFrame, start: datetime, end: datetime) -> pd.DataFrame:
    return rows[(rows.started_at >= start) & (rows.started_at < end)]


def test_status_segment_click_sets_bucket_and_status_then_history(
    server: tuple[str, pd.DataFrame], page: Page
) -> None:
    base, rows = server
    _open(page, f"{base}/?range=7d", charts=5)
    chart = _chart(page, "ov_status")
    failure = _trace_names(chart).index("failure")
    day = _days()[-2]  # yesterday: a whole day with failures in the seed
    expected = _between(rows, day, day + timedelta(days=1))
    assert (expected.status == "failure").sum() > 0
    segment = chart.locator(".barlayer .trace").nth(failure).locator(".point path").nth(5)
    _click(page, segment)
    params = _wait_url(page, r"status=failure")
    assert params["range"] == ["custom"]
    assert params["from"] == [f"{day:%Y-%m-%dT%H:%M}"]
    assert params["to"] == [f"{day + timedelta(days=1):%Y-%m-%dT%H:%M}"]
    page.get_by_role("button", name=re.compile("Open in History")).click()
    page.wait_for_url(re.compile(r"/history\?"), timeout=20_000)
    assert _history_total(page) == int((expected.status == "failure").sum())
    assert _params(page)["from"] == params["from"]


def test_drag_select_on_a_time_chart_becomes_the_range_on_every_page(
    server: tuple[str, pd.DataFrame], page: Page
) -> None:
    base, rows = server
    _open(page, f"{base}/?range=7d", charts=5)
    chart = _chart(page, "ov_volume")
    chart.hover()
    chart.locator('[data-title="Box Select"]').click()
    bars = chart.locator(".barlayer .point path")
    first, last = bars.nth(1).bounding_box(), bars.nth(3).bounding_box()
    y = first["y"] + first["height"] - 3
    page.mouse.move(first["x"] + first["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(last["x"] + last["width"] / 2, y, steps=8)
    page.mouse.up()
    params = _wait_url(page, r"range=custom")
    start = datetime.fromisoformat(params["from"][0]).replace(tzinfo=UTC)
    end = datetime.fromisoformat(params["to"][0]).replace(tzinfo=UTC)
    days = _days()
    assert days[1] < start < days[2] and days[3] < end < days[4]  # from bar 1 to bar 3
    assert start.second == 0 and end.second == 0
    page.locator('[data-testid="stSidebarNav"]').get_by_text("History").click()
    page.wait_for_url(re.compile(r"/history\?.*from="), timeout=20_000)
    assert _params(page)["from"] == params["from"] and _params(page)["to"] == params["to"]
    assert _history_total(page) == len(_between(rows, start, end))


def test_error_series_click_opens_that_group_in_history(
    server: tuple[str, pd.DataFrame], page: Page
) -> None:
    base, rows = server
    _open(page, f"{base}/errors?range=7d", charts=1)
    chart = _chart(page, "err_trend")
    days = _days()
    failures = _between(rows, days[0], days[-1] + timedelta(days=1))
    failures = failures[failures.status == "failure"]
    top = failures.error_type.value_counts()  # the first series is the most frequent type
    assert _trace_names(chart)[0] == top.index[0]
    heights = chart.evaluate("gd => Array.from(gd._fullData[0].y)")
    busiest = heights.index(max(heights))
    bar = chart.locator(".barlayer .trace").nth(0).locator(".point path").nth(busiest)
    _click(page, bar)
    page.wait_for_url(re.compile(r"/history\?"), timeout=20_000)
    params = _params(page)
    assert params["status"] == ["failure"] and params["error_type"] == [top.index[0]]
    assert _history_total(page) == int(top.iloc[0])


def test_flow_bar_click_filters_every_page_to_that_flow(
    server: tuple[str, pd.DataFrame], page: Page
) -> None:
    base, rows = server
    _open(page, f"{base}/flows?range=7d", charts=2)
    days = _days()
    window = _between(rows, days[0], days[-1] + timedelta(days=1))
    finished = window[window.status.isin(["success", "failure", "cancelled"])]
    rates = (finished.status == "failure").groupby(finished.flow_id).mean()
    worst = str(rates.sort_values(ascending=False, kind="stable").index[0])
    chart = _chart(page, "flows_rates")
    bars = chart.locator(".barlayer .point path")
    _click(page, bars.nth(bars.count() - 1))  # drawn last = on top = highest rate
    params = _wait_url(page, r"flow=")
    assert params["flow"] == [worst]
    page.locator('[data-testid="stSidebarNav"]').get_by_text("History").click()
    page.wait_for_url(re.compile(r"/history\?.*flow="), timeout=20_000)
    assert _history_total(page) == int((window.flow_id.astype(str) == worst).sum())


def test_grid_cell_click_opens_history_for_that_flow_and_bucket(
    server: tuple[str, pd.DataFrame], page: Page
) -> None:
    base, rows = server
    _open(page, f"{base}/flows?range=7d", charts=2)
    chart = _chart(page, "flows_grid")
    cell = chart.locator(".scatterlayer .points path").nth(3)
    _click(page, cell)
    page.wait_for_url(re.compile(r"/history\?"), timeout=20_000)
    params = _params(page)
    flow = params["flow"][0]
    start = datetime.fromisoformat(params["from"][0]).replace(tzinfo=UTC)
    end = datetime.fromisoformat(params["to"][0]).replace(tzinfo=UTC)
    assert end - start == timedelta(days=1) and start in _days()
    expected = _between(rows, start, end)
    assert _history_total(page) == int((expected.flow_id.astype(str) == flow).sum()) > 0


def test_runs_scatter_point_opens_that_run(server: tuple[str, pd.DataFrame], page: Page) -> None:
    base, rows = server
    _open(page, f"{base}/?range=7d", charts=5)
    chart = _chart(page, "ov_runs")
    point = chart.locator(".scatterlayer .trace").nth(0).locator(".points path").nth(0)
    status = _trace_names(chart)[0]
    _click(page, point)
    page.wait_for_url(re.compile(r"/history\?.*run="), timeout=20_000)
    run_id = _params(page)["run"][0]
    run = rows[rows.id == run_id]
    assert len(run) == 1 and run.status.iloc[0] == status
    detail = page.locator('[data-testid="stCode"]', has_text=run_id)
    detail.first.wait_for(timeout=20_000)  # the run's detail, with its full id
    assert run.started_at.iloc[0] >= SEED_NOW - timedelta(days=8)


def _click_row(page: Page, table_key: str, row: int) -> None:
    """Tick a row's selection box in a Streamlit data grid (drawn on a canvas: the first
    column holds the boxes, rows are 35 px under a 35 px header)."""
    grid = page.locator(f".st-key-{table_key} [data-testid='stDataFrame']")
    grid.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    box = grid.bounding_box()
    assert box, "the table is not drawn"
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 35 * row + 17)


def test_error_row_click_opens_that_group_in_history(
    server: tuple[str, pd.DataFrame], page: Page
) -> None:
    from data.signature import message_signature

    base, rows = server
    _open(page, f"{base}/errors?range=7d", charts=1)
    days = _days()
    failures = _between(rows, days[0], days[-1] + timedelta(days=1))
    failures = failures[failures.status == "failure"].assign(
        signature=lambda f: f.error_message.map(message_signature)
    )
    groups = failures.groupby(["error_type", "signature"]).size()
    _click_row(page, "err_table", 0)  # the table lists the biggest group first
    page.wait_for_url(re.compile(r"/history\?"), timeout=20_000)
    params = _params(page)
    kind, signature = params["error_type"][0], params["sig"][0]
    assert groups[(kind, signature)] == groups.max()
    assert _history_total(page) == int(groups[(kind, signature)])


def test_flow_row_click_filters_every_page_to_that_flow(
    server: tuple[str, pd.DataFrame], page: Page
) -> None:
    base, rows = server
    _open(page, f"{base}/flows?range=7d", charts=2)
    days = _days()
    window = _between(rows, days[0], days[-1] + timedelta(days=1))
    busiest = window.flow_id.astype(str).value_counts()
    _click_row(page, "flows_table", 0)  # the table lists the busiest flow first
    params = _wait_url(page, r"flow=")
    assert busiest[params["flow"][0]] == busiest.max()
    page.get_by_role("button", name=re.compile("Open in History")).click()
    page.wait_for_url(re.compile(r"/history\?.*flow="), timeout=20_000)
    assert _history_total(page) == int(busiest.max())
