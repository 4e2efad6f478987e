"""The end-to-end check's browser half: our dashboard (`streamlit run`) on a free loopback
port, and Debian's Chromium (Playwright, never a downloaded browser) reading two synced
Langflow runs on the History page. What each page must show is read from Langflow's own
database with SQL (`TraceFacts`), never from ours.
"""

from __future__ import annotations

import contextlib
import html
import os
import re
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server import free_port

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
# As tests/dashboard/e2e_server.py: headless, and nothing that reaches the internet.
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
WAIT_MS = 60_000  # a first page render on 2 busy cores can take a while
CHART = ".st-key-rd_steps_chart .js-plotly-plot"  # the run detail's step timeline
LABEL_PREFIX = re.compile(r"^\s*(?:↳\s*)?\d+\.\s*")  # "2. " / "  ↳ 3. " before a step's name


class CheckFailed(AssertionError):
    pass


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


@dataclass(frozen=True)
class Span:
    name: str
    latency_ms: int | None
    status: str
    error: str | None


@dataclass(frozen=True)
class TraceFacts:
    """One run as Langflow wrote it (its `trace` row and its `span` rows)."""

    trace_id: str
    flow_name: str
    status: str
    total_latency_ms: int
    total_tokens: int
    spans: tuple[Span, ...]

    @property
    def slowest(self) -> set[str]:
        """Names of the spans with the longest latency (a tie gives several)."""
        top = max(s.latency_ms or 0 for s in self.spans)
        return {s.name for s in self.spans if (s.latency_ms or 0) == top}

    @property
    def failing(self) -> list[Span]:
        return [s for s in self.spans if s.error]


def read_trace(db: Path, trace_id: str, flow_name: str) -> TraceFacts:
    key = trace_id.replace("-", "")  # SQLite holds Langflow's ids as 32 hex characters
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        status, latency, tokens = conn.execute(
            "SELECT status, total_latency_ms, total_tokens FROM trace WHERE id = ?", (key,)
        ).fetchone()
        spans = conn.execute(
            "SELECT name, latency_ms, status, error FROM span WHERE trace_id = ?", (key,)
        ).fetchall()
    return TraceFacts(
        trace_id=trace_id,
        flow_name=flow_name,
        status=str(status),
        total_latency_ms=int(latency),
        total_tokens=int(tokens or 0),
        spans=tuple(Span(str(n), lat, str(st), err) for n, lat, st, err in spans),
    )


