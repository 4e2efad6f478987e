"""Shared fixtures: a real SQLite file and a real PostgreSQL database per test session.

``engine`` is parametrised over both backends. PostgreSQL comes from
FLOWRUNS_TEST_PG_URL (default: the local trust-auth server); when it is unreachable
its tests are skipped with the reason, unless FLOWRUNS_REQUIRE_POSTGRES=1 (CI), which
turns that into an error.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from data import migrate
from data.db import build_engine
from data.settings import get_settings

# Local runs explore new random examples; CI replays a fixed sequence so a landing does not
# hinge on luck (run with DATA_TESTS_EXAMPLES=300 locally for a deeper search).
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TABLES = (
    "flowrun_api_key",
    "flow_run",
    "flow",
    '"user"',
    "flowrun_audit",
    "flowrun_retention_policy",
    "flowrun_step",
    "flowrun_sync_state",
    "flowrun_model_price",
    "flowrun_login_failure",
)


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings are cached per process: start each test from a clean environment."""
    for name in list(os.environ):
        if name.startswith("FLOWRUNS_") and name not in (
            "FLOWRUNS_TEST_PG_URL",
            "FLOWRUNS_REQUIRE_POSTGRES",
        ):
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "flowruns.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def _admin_engine(url: str) -> Engine:
    return create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})


def _reachable_pg_admin_url() -> str:
    """The admin URL, or skip (fail under FLOWRUNS_REQUIRE_POSTGRES=1) if no server answers."""
    admin_url = os.environ.get("FLOWRUNS_TEST_PG_URL", DEFAULT_PG_URL)
    admin = _admin_engine(admin_url)
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any connection failure means "no PostgreSQL here"
        first_line = str(exc).strip().splitlines()[0][:160]
        reason = f"PostgreSQL unreachable at {make_url(admin_url).render_as_string()}: {first_line}"
        if os.environ.get("FLOWRUNS_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    finally:
        admin.dispose()
    return admin_url


@contextmanager
def _scratch_pg_database(admin_url: str, prefix: str) -> Iterator[str]:
    """A new, empty database (URL in the admin URL's form), dropped on the way out."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = _admin_engine(admin_url)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """A new, migrated PostgreSQL database for this test session (dropped at the end)."""
    with _scratch_pg_database(_reachable_pg_admin_url(), "flowruns_test") as url:
        migrate.upgrade(url)
        yield url


@pytest.fixture(scope="session")
def pg_scratch_database() -> Iterator[Callable[[], str]]:
    """Makes empty PostgreSQL databases (no schema of ours) on demand; all dropped at the end.

    For tests that load another application's schema, e.g. a Langflow dump.
    """
    admin_url = _reachable_pg_admin_url()
    with ExitStack() as stack:
        yield lambda: stack.enter_context(_scratch_pg_database(admin_url, "flowruns_scratch"))


@pytest.fixture
def pg_url(pg_database_url: str) -> str:
    """The session database, emptied before the test."""
    engine = build_engine(pg_database_url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} CASCADE"))
    engine.dispose()
    return pg_database_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """URL of an empty, migrated database on each backend."""
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    built = build_engine(db_url)
    yield built
    built.dispose()
