"""The checks of `make langflow-e2e` (scripts/langflow_fixtures/e2e_browser.py), run here on
what a real Langflow 1.13.0 wrote (the committed fixture) instead of a live Langflow, which
the suite does not install: every check passes on the synced runs, and each one fails, with
its reason, when the page does not show what Langflow's rows say.

In Debian's headless Chromium, like the other browser tests."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from e2e_server import ROOT, running_dashboard

from data import migrate
from data.db import build_engine
from data.langflow.source import open_source
from data.langflow.sync import sync_once

sys.path.insert(0, str(ROOT / "tests" / "langflow"))
sys.path.insert(0, str(ROOT / "scripts" / "langflow_fixtures"))
from e2e_browser import CheckFailed, DashboardCheck, Span, TraceFacts, read_trace
from langflow_fixture import CURRENT, MANIFEST

pytestmark = pytest.mark.browser
pytest.importorskip("playwright.sync_api")
FAST_MS = 4_000  # a check that is going to fail need not wait a minute


def _api_run(flow: str) -> str:
    runs = MANIFEST["backends"]["sqlite"]["runs"]
    return str(next(r["trace_id"] for r in runs if r["flow"] == flow and r["via"] == "api"))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The dashboard over the fixture's runs, synced as the script syncs them: from the
    work folder with a relative source URL, so the badge names no path of this machine."""
    work = tmp_path_factory.mktemp("e2e-checks")
    shutil.copy(CURRENT / "langflow.sqlite", work / "langflow.sqlite")
    url = f"sqlite:///{work / 'flowruns.db'}"
    migrate.upgrade(url)
    ours, before = build_engine(url), Path.cwd()
    os.chdir(work)
    try:
        sync_once(ours, open_source("sqlite:///langflow.sqlite", ours))
    finally:
        os.chdir(before)
        ours.dispose()
    with running_dashboard(url) as base:
        yield base, work


@pytest.fixture
def facts(served: tuple[str, Path]) -> dict[str, TraceFacts]:
    db = served[1] / "langflow.sqlite"
    return {
        "llm": read_trace(db, _api_run("llm"), "LLM"),
        "fails": read_trace(db, _api_run("fails"), "Fails"),
    }


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    tab = browser.new_page()
    tab.set_viewport_size({"width": 1400, "height": 2600})
    try:
        yield tab
    finally:
        tab.close()


def test_every_check_passes_on_what_a_real_langflow_wrote(
    served: tuple[str, Path], facts: dict[str, TraceFacts], page: Any
) -> None:
    base, work = served
    llm, fails = facts["llm"], facts["fails"]
    assert len(llm.spans) == 4 and len(fails.failing) == 1  # an LLM call below its component
    passed: list[str] = []
    check = DashboardCheck(page, base, [str(work), str(ROOT)], passed)
    check.open_run(llm)
    check.steps(llm)
    check.slowest(llm)
    check.badge()
    check.clean("LLM run")
    check.screenshot(work / "llm.png", down_to=page.locator(".st-key-rd_steps_chart"))
    check.open_run(fails)
    check.steps(fails)
    check.slowest(fails)
    check.failure(fails)
    check.clean("Fails run")
    assert len(passed) == 6
    assert passed[2].startswith("source badge: 'Langflow at sqlite:///langflow.sqlite, synced ")
    assert (work / "llm.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_each_check_fails_when_the_page_differs_from_langflows_rows(
    served: tuple[str, Path], facts: dict[str, TraceFacts], page: Any
) -> None:
    base, work = served
    llm, fails = facts["llm"], facts["fails"]
    patient = DashboardCheck(page, base, [str(work)], [])
    check = DashboardCheck(page, base, [str(work)], [], wait_ms=FAST_MS)
    patient.open_run(llm)
    patient.steps(llm)  # the page has drawn this run: what follows fails on content alone
    one_more = replace(llm, spans=(*llm.spans, Span("Ghost", 1, "ok", None)))
    with pytest.raises(CheckFailed, match=r"shows \['Steps \(4\)'\]; Langflow wrote 5 spans"):
        check.steps(one_more)
    renamed = replace(llm, spans=(replace(llm.spans[0], name="Renamed"), *llm.spans[1:]))
    with pytest.raises(CheckFailed, match="timeline bars"):
        check.steps(renamed)
    first = llm.spans[0]
    slow_first = replace(llm, spans=(replace(first, latency_ms=10**9), *llm.spans[1:]))
    assert first.name not in llm.slowest  # so the page names another span
    with pytest.raises(CheckFailed, match=f"slowest span \\({first.name}\\)"):
        check.slowest(slow_first)
    leaky = DashboardCheck(page, base, ["sqlite:///langflow.sqlite"], [], wait_ms=FAST_MS)
    with pytest.raises(CheckFailed, match="machine paths"):
        leaky.clean("LLM run")  # the badge's URL, found through its word joiner
    patient.open_run(fails)
    patient.steps(fails)
    failing = fails.failing[0]
    other_error = replace(
        fails,
        spans=tuple(replace(s, error="another error") if s is failing else s for s in fails.spans),
    )
    with pytest.raises(CheckFailed, match="'another error' is not shown on the run"):
        check.failure(other_error)
