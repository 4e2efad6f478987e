"""End to end: `streamlit run` on a free port, Debian's headless Chromium via Playwright.

Never downloads a browser (no `playwright install`): skipped when /usr/bin/chromium is
missing. Screenshots of every page go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from dashworld import seed

from data import queries as q
from data.db import build_engine
from data.filters import FlowRunFilter

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"
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
PAGES = {"overview": "", "history": "history", "flows": "flows", "errors": "errors"}
PAGES["retention"] = "retention"

if not CHROMIUM.exists():
    pytest.skip(
        "needs Debian's /usr/bin/chromium (apt-get install chromium)", allow_module_level=True
    )
sync_api = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(base: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError("streamlit did not become healthy")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    from data import migrate

    url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'flowruns.db'}"
    migrate.upgrade(url)
    seed(url, runs=2000, days=90)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWRUNS_")}
    env["FLOWRUNS_DATABASE_URL"] = url
    command = [sys.executable, "-m", "streamlit", "run", "dashboard/app.py"]
    command += ["--server.port", str(port), "--server.headless", "true"]
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, proc)
        yield base, url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
            accept_downloads=True,
        )
        try:
            yield context
        finally:
            context.close()


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
