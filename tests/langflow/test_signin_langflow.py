"""Pointed at Langflow's own database, its users sign in with their Langflow passwords:
the hashes a real Langflow 1.13.0 wrote (passlib's bcrypt) are checked as they are."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from langflow_fixture import CURRENT, replay_dump, rows
from sqlalchemy import create_engine

from data import migrate, signin
from data.db import build_engine

# The fixture script's accounts (scripts/langflow_fixtures/server.py, scenarios.py).
ACCOUNTS = {
    "fixture_admin": ("fixture-admin-password", True),
    "fixture_second": ("fixture-second-password", False),
}
LIMITS = signin.Limits(per_account=5, per_client=20, window=timedelta(minutes=15))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def langflow_url(
    request: pytest.FixtureRequest, tmp_path: Path, pg_scratch_database: Callable[[], str]
) -> str:
    if request.param == "sqlite":
        copy = tmp_path / "langflow.sqlite"
        shutil.copy(CURRENT / "langflow.sqlite", copy)
        return f"sqlite:///{copy}"
    url = pg_scratch_database()
    replay_dump(CURRENT / "langflow.postgresql.sql", url)
    return url


def test_langflow_users_sign_in_with_their_langflow_passwords(langflow_url: str) -> None:
    raw = create_engine(langflow_url)
    stored = {r.username: r.password for r in rows(raw, 'SELECT username, password FROM "user"')}
    raw.dispose()
    assert set(stored) == set(ACCOUNTS)
    assert all(h.startswith("$2b$12$") for h in stored.values())  # as Langflow wrote them
    migrate.upgrade(langflow_url)  # FLOWRUNS_DATABASE_URL=<Langflow's>; flowruns init-db
    engine = build_engine(langflow_url)
    try:
        for name, (password, superuser) in ACCOUNTS.items():
            who = signin.sign_in(engine, name, password, "c1", LIMITS)
            assert (who.username, who.is_superuser) == (name, superuser)
            with pytest.raises(signin.SignInRefused, match="Invalid username or password"):
                signin.sign_in(engine, name, password + "x", "c1", LIMITS)
        after = {
            r.username: r.password for r in rows(engine, 'SELECT username, password FROM "user"')
        }
        assert after == stored  # signing in never rewrites Langflow's hashes
    finally:
        engine.dispose()