@contextlib.contextmanager
def running_dashboard(database_url: str, log_path: Path) -> Iterator[str]:
    """`streamlit run dashboard/app.py` on our database; yields its base URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWRUNS_")}
    env["FLOWRUNS_DATABASE_URL"] = database_url
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", "dashboard/app.py"]
    command += ["--server.headless", "true", "--server.port", str(port)]
    command += ["--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    with log_path.open("ab") as log:
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, proc)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _wait_healthy(base: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CheckFailed(f"the dashboard exited with {proc.returncode}; see its log")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.3)
    raise CheckFailed(f"the dashboard did not answer within {timeout:.0f} s")


class DashboardCheck:
    """Drives one Chromium tab; every check passed is added to `passed` as one line."""

    def __init__(self, page: Any, base: str, forbidden: list[str]) -> None:
        self.page, self.base = page, base
        self.forbidden = forbidden  # machine paths the page (and the screenshots) must not show
        self.passed: list[str] = []

    def open_run(self, run: TraceFacts) -> None:
        self.page.goto(f"{self.base}/history?range=all&run={run.trace_id}")
        self.page.locator('[data-testid="stMainBlockContainer"] h1').first.wait_for(timeout=WAIT_MS)

    def steps(self, run: TraceFacts) -> None:
        """The heading, one timeline bar per span, and the bars' names are the spans'."""
        count = len(run.spans)
        heading = self.page.get_by_role("heading", name=f"Steps ({count})", exact=True)
        heading.wait_for(timeout=WAIT_MS)
        headings = self.page.get_by_role("heading", name=re.compile(r"^Steps \(")).count()
        expect(headings == 1, f"{headings} 'Steps (…)' headings on the page")
        self.page.locator(CHART).wait_for(timeout=WAIT_MS)
        self.page.wait_for_function(
            f"n => document.querySelectorAll('{CHART} .barlayer .point').length === n",
            arg=count,
            timeout=WAIT_MS,
        )
        chart = self.page.locator(CHART)
        labels = chart.evaluate("gd => gd.data.flatMap(t => t.y)")
        drawn = sorted(LABEL_PREFIX.sub("", html.unescape(str(label))) for label in labels)
        expect(
            drawn == sorted(s.name for s in run.spans),
            f"timeline bars {drawn}, Langflow's spans {sorted(s.name for s in run.spans)}",
        )
        self.passed.append(
            f"{run.flow_name}: 'Steps ({count})' = the {count} spans Langflow wrote for trace"
            f" {run.trace_id}; the Plotly timeline draws {count} bars, one per span, named as"
            " they are"
        )

    def slowest(self, run: TraceFacts) -> None:
        line = self.page.get_by_text(re.compile(r"^Slowest step: ")).first
        line.wait_for(timeout=WAIT_MS)
        text = line.inner_text()
        shown = re.match(r"Slowest step: (?:↳\s*)?\d+\. (.+?), ", text)
        expect(
            shown is not None and shown.group(1) in run.slowest,
            f"'{text}' does not name Langflow's slowest span ({', '.join(sorted(run.slowest))})",
        )
        self.passed.append(f"{run.flow_name}: '{text}' (the span with the highest latency_ms)")

    def badge(self) -> None:
        badge = self.page.get_by_text(re.compile(r"Langflow at \S+, synced ")).first
        badge.wait_for(timeout=WAIT_MS)
        self.passed.append(f"source badge: '{badge.inner_text().strip()}'")

    def clean(self, what: str) -> None:
        """No exception box, no traceback, no path of this machine on the page."""
        body = self.page.locator("body").inner_text()
        expect(self.page.locator('[data-testid="stException"]').count() == 0, f"{what}: error")
        expect("Traceback" not in body, f"{what}: a traceback is shown")
        leaked = [path for path in self.forbidden if path in body]
        expect(not leaked, f"{what}: the page shows machine paths {leaked}")

    def pick_run(self, run: TraceFacts) -> None:
        """Choose the run in the History page's "Run detail" chooser, as a person would."""
        self.page.locator(".st-key-h_selected").click()
        self.page.get_by_role(
            "option", name=re.compile(rf" · {re.escape(run.flow_name)} · ")
        ).click()
        self.page.wait_for_url(re.compile(rf"run={run.trace_id}"), timeout=WAIT_MS)
        self.passed.append(f"picked the {run.flow_name} run in the 'Run detail' chooser")

    def failure(self, run: TraceFacts) -> None:
        """The failing span's error: on the run, on its bar's colour, and in its step."""
        (failing,) = run.failing
        first_line = failing.error.strip().splitlines()[0] if failing.error else ""
        codes = self.page.locator('[data-testid="stCode"]').filter(has_text=first_line[:80])
        codes.first.wait_for(timeout=WAIT_MS)
        chart = self.page.locator(CHART)
        by_status = chart.evaluate("gd => Object.fromEntries(gd.data.map(t => [t.name, t.y]))")
        failed_bars = [LABEL_PREFIX.sub("", html.unescape(y)) for y in by_status.get("failure", [])]
        expect(
            failed_bars == [failing.name],
            f"bars coloured as failure: {failed_bars}, Langflow's failing span: {failing.name}",
        )
        self.page.locator(".st-key-rd_step").click()
        self.page.get_by_role(
            "option", name=re.compile(rf"\d+\. {re.escape(failing.name)}$")
        ).click()
        self.page.get_by_text("Error", exact=True).last.wait_for(timeout=WAIT_MS)
        deadline = time.monotonic() + WAIT_MS / 1000
        while codes.count() < 2 and time.monotonic() < deadline:
            time.sleep(0.3)  # the run's error, then the picked step's
        expect(codes.count() >= 2, "the failing step's own error is not shown")
        self.passed.append(
            f"{run.flow_name}: the failing component's error '{first_line}' is shown on the run"
            f" and in its step '{failing.name}' (picked), whose bar is the only red one"
        )

    def screenshot(self, path: Path) -> None:
        self.page.locator(CHART).scroll_into_view_if_needed()
        self.page.wait_for_timeout(800)  # let the scroll and the chart settle
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path))


def check_dashboard(
    base: str,
    llm: TraceFacts,
    failed: TraceFacts,
    profile: Path,
    shots: dict[str, Path],
    forbidden: list[str],
) -> list[str]:
    """Every check on both runs; the lines of what passed (a failure raises)."""
    from playwright.sync_api import sync_playwright

    expect(CHROMIUM.exists(), f"needs Debian's {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            page = context.new_page()
            check = DashboardCheck(page, base, forbidden)
            check.open_run(llm)
            check.steps(llm)
            check.slowest(llm)
            check.badge()
            check.clean(f"{llm.flow_name} run")
            check.screenshot(shots["llm"])
            check.pick_run(failed)
            check.steps(failed)
            check.slowest(failed)
            check.failure(failed)
            check.clean(f"{failed.flow_name} run")
            check.screenshot(shots["failure"])
            return check.passed
        finally:
            context.close()
