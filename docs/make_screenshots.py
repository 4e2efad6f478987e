"""Refresh the README screenshots from a running dashboard.

    make run                                   # in one terminal (embedded demo data)
    .venv/bin/python docs/make_screenshots.py http://localhost:8501

Uses Debian's Chromium (/usr/bin/chromium) through Playwright; never downloads a browser.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

# page -> (path, an element that exists once the page has rendered its data)
PAGES = {
    "overview": ("/?range=30d", "[data-testid='stMetricValue']"),
    "history": ("/history?range=7d", "[data-testid='stDataFrame']"),
    "flows": ("/flows?range=30d", "[data-testid='stDataFrame']"),
    "errors": ("/errors?range=30d", "[data-testid='stDataFrame']"),
    "retention": ("/retention?range=30d", "[data-testid='stDataFrame']"),
}
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
        for name, (path, ready) in PAGES.items():
            page.goto(base_url.rstrip("/") + path)
            page.wait_for_selector(ready, timeout=120_000)
            # Charts and grids draw after their element appears.
            page.wait_for_timeout(2500)
            page.screenshot(path=str(OUT / f"{name}.png"))
            print(f"wrote {OUT / f'{name}.png'}")
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://localhost:8501")
