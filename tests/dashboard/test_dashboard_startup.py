"""First start, empty and broken databases: clear messages, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from dashworld import all_rows, app, assert_clean, texts
from sqlalchemy import create_engine, inspect


def test_embedded_default_gets_schema_and_labelled_demo_data(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # the embedded default lives in ./var
    at = app(monkeypatch, None, demo_runs="150")
    assert_clean(at)
    url = f"sqlite:///{tmp_path / 'var' / 'flowruns.db'}"
    assert len(all_rows(url)) == 150
    assert any("Demo data" in c for c in texts(at.caption))
    at.run()  # a second start adds nothing
    assert len(all_rows(url)) == 150


def test_configured_database_without_runs_shows_the_empty_state(
    monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    at = app(monkeypatch, db_url, demo_runs="150")
    assert_clean(at)
    assert any("flowruns demo --runs 10000" in i for i in texts(at.info))
    assert not any("Demo data" in c for c in texts(at.caption))
    assert len(all_rows(db_url)) == 0  # never demo data in a configured database


def test_configured_database_without_schema_says_run_init_db(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'blank.db'}"
    at = app(monkeypatch, url)
    assert not at.exception
    assert len(at.error) == 1 and "flowruns init-db" in at.error[0].value
    assert inspect(create_engine(url)).get_table_names() == []  # nothing created


def test_unreachable_database_gives_one_error(monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(monkeypatch, "postgresql+psycopg://nobody:secret@127.0.0.1:1/nowhere")
    assert not at.exception
    assert len(at.error) == 1
    message = at.error[0].value
    assert "FLOWRUNS_DATABASE_URL" in message and "secret" not in message
    assert not at.metric
