"""Browser benchmark: the real dashboard in Debian's headless Chromium (Playwright).

    python bench/browser_bench.py --runs 50000          # writes bench/results/browser.md
    python bench/browser_bench.py --database-url URL --out bench/results/browser_pg_1m.md
                                                        # an existing database, as it is

Page-ready time = from navigation (or the click) until the page's title and every chart
are drawn and Streamlit is idle (no "running" status, the DOM unchanged for 300 ms):
- cold: the first visit of each page in a new session right after "Refresh data"
  cleared the query cache; warm: the same page visited again;
- page switch: a click in the sidebar navigation (warm cache);
- filter change: a status picked in the sidebar (cold for that filter, then warm).
Also: the server-side script time per page (the same app in Streamlit's AppTest, in
this process, cold and warm) and the browser's JS heap after every page was shown.
The database is a fresh SQLite file with the demo generator's runs over 90 days.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
CHROMIUM = "/usr/bin/chromium"
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
# page -> (url path, charts drawn when ready)
PAGES = {
    "Overview": ("", 5),
    "History": ("history", 0),
    "Flows": ("flows", 2),
    "Errors": ("errors", 1),
    "Retention": ("retention", 0),
}
APP_PAGES = {"Overview": "views/overview.py", "History": "views/history.py"}
APP_PAGES |= {"Flows": "views/flows.py"}
APP_PAGES |= {"Errors": "views/errors.py", "Retention": "views/retention.py"}
IDLE_JS = """([charts, since]) => {
  const main = document.querySelector('[data-testid="stMainBlockContainer"]');
  if (!main || !main.querySelector('h1')) return false;
  const status = document.querySelector('[data-testid="stStatusWidget"]');
  if (status && /running/i.test(status.innerText)) return false;
  if (document.querySelectorAll('.js-plotly-plot .main-svg').length < charts) return false;
  if (document.querySelector('[data-testid="stSkeleton"]')) return false;
  const size = main.innerHTML.length;
  if (window.__benchSize !== size) {
    window.__benchSize = size;
    window.__benchAt = performance.now();
  }
  return performance.now() - window.__benchAt > since;
}"""
QUIET_MS = 300


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _seed(url: str, runs: int) -> None:
    from data import migrate
    from data.db import build_engine
    from data.demo import generate_demo

    migrate.upgrade(url)
    engine = build_engine(url)
    try:
        generate_demo(engine, runs, days=90, seed=11)
    finally:
        engine.dispose()


def _serve(url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWRUNS_")}
    env |= {"FLOWRUNS_DATABASE_URL": url, "FLOWRUNS_CACHE_TTL_SECONDS": "3600"}
    command = [sys.executable, "-m", "streamlit", "run", "dashboard/app.py"]
    command += ["--server.port", str(port), "--server.headless", "true"]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2):
                return proc, base
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise RuntimeError("streamlit did not start")


def _ready(page: Any, charts: int) -> None:
    page.evaluate("() => { window.__benchSize = -1; }")
    page.wait_for_function(IDLE_JS, arg=[charts, QUIET_MS], timeout=120_000, polling=50)


def _timed_goto(page: Any, url: str, charts: int) -> float:
    start = time.perf_counter()
    page.goto(url)
    _ready(page, charts)
    return time.perf_counter() - start - QUIET_MS / 1000


def _timed_click(page: Any, locator: Any, charts: int) -> float:
    page.evaluate("() => { window.__benchSize = -1; }")
    start = time.perf_counter()
    locator.click()
    page.wait_for_timeout(100)  # the rerun starts (status widget) before we poll
    _ready(page, charts)
    return time.perf_counter() - start - QUIET_MS / 1000


def browser_times(base: str, link: str) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {"cold": {}, "warm": {}, "switch": {}}
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        page = ctx.new_page()
        _timed_goto(page, f"{base}/?{link}", 5)  # server warm-up (imports), untimed
        for name, (path, charts) in PAGES.items():
            page.get_by_role("button", name="Refresh data").click()  # empty query cache
            page.wait_for_timeout(500)
            out["cold"][name] = _timed_goto(page, f"{base}/{path}?{link}", charts)
            out["warm"][name] = _timed_goto(page, f"{base}/{path}?{link}", charts)
        nav = page.locator('[data-testid="stSidebarNav"]')
        for name, (_, charts) in [*list(PAGES.items())[1:], ("Overview", PAGES["Overview"])]:
            out["switch"][name] = _timed_click(page, nav.get_by_text(name, exact=True), charts)
        page.goto(f"{base}/?{link}")
        _ready(page, 5)
        statuses = page.get_by_label("Statuses")
        out["filter_cold"] = _timed_filter(page, statuses, "failure")
        out["filter_clear"] = _timed_filter(page, statuses, None)
        out["filter_warm"] = _timed_filter(page, statuses, "failure")
        out["heap_mb"] = page.evaluate("() => performance.memory.usedJSHeapSize") / 2**20
        out["load"] = os.getloadavg()[0]
        ctx.close()
    return out


def _timed_filter(page: Any, statuses: Any, value: str | None) -> float:
    """Pick a status in the sidebar on the Overview (or remove it); until redrawn."""
    start = time.perf_counter()
    page.evaluate("() => { window.__benchSize = -1; }")
    statuses.click()
    if value is None:
        page.keyboard.press("Backspace")  # removes the chosen status
    else:
        page.get_by_role("option", name=value, exact=True).click()
    page.keyboard.press("Escape")
    page.wait_for_timeout(100)
    _ready(page, 5)
    return time.perf_counter() - start - QUIET_MS / 1000


def script_times(url: str, link: str) -> dict[str, tuple[float, float]]:
    """Server side: each page's script in AppTest (cold cache, then warm), seconds."""
    os.environ["FLOWRUNS_DATABASE_URL"] = url
    os.environ["FLOWRUNS_CACHE_TTL_SECONDS"] = "3600"
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from data.settings import get_settings

    get_settings.cache_clear()
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=300)
    for key, value in urllib.parse.parse_qsl(link):
        at.query_params[key] = value
    at.run()  # imports and the frame's queries, untimed
    times = {}
    for name in PAGES:
        st.cache_data.clear()
        start = time.perf_counter()
        at.switch_page(APP_PAGES[name]).run()
        cold = time.perf_counter() - start
        start = time.perf_counter()
        at.run()
        times[name] = (cold, time.perf_counter() - start)
    return times


