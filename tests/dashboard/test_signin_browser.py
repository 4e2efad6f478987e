"""Sign-in in a real browser (Debian's Chromium): the form, a wrong password, throttling,
a signed-in user's page switch showing only their runs, and sign-out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from access_world import PASSWORDS, AccessWorld, build_world
from e2e_server import CHROMIUM, chromium, running_dashboard

from data import passwords
from data.signin import INVALID

pytestmark = pytest.mark.browser
if not CHROMIUM.exists():
    pytest.skip(
        "needs Debian's /usr/bin/chromium (apt-get install chromium)", allow_module_level=True
    )
pytest.importorskip("playwright.sync_api")
THROTTLED = "Too many failed sign-ins. Try again in 15 minute(s)."


@pytest.fixture
def world(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> AccessWorld:
    monkeypatch.setattr(passwords, "ROUNDS", 4)  # the hashes carry their cost; the server reads it
    return build_world(sqlite_url)


@pytest.fixture
def page(world: AccessWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    settings = {"dashboard_auth": "local", "login_max_failures": "2"}
    with (
        running_dashboard(world.url, **settings) as base,
        chromium(tmp_path_factory.mktemp("signin-profile")) as context,
    ):
        tab = context.new_page()
        tab.goto(base)
        tab.get_by_role("button", name="Sign in").wait_for(timeout=30_000)
        yield tab


def submit(page: Any, name: str, password: str) -> None:
    page.get_by_role("textbox", name="Username").fill(name)
    page.get_by_role("textbox", name="Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def alert(page: Any, text: str) -> None:
    page.locator('[data-testid="stAlertContentError"]', has_text=text).wait_for(timeout=30_000)


def test_sign_in_switch_pages_and_sign_out(page: Any, world: AccessWorld) -> None:
    before = page.locator("body").inner_text().lower()
    assert "alice" not in before and "bob" not in before and "runs" not in before
    submit(page, "alice", "not her passphrase")
    alert(page, INVALID)
    submit(page, "alice", PASSWORDS["alice"])
    page.get_by_text("Signed in as").wait_for(timeout=30_000)
    runs = page.locator('[data-testid="stMetric"]', has_text="Runs").first
    runs.wait_for(timeout=30_000)
    assert str(world.runs_of("alice")) in runs.inner_text()
    page.get_by_role("link", name="History").click()
    page.get_by_text("runs match").first.wait_for(timeout=30_000)
    body = page.locator("body").inner_text()
    assert f"{world.runs_of('alice')} runs match" in body
    assert "bob" not in body.lower() and "Retention" not in body
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign in").wait_for(timeout=30_000)
    assert "Alice flow" not in page.locator("body").inner_text()


def test_wrong_passwords_until_throttled(page: Any) -> None:
    for guess in ("guess one", "guess two"):
        submit(page, "bob", guess)
        alert(page, INVALID)
    submit(page, "bob", PASSWORDS["bob"])
    alert(page, THROTTLED)
    assert page.get_by_text("Signed in as").count() == 0


def test_a_permalink_opened_before_signing_in(page: Any, world: AccessWorld) -> None:
    """Another user's run: "no run", as for one that never existed; one's own: the detail."""
    base = page.url.rstrip("/")
    page.goto(f"{base}/history?run={world.bob_run}")
    page.get_by_role("button", name="Sign in").wait_for(timeout=30_000)
    submit(page, "alice", PASSWORDS["alice"])
    alert(page, "no run with id")
    body = page.locator("body").inner_text()
    assert "forbidden" not in body.lower() and "bob" not in body.lower()
    page.goto(f"{base}/history?run={world.alice_run}")  # a reload: a new session
    page.get_by_role("button", name="Sign in").wait_for(timeout=30_000)
    submit(page, "alice", PASSWORDS["alice"])
    page.get_by_text("Run detail").first.wait_for(timeout=30_000)
    page.get_by_text(str(world.alice_run)).first.wait_for(timeout=30_000)
    assert "bob" not in page.locator("body").inner_text().lower()
