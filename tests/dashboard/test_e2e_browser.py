"""End to end: `streamlit run` on a free port, Debian's headless Chromium via Playwright.

Never downloads a browser (no `playwright install`): skipped when /usr/bin/chromium is
missing. Screenshots of every page go to test-artifacts/screenshots/. The server and the
browser are the session's (tests/dashboard/conftest.py).
"""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import pandas as pd
import pytest
from e2e_server import CHROMIUM, ROOT

from data import queries as q
from data.db import build_engine
from data.filters import FlowRunFilter

pytestmark = pytest.mark.browser
SHOTS = ROOT / "test-artifacts" / "screenshots"
PAGES = {"overview": "", "history": "history", "flows": "flows", "errors": "errors"}
PAGES["retention"] = "retention"

if not CHROMIUM.exists():
    pytest.skip(
        "needs Debian's /usr/bin/chromium (apt-get install chromium)", allow_module_level=True
    )
pytest.importorskip("playwright.sync_api")


def _assert_no_error(page: object) -> None:
    body = page.locator("body").inner_text()  # type: ignore[attr-defined]
    assert "Traceback" not in body
    assert page.locator('[data-testid="stException"]').count() == 0  # type: ignore[attr-defined]
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0  # type: ignore[attr-defined]


def _wait_for_app(page: object) -> None:
    page.locator('[data-testid="stMainBlockContainer"] h1').first.wait_for(timeout=30_000)  # type: ignore[attr-defined]
    page.wait_for_timeout(1500)  # type: ignore[attr-defined]  # charts draw after the first paint


def _grid_rows(page: object) -> list[list[str]]:
    """Cells of the rows the data grid has drawn (its accessible table mirrors them)."""
    grid = page.locator('[data-testid="stDataFrame"] [role="row"]')  # type: ignore[attr-defined]
    deadline = time.monotonic() + 15
    rows: list[list[str]] = []
    while time.monotonic() < deadline:
        rows = [r.locator("[role=gridcell]").all_text_contents() for r in grid.all()[1:]]
        if rows and all(len(cells) > 1 for cells in rows):
            break
        time.sleep(0.3)
    return rows


def test_history_filter_csv_and_every_page(server: tuple[str, str], browser: object) -> None:
    base, url = server
    engine = build_engine(url)
    failures = FlowRunFilter.build(statuses=["failure"])
    expected_total = q.count_runs(engine, failures)
    newest = q.list_runs(engine, failures, limit=50).runs
    engine.dispose()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page()  # type: ignore[attr-defined]

    page.goto(f"{base}/history?range=all&status=failure")
    total_line = page.locator("p", has_text=re.compile(r"runs match"))
    total_line.wait_for(timeout=30_000)
    assert total_line.inner_text().startswith(f"{expected_total:,} runs match")
    rows = _grid_rows(page)
    assert rows and all(cells[0].endswith("failure") for cells in rows)
    headers = page.locator('[data-testid="stDataFrame"] [role="columnheader"]').all_inner_texts()
    shown_ids = [cells[headers.index("run id")] for cells in rows]
    assert shown_ids == [str(r.id) for r in newest[: len(rows)]]
    _assert_no_error(page)

    page.get_by_text(re.compile(r"Export these .* runs as CSV")).click()
    with page.expect_download() as download_info:
        page.get_by_role("button", name=re.compile("Download CSV")).click()
    csv = pd.read_csv(io.StringIO(Path(download_info.value.path()).read_text()))
    assert len(csv) == expected_total
    assert set(csv["status"]) == {"failure"}
    assert list(csv["id"][: len(newest)]) == [str(r.id) for r in newest]

    for name, path in PAGES.items():
        page.goto(f"{base}/{path}?range=30d")
        _wait_for_app(page)
        _assert_no_error(page)
        page.screenshot(path=str(SHOTS / f"{name}.png"))
    # Sidebar navigation keeps the filter in the URL.
    page.goto(f"{base}/history?range=all&status=failure")
    _wait_for_app(page)
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Flows").click()
    page.wait_for_function(  # the app rewrites the URL after the page script has run
        "() => location.pathname.endsWith('/flows') && location.search.includes('status=failure')",
        timeout=15_000,
    )
    _wait_for_app(page)
    _assert_no_error(page)