def _report(
    runs: int, backend: str, link: str, browser: dict[str, Any], script: dict[str, Any]
) -> str:
    lines = [
        f"# Browser benchmark: {runs:,} runs, {backend}, link `?{link}`",
        "",
        "Headless Debian Chromium via Playwright, on the shared 2-core machine. Page-ready:",
        "navigation (or click) until title and charts are drawn and Streamlit is idle.",
        "Script: the page's server-side run in AppTest (cold = empty query cache).",
        "",
        "| page | cold load (s) | warm load (s) | switch to it (s) "
        "| script cold (s) | script warm (s) |",
        "|---|---|---|---|---|---|",
    ]
    for name in PAGES:
        cold, warm = script[name]
        lines.append(
            f"| {name} | {browser['cold'][name]:.2f} | {browser['warm'][name]:.2f} | "
            f"{browser['switch'][name]:.2f} | {cold:.2f} | {warm:.2f} |"
        )
    switches = list(browser["switch"].values())
    outside = [browser["warm"][name] - script[name][1] for name in PAGES]
    lines += [
        "",
        "Where the time goes: the page's script (queries included) is the last two columns;",
        "the rest of a load is the browser (Streamlit's front end boots on every full load,",
        "then draws the Plotly charts) and the websocket round trips. Warm loads spend "
        f"{min(outside):.1f}-{max(outside):.1f} s outside the script.",
        f"Load average while measuring: {browser['load']:.1f} on {os.cpu_count()} cores "
        "(other jobs share the machine; the goals are for a quiet one).",
        "",
        f"- filter change (Overview, status = failure): cold {browser['filter_cold']:.2f} s, "
        f"warm {browser['filter_warm']:.2f} s (clearing it: {browser['filter_clear']:.2f} s)",
        f"- page switch median: {statistics.median(switches):.2f} s",
        f"- browser JS heap after every page: {browser['heap_mb']:.0f} MB",
    ]
    return "\n".join(lines) + "\n"


def _existing(url: str) -> tuple[int, str]:
    """(runs, backend name) of a database given on the command line."""
    from sqlalchemy import text

    from data.db import build_engine

    engine = build_engine(url)
    try:
        with engine.connect() as conn:
            runs = int(conn.execute(text("SELECT count(*) FROM flow_run")).scalar_one())
        return runs, {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[engine.dialect.name]
    finally:
        engine.dispose()


def _measure(url: str, link: str) -> tuple[dict[str, Any], dict[str, Any]]:
    proc, base = _serve(url)
    try:
        browser = browser_times(base, link)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return browser, script_times(url, link)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50_000)
    parser.add_argument("--database-url", help="measure this database as it is (no seeding)")
    parser.add_argument("--range", default="7d", dest="range_")
    parser.add_argument(
        "--dates", help="FROM,TO (YYYY-MM-DD): a custom range, e.g. the last week of a dataset"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "browser.md")
    args = parser.parse_args()
    # The link parameters every measured page is opened with.
    start, _, end = (args.dates or "").partition(",")
    query = f"range=custom&from={start}&to={end}" if args.dates else f"range={args.range_}"
    if args.database_url:
        runs, backend = _existing(args.database_url)
        browser, script = _measure(args.database_url, query)
    else:
        runs, backend = args.runs, "SQLite"
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
            _seed(url, args.runs)
            browser, script = _measure(url, query)
    report = _report(runs, backend, query, browser, script)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
