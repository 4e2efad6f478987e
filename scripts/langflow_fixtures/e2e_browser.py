"""The end-to-end check's browser half: Debian's Chromium (Playwright, never a downloaded
browser) reads two synced Langflow runs on our dashboard's History page. What each page must
show is read from Langflow's own database with SQL (`TraceFacts`), never from ours.
"""

from __future__ import annotations

import contextlib
import html
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

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
VIEWPORT = {"width": 1400, "height": 2600}  # the run detail with its timeline, unscrolled
CHART = ".st-key-rd_steps_chart .js-plotly-plot"  # the run detail's step timeline
LABEL_PREFIX = re.compile(r"^\s*(?:↳\s*)?\d+\.\s*")  # "2. " / "  ↳ 3. " before a step's name


T = TypeVar("T")


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

    @property
    def error_line(self) -> str:
        """The first line of the failing span's error."""
        errors = [s.error.strip() for s in self.failing if s.error and s.error.strip()]
        return errors[0].splitlines()[0] if errors else ""


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


class DashboardCheck:
    """Drives one Chromium tab; every check passed is added to `passed` as one line."""

    def __init__(
        self, page: Any, base: str, forbidden: list[str], passed: list[str], wait_ms: int = WAIT_MS
    ) -> None:
        self.page, self.base, self.wait_ms = page, base, wait_ms
        self.forbidden = forbidden  # machine paths the page (and the screenshots) must not show
        self.passed = passed

    def open_run(self, run: TraceFacts) -> None:
        self.page.goto(f"{self.base}/history?range=all&run={run.trace_id}")
        title = self.page.locator('[data-testid="stMainBlockContainer"] h1').first
        title.wait_for(timeout=self.wait_ms)

    def settled(self, read: Callable[[], T], ok: Callable[[T], bool]) -> T:
        """What `read` gives once `ok` holds, or at the deadline: a rerun replaces the
        previous run's elements one by one, so the first reading may still be the old one."""
        deadline = time.monotonic() + self.wait_ms / 1000
        value = read()
        while not ok(value) and time.monotonic() < deadline:
            time.sleep(0.3)
            value = read()
        return value

    def steps(self, run: TraceFacts) -> None:
        """The heading, one timeline bar per span, and the bars' names are the spans'."""
        count, names = len(run.spans), sorted(s.name for s in run.spans)
        headings = self.page.get_by_role("heading", name=re.compile(r"^Steps \("))
        headings.first.wait_for(timeout=self.wait_ms)
        shown = self.settled(headings.all_inner_texts, lambda h: h == [f"Steps ({count})"])
        expect(
            shown == [f"Steps ({count})"],
            f"{run.flow_name}: the page shows {shown}; Langflow wrote {count} spans",
        )
        chart = self.page.locator(CHART)
        chart.wait_for(timeout=self.wait_ms)
        bars = self.settled(chart.locator(".barlayer .point").count, lambda n: n == count)
        expect(bars == count, f"{run.flow_name}: the timeline draws {bars} bars, not {count}")
        drawn = self.settled(lambda: self._bar_names(chart), lambda d: d == names)
        expect(drawn == names, f"timeline bars {drawn}, Langflow's spans {names}")
        self.passed.append(
            f"{run.flow_name}: 'Steps ({count})' = the {count} spans Langflow wrote for trace"
            f" {run.trace_id}; the Plotly timeline draws {count} bars, one per span, named as"
            " they are"
        )

    @staticmethod
    def _bar_names(chart: Any) -> list[str]:
        labels = chart.evaluate("gd => gd.data.flatMap(t => t.y)")
        return sorted(LABEL_PREFIX.sub("", html.unescape(str(label))) for label in labels)

    def slowest(self, run: TraceFacts) -> None:
        line = self.page.get_by_text(re.compile(r"^Slowest step: ")).first
        line.wait_for(timeout=self.wait_ms)

        def named(text: str) -> bool:
            shown = re.match(r"Slowest step: (?:↳\s*)?\d+\. (.+?), ", text)
            return shown is not None and shown.group(1) in run.slowest

        text = self.settled(line.inner_text, named)
        expect(
            named(text),
            f"'{text}' does not name Langflow's slowest span ({', '.join(sorted(run.slowest))})",
        )
        self.passed.append(f"{run.flow_name}: '{text}' (the span with the highest latency_ms)")

    def badge(self) -> None:
        badge = self.page.get_by_text(re.compile(r"Langflow at \S+, synced ")).first
        badge.wait_for(timeout=self.wait_ms)
        # Without the icon's ligature name and the word joiner that keeps the URL unlinked.
        text = badge.inner_text().replace("\u2060", "")
        self.passed.append(f"source badge: '{text[text.index('Langflow at') :].strip()}'")

    def clean(self, what: str) -> None:
        """No exception box, no traceback, no path of this machine on the page."""
        # Without the word joiners that keep URLs in Markdown from becoming links.
        body = self.page.locator("body").inner_text().replace("\u2060", "")
        expect(self.page.locator('[data-testid="stException"]').count() == 0, f"{what}: error")
        expect("Traceback" not in body, f"{what}: a traceback is shown")
        leaked = [path for path in self.forbidden if path in body]
        expect(not leaked, f"{what}: the page shows machine paths {leaked}")

    def pick_run(self, run: TraceFacts) -> None:
        """Choose the run in the History page's "Run detail" chooser, as a person would."""
        self.page.locator(".st-key-h_selected").click()
        option = re.compile(rf" · {re.escape(run.flow_name)} · ")
        self.page.get_by_role("option").filter(has_text=option).click()
        self.page.wait_for_url(re.compile(rf"run={run.trace_id}"), timeout=self.wait_ms)
        self.passed.append(f"picked the {run.flow_name} run in the 'Run detail' chooser")

    def error_codes(self, run: TraceFacts) -> Any:
        """The visible code elements that show the failing span's error (its first line);
        a payload tab not chosen holds its code hidden."""
        codes = self.page.locator('[data-testid="stCode"]').filter(has_text=run.error_line[:80])
        return codes.filter(visible=True)

    def failure(self, run: TraceFacts) -> None:
        """The failing span's error: on the run, on its bar's colour, and in its step."""
        (failing,) = run.failing
        codes = self.error_codes(run)
        on_the_run = codes.count()  # the page has drawn this run's steps (see steps())
        expect(on_the_run >= 1, f"{run.flow_name}: '{run.error_line}' is not shown on the run")
        chart = self.page.locator(CHART)
        by_status = chart.evaluate("gd => Object.fromEntries(gd.data.map(t => [t.name, t.y]))")
        failed_bars = [LABEL_PREFIX.sub("", html.unescape(y)) for y in by_status.get("failure", [])]
        expect(
            failed_bars == [failing.name],
            f"bars coloured as failure: {failed_bars}, Langflow's failing span: {failing.name}",
        )
        self.page.locator(".st-key-rd_step").click()
        option = re.compile(rf"^\d+\. {re.escape(failing.name)}$")
        self.page.get_by_role("option").filter(has_text=option).click()
        self.page.get_by_text("Error", exact=True).wait_for(timeout=self.wait_ms)  # the step's
        deadline = time.monotonic() + self.wait_ms / 1000
        while codes.count() <= on_the_run and time.monotonic() < deadline:
            time.sleep(0.3)
        expect(codes.count() == on_the_run + 1, "the failing step's own error is not shown")
        self.passed.append(
            f"{run.flow_name}: the failing component's error '{run.error_line}' is shown on the"
            f" run and in its step '{failing.name}' (picked in the step chooser), whose bar is"
            " the only one coloured as failure"
        )

    def screenshot(self, path: Path, down_to: Any) -> None:
        """The page from the top down to the bottom of the `down_to` locator (the viewport
        is tall enough that nothing needs scrolling)."""
        self.page.mouse.move(1, 1)  # no hover toolbar over the picture
        self.page.wait_for_timeout(800)  # let the chart finish its transitions
        box = down_to.bounding_box()
        expect(box is not None, f"{down_to} is not drawn")
        height = box["y"] + box["height"] + 24
        expect(height <= VIEWPORT["height"], f"the screenshot needs {height:.0f} px of height")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(
            path=str(path), clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": height}
        )


def check_dashboard(
    base: str,
    llm: TraceFacts,
    failed: TraceFacts,
    profile: Path,
    shots: dict[str, Path],
    forbidden: list[str],
    passed: list[str],
) -> None:
    """Every check on both runs; each one passed adds a line to `passed` (a failure raises)."""
    from playwright.sync_api import sync_playwright

    expect(CHROMIUM.exists(), f"needs Debian's {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            viewport={"width": VIEWPORT["width"], "height": VIEWPORT["height"]},
        )
        try:
            page = context.new_page()
            check = DashboardCheck(page, base, forbidden, passed)
            check.open_run(llm)
            check.steps(llm)
            check.slowest(llm)
            check.badge()
            check.clean(f"{llm.flow_name} run")
            check.screenshot(shots["llm"], down_to=page.locator(CHART))
            check.pick_run(failed)
            check.steps(failed)
            check.slowest(failed)
            check.failure(failed)
            check.clean(f"{failed.flow_name} run")
            check.screenshot(shots["failure"], down_to=check.error_codes(failed).last)
        finally:
            context.close()
