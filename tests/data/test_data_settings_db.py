"""Settings built lazily from FLOWRUNS_* variables; engines cached per URL with the
per-connection settings the data layer relies on (SQLite WAL + foreign keys, UTC sessions)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from streamlit.testing.v1 import AppTest

from data.db import get_engine, session_scope
from data.models import User
from data.settings import SettingsError, get_settings

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def test_default_is_the_embedded_sqlite_file() -> None:
    settings = get_settings()
    assert settings.uses_embedded_default
    assert settings.resolved_database_url == "sqlite:///var/flowruns.db"
    assert get_settings() is settings  # cached


def test_environment_overrides_after_cache_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    before = get_settings()
    monkeypatch.setenv("FLOWRUNS_DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("FLOWRUNS_DELETE_BATCH_SIZE", "123")
    assert get_settings() is before  # built once per process, until the cache is cleared
    assert before.uses_embedded_default
    get_settings.cache_clear()
    settings = get_settings()
    assert settings.resolved_database_url == "postgresql+psycopg://u@h/db"
    assert not settings.uses_embedded_default
    assert settings.delete_batch_size == 123


def test_invalid_setting_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWRUNS_DELETE_BATCH_SIZE", "0")
    get_settings.cache_clear()
    with pytest.raises(
        SettingsError,
        match=r"^FLOWRUNS_DELETE_BATCH_SIZE: .*greater than or equal to 1 \(got .0.\)$",
    ):
        get_settings()


def test_get_engine_is_cached_per_url(sqlite_url: str, tmp_path: Path) -> None:
    engine = get_engine(sqlite_url)
    try:
        assert get_engine(sqlite_url) is engine
        other = f"sqlite:///{tmp_path / 'other' / 'x.db'}"
        assert get_engine(other) is not engine
        assert (tmp_path / "other").is_dir()  # the folder is created for the file
    finally:
        for url in (sqlite_url, f"sqlite:///{tmp_path / 'other' / 'x.db'}"):
            get_engine(url).dispose()
        get_engine.cache_clear()


def test_connection_settings(engine: Engine) -> None:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        else:
            assert conn.execute(text("SHOW TimeZone")).scalar() in ("UTC", "utc")


def test_session_scope_commits_or_rolls_back(engine: Engine) -> None:
    kept, dropped = uuid.uuid4(), uuid.uuid4()
    with session_scope(engine) as session:
        session.add(User(id=kept, username="kept"))
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        session.add(User(id=dropped, username="dropped"))
        session.flush()
        raise RuntimeError("abort")
    with session_scope(engine) as session:
        assert set(session.scalars(select(User.username))) == {"kept"}


@pytest.mark.parametrize(
    ("name", "value"), [("FLOWRUNS_READ_ONLY", "maybe"), ("FLOWRUNS_DELETE_BATCH_SIZE", "abc")]
)
def test_the_dashboard_shows_an_invalid_setting_as_one_error(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv("FLOWRUNS_DATABASE_URL", sqlite_url)
    monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    app = AppTest.from_file(str(DASHBOARD), default_timeout=60).run()
    assert not app.exception
    assert len(app.error) == 1
    shown = app.error[0].value.replace("\\", "")  # Markdown-escaped: the value is shown as text
    assert shown.startswith(f"Invalid configuration: {name}: ") and f"(got '{value}')" in shown
