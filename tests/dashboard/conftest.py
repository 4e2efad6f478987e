"""Browser fixtures: one dashboard for the session over the demo-like
database for every browser module whose checks read their expectations from that data
(test_e2e_browser, test_history_browser, test_retention_browser). Modules that need data
of their own (chart interactions, same-named flows and hostile text) start their own
server with ``e2e_server.running_dashboard``. Chromium is started per module: the sync
Playwright keeps an event loop running in this thread while it lives, which would break
``asyncio.run`` in every later test of the session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from dashworld import seed
from e2e_server import chromium, running_dashboard


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(base URL, database URL) of the dashboard over 2,000 seeded runs in 90 days.
    Read-only for its users: no test deletes from it."""
    from data import migrate

    url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'flowruns.db'}"
    migrate.upgrade(url)
    seed(url, runs=2000, days=90)
    with running_dashboard(url) as base:
        yield base, url


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium(tmp_path_factory.mktemp("chromium-profile"), accept_downloads=True) as context:
        yield context
