"""Refresh the README screenshots from a running dashboard.

    make run                                   # in one terminal (embedded demo data)
    .venv/bin/python docs/make_screenshots.py http://localhost:8501

The embedded demo is 50,000 runs generated on the first start; to leave an existing
var/flowruns.db alone, start the app from an empty working directory (the embedded
database lives in ./var): `cd $(mktemp -d) && <repo>/.venv/bin/streamlit run
<repo>/dashboard/app.py`. Pages: overview, history, flows, errors, retention and
history_detail (the newest failure's detail beside the table).

Uses Debian's Chromium (/usr/bin/chromium) through Playwright; never downloads a browser.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

# page -> (path, an element that exists once the page has rendered its data, height)
PAGES = {
    "overview": ("/?range=30d", "[data-testid='stMetricValue']", 1500),
    "history": ("/history?range=7d", "[data-testid='stDataFrame']", 900),
    "flows": ("/flows?range=30d", "[data-testid='stDataFrame']", 1300),
    "errors": ("/errors?range=30d", "[data-testid='stDataFrame']", 1100),
    "retention": ("/retention?range=30d", "[data-testid='stDataFrame']", 900),
}
# The run detail beside the table: the newest failure, chosen in the run chooser.
DETAIL = ("/history?range=7d&status=failure", "history_detail", 1100)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OUT = Path(__file__).parent / "screenshots"


def main(base_url: str) -> None:
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            profile,
            executable_path="/usr/bin/chromium",
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
        )
        page = browser.new_page()
        for name, (path, ready, height) in PAGES.items():
            page.set_viewport_size({"width": 1400, "height": height})
            page.goto(base_url.rstrip("/") + path)
            page.wait_for_selector(ready, timeout=120_000)
            # Charts and grids draw after their element appears.
            page.wait_for_timeout(2500)
            _save(page, name)
        _run_detail(page, base_url)
        browser.close()


def _save(page: Page, name: str) -> None:
    page.screenshot(path=str(OUT / f"{name}.png"))
    print(f"wrote {OUT / f'{name}.png'}")


def _run_detail(page: Page, base_url: str) -> None:
    path, name, height = DETAIL
    page.set_viewport_size({"width": 1400, "height": height})
    page.goto(base_url.rstrip("/") + path)
    page.wait_for_selector("[data-testid='stDataFrame']", timeout=120_000)
    page.get_by_label("Run detail").click()
    page.get_by_role("option").first.click()
    page.get_by_role("heading", name="Run detail").wait_for(timeout=60_000)
    page.wait_for_timeout(2500)
    _save(page, name)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://localhost:8501")
