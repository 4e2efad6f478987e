"""History in Debian's headless Chromium (Playwright, never a downloaded browser):

- a run permalink opens that run's detail beside the table, even outside the filters;
- a header click sorts every matching run on the server (URL and rows change), and the
  grid offers no sort of its own (its column menu has no sort items);
- typed custom dates apply on Enter.

The server (2,000 seeded runs) and the browser are the session's (conftest.py).
"""

from __future__ import annotations

import time

import pandas as pd
import pytest
from dashworld import SEED_NOW, all_rows
from test_e2e_browser import _grid_rows

from dashboard.components.runs_table import SORTABLE_WIDTHS
from dashboard.formatting import human_duration

pytestmark = pytest.mark.browser
ROW_MARKERS = 33  # the grid's checkbox column, left of the first data column (pixels)
HEADER_MIDDLE = 18  # vertical middle of the header row


def _open(browser: object, address: str) -> object:
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(address)
    page.locator('[data-testid="stMainBlockContainer"] h1').first.wait_for(timeout=30_000)
    return page


def _no_exception(page: object) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0  # type: ignore[attr-defined]
    assert "Traceback" not in page.locator("body").inner_text()  # type: ignore[attr-defined]


def _wait_url(page: object, fragment: str) -> None:
    page.wait_for_function(  # type: ignore[attr-defined]
        f"() => location.search.includes({fragment!r})", timeout=20_000
    )


def _header_x(page: object, column: str) -> tuple[float, float, float]:
    """(left, middle, right) of a sortable column's header, from the fixed widths."""
    canvas = page.locator('[data-testid="stDataFrame"] canvas').first  # type: ignore[attr-defined]
    canvas.wait_for(timeout=30_000)
    box = canvas.bounding_box()
    left = box["x"] + ROW_MARKERS
    for name, width in SORTABLE_WIDTHS.items():
        if name == column:
            return left, left + width / 2, left + width
        left += width
    raise AssertionError(f"{column} is not a sortable column")


def _header_y(page: object) -> float:
    box = page.locator('[data-testid="stDataFrame"] canvas').first.bounding_box()  # type: ignore[attr-defined]
    return float(box["y"]) + HEADER_MIDDLE


def _column(page: object, column: str) -> list[str]:
    """One column of the rows the grid has drawn (its accessible table mirrors them)."""
    headers = page.locator(  # type: ignore[attr-defined]
        '[data-testid="stDataFrame"] [role="columnheader"]'
    ).all_inner_texts()
    if column not in headers:
        return []
    index = headers.index(column)
    return [cells[index] for cells in _grid_rows(page) if len(cells) == len(headers)]


def _assert_column(page: object, column: str, expected: list[str]) -> None:
    """The drawn rows show ``expected`` (its first rows) once the rerun has landed."""
    deadline, shown = time.monotonic() + 20, []
    while time.monotonic() < deadline:
        shown = _column(page, column)
        if len(shown) >= 5 and shown == expected[: len(shown)]:
            return
        time.sleep(0.3)
    assert shown == expected[: len(shown)]


def _by_duration(rows: pd.DataFrame, ascending: bool) -> list[str]:
    """Durations as the table prints them, in the server's order (computed with pandas)."""
    keyed = rows.assign(key=rows.duration_ms.fillna(-1), uid=rows.id.str.replace("-", ""))
    ordered = keyed.sort_values(["key", "uid"], ascending=ascending)
    return [human_duration(None if pd.isna(ms) else ms) for ms in ordered.duration_ms]


def test_a_run_permalink_opens_its_detail_beside_the_table(
    server: tuple[str, str], browser: object
) -> None:
    base, url = server
    rows = all_rows(url)
    failure = rows[(rows.status == "failure") & rows.error_message.notna()].iloc[0]
    page = _open(browser, f"{base}/history?range=all&status=success&run={failure['id']}")
    page.get_by_text("This run is outside the current filters").wait_for(timeout=30_000)  # type: ignore[attr-defined]
    codes = page.locator('[data-testid="stCode"]')  # type: ignore[attr-defined]
    codes.filter(has_text=failure["id"]).first.wait_for(timeout=20_000)  # the id, copyable
    message = codes.filter(has_text=failure["error_message"][:40])
    message.first.wait_for(timeout=20_000)
    assert message.count() == 1  # stored text in a code element, not Markdown
    detail = page.get_by_role("heading", name="Run detail").bounding_box()  # type: ignore[attr-defined]
    table = page.locator('[data-testid="stDataFrame"]').first.bounding_box()  # type: ignore[attr-defined]
    assert detail["x"] > table["x"] + table["width"] - 5  # beside the table, not below
    assert detail["y"] < table["y"] + table["height"]
    _no_exception(page)
    page.close()  # type: ignore[attr-defined]


def test_a_header_click_sorts_every_run_on_the_server(
    server: tuple[str, str], browser: object
) -> None:
    base, url = server
    rows = all_rows(url)
    page = _open(browser, f"{base}/history?range=all&size=25")
    newest = rows.sort_values("started_at", ascending=False).started_at
    _assert_column(page, "started (UTC)", [t.strftime("%Y-%m-%d %H:%M:%S") for t in newest])
    y = _header_y(page)
    _, middle, right = _header_x(page, "duration")
    page.mouse.click(middle, y)  # type: ignore[attr-defined]
    _wait_url(page, "sort=duration_ms")
    # Every matching run sorted, not the 25 on screen: the longest runs of all of them.
    _assert_column(page, "duration", _by_duration(rows, ascending=False))
    page.mouse.click(middle, y)  # type: ignore[attr-defined]  # again: the other way
    _wait_url(page, "dir=asc")
    _assert_column(page, "duration", _by_duration(rows, ascending=True))
    # The column menu has no sort of its own (it would reorder only this page).
    page.mouse.move(middle, y)  # type: ignore[attr-defined]
    page.wait_for_timeout(400)  # type: ignore[attr-defined]
    page.mouse.click(right - 14, y)  # type: ignore[attr-defined]
    menu = page.locator('[data-testid="stDataFrameColumnMenu"]')  # type: ignore[attr-defined]
    menu.wait_for(timeout=10_000)
    assert menu.get_by_text("Pin column").is_visible()
    assert not menu.get_by_text("Sort ascending").is_visible()
    assert not menu.get_by_text("Sort descending").is_visible()
    _no_exception(page)
    page.close()  # type: ignore[attr-defined]


def test_typed_dates_apply_on_enter(server: tuple[str, str], browser: object) -> None:
    base, _ = server
    page = _open(browser, f"{base}/history?range=custom&from=2000-01-01&to=2000-01-02")
    day = (SEED_NOW.date()).isoformat()
    field = page.get_by_label("From")  # type: ignore[attr-defined]
    field.fill(day)
    page.get_by_label("To", exact=True).fill(day)  # type: ignore[attr-defined]
    page.get_by_label("To", exact=True).press("Enter")  # type: ignore[attr-defined]
    _wait_url(page, f"from={day}")
    assert f"to={day}" in page.evaluate("location.search")  # type: ignore[attr-defined]
    _no_exception(page)
    page.close()  # type: ignore[attr-defined]
