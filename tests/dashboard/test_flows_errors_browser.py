"""In Debian's headless Chromium (the browser matches widget options by their label,
which AppTest does not): the second of two same-named flows can be picked and stays
picked on every page; stored and linked text never becomes a link or an image; an
unknown page path is named (with the linked text case, to save a page load)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, quote, urlparse

import pytest
from dashworld import SEED_NOW
from e2e_server import running_dashboard
from flows_errors_world import HOST, HOSTILE, HOSTILE_TYPE, Seeded, hostile_world, same_named_flows
from test_e2e_browser import _wait_for_app

pytestmark = pytest.mark.browser
TITLES = ("Overview", "History", "Flows", "Errors", "Retention")
# Links, images and any other URL-bearing attribute pointing at the hostile host.
HOSTILE_NODES = (
    f'[href*="{HOST}"], [src*="{HOST}"], [*|href*="{HOST}"], [srcset*="{HOST}"], [style*="{HOST}"]'
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Seeded]]:
    from data import migrate

    url = f"sqlite:///{tmp_path_factory.mktemp('h3e2e') / 'flowruns.db'}"
    migrate.upgrade(url)
    world = same_named_flows(url, SEED_NOW)
    hostile_world(url, SEED_NOW)
    with running_dashboard(url) as base:
        yield base, world


def _flows_in_url(page: object) -> list[str]:
    return parse_qs(urlparse(page.url).query).get("flow", [])  # type: ignore[attr-defined]


def _metric(page: object, label: str) -> str:
    tiles = page.locator('[data-testid="stMetric"]', has_text=label)  # type: ignore[attr-defined]
    return str(tiles.first.locator('[data-testid="stMetricValue"]').inner_text())


def _wait_url(page: object, flow_id: str, path: str) -> None:
    page.wait_for_function(  # type: ignore[attr-defined]
        f"() => location.pathname.endsWith('/{path}') && location.search.includes('{flow_id}')",
        timeout=15_000,
    )


def test_the_second_same_named_flow_can_be_picked_and_stays_picked(
    served: tuple[str, Seeded],
    browser: object,
) -> None:
    base, world = served
    bob = str(world.flows["bob"])
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(f"{base}/?range=all")
    _wait_for_app(page)
    flows_box = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').first
    flows_box.click()
    options = page.get_by_role("option").all_inner_texts()
    assert options.count("ingest (ann)") == options.count("ingest (bob)") == 1
    page.get_by_role("option", name="ingest (bob)").click()  # the second "ingest"
    page.keyboard.press("Escape")
    _wait_url(page, bob, "")
    assert _flows_in_url(page) == [bob]
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=stMetricValue]')]"
        f".some(e => e.innerText.trim() === '{world.count('bob')}')",
        timeout=15_000,
    )
    assert _metric(page, "Runs") == str(world.count("bob"))  # bob's 9 runs, not ann's 5
    assert _metric(page, "Failures") == str(world.count("bob", "failure"))
    for name, path in (("History", "history"), ("Flows", "flows")):
        page.locator('[data-testid="stSidebarNav"]').get_by_text(name, exact=True).click()
        _wait_url(page, bob, path)
        _wait_for_app(page)
        assert _flows_in_url(page) == [bob]
    page.close()


def test_a_link_to_one_of_two_same_named_flows_keeps_that_flow(
    served: tuple[str, Seeded],
    browser: object,
) -> None:
    base, world = served
    bob = str(world.flows["bob"])
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(f"{base}/history?range=all&flow={bob}")
    total = page.locator("p", has_text=re.compile(r"runs\*{0,2} match|runs match"))
    total.first.wait_for(timeout=30_000)
    page.wait_for_timeout(1500)  # a widget that re-matched its value would rerun by now
    assert _flows_in_url(page) == [bob]
    assert total.first.inner_text().startswith(f"{world.count('bob')} runs match")
    tags = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').first
    assert "ingest (bob)" in tags.inner_text()
    page.close()


LINKED = (  # hostile link parameters: echoed in the error about them and the group caption
    f"range={quote(HOSTILE)}&tz={quote(HOSTILE)}&flow={quote(HOSTILE)}"
    f"&error_type={quote(HOSTILE_TYPE)}&sig={quote(HOSTILE)}"
)


@pytest.mark.parametrize(
    ("query", "titles"),
    [("range=30d", TITLES), (LINKED, ("Overview", "Errors"))],
    ids=["stored", "linked"],
)
def test_no_page_links_or_loads_anything_from_stored_or_linked_text(
    served: tuple[str, Seeded],
    browser: object,
    query: str,
    titles: tuple[str, ...],
) -> None:
    base, _ = served
    page = browser.new_page()  # type: ignore[attr-defined]
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    # The linked case also asks for a page that does not exist: named, then Overview.
    page.goto(f"{base}/{'nosuchpage' if query == LINKED else ''}?{query}")
    for title in titles:
        if title != "Overview":  # in-app switches: the link's parameters stay in the URL
            page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
        heading = page.locator('[data-testid="stMainBlockContainer"] h1', has_text=title)
        heading.first.wait_for(timeout=30_000)
        page.wait_for_timeout(1000)  # charts and tables draw after the heading
        found = page.locator(HOSTILE_NODES)
        assert found.count() == 0, (title, found.first.evaluate("e => e.outerHTML")[:300])
        # Word joiners keep bare URLs from being linked; they are invisible.
        body = page.locator("body").inner_text().replace("\u2060", "")
        assert "Traceback" not in body
        if title == "Errors":
            assert HOSTILE_TYPE in body  # stored or linked, the text is there, as text
        if query == LINKED and title == "Overview":
            assert HOSTILE in body  # the bad link value is named, as text
            errors = page.locator('[data-testid="stAlertContentError"]').all_inner_texts()
            assert any("No page at /nosuchpage" in text for text in errors), errors
            page.keyboard.press("Escape")  # Streamlit's own "Page not found" dialog
    assert not [u for u in requested if HOST in (urlparse(u).hostname or "")]
    page.close()
