"""The days field in a real browser (Debian's Chromium): typing -5 used to leave "-5" on
screen while the widget kept 30 and the preview counted with 30. Now what is typed is what
is checked: an invalid value blocks the preview with a message."""

from __future__ import annotations

import pytest
from test_e2e_browser import _grid_rows, _wait_for_app

pytestmark = pytest.mark.browser
DAYS = "Started more than N days ago"
PREVIEW = "Preview: count matching runs"


def _type_days(page: object, value: str) -> None:
    field = page.get_by_label(DAYS)  # type: ignore[attr-defined]
    field.fill(value)
    field.press("Enter")
    page.wait_for_timeout(1500)  # type: ignore[attr-defined]  # the rerun after Enter


def test_an_invalid_day_count_blocks_the_preview_in_the_browser(
    server: tuple[str, str],
    browser: object,
) -> None:
    base, _ = server
    page = browser.new_page()  # type: ignore[attr-defined]
    try:
        page.goto(f"{base}/retention")
        _wait_for_app(page)
        _type_days(page, "-5")
        assert page.get_by_label(DAYS).input_value() == "-5"
        error = page.locator('[data-testid="stAlertContentError"]')
        error.first.wait_for(timeout=15_000)
        assert "-5 is not valid" in error.first.inner_text()
        assert page.get_by_role("button", name=PREVIEW).is_disabled()
        _type_days(page, "10")
        assert page.locator('[data-testid="stAlertContentError"]').count() == 0
        page.get_by_role("button", name=PREVIEW).click()
        info = page.get_by_text("would be deleted: those matching exactly these criteria")
        info.wait_for(timeout=15_000)
        cells = [cell for row in _grid_rows(page) for cell in row]
        assert any(cell.endswith("(10 days before the preview)") for cell in cells), cells
    finally:
        page.close()
