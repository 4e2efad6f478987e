"""Retention page, bulk delete: criteria that match every deletable run say so and need
the explicit "delete every finished run" checkbox besides the typed phrase (the API's
``all=true`` and the CLI's ``--all``); the guard runs again at delete time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from dashworld import FINISHED, all_rows, app, assert_clean, seed, texts
from sqlalchemy import delete
from streamlit.testing.v1 import AppTest

from data.audit import list_entries
from data.db import build_engine
from data.models import FlowRun

PAGE = "views/retention.py"
WARNING = "These criteria match every deletable run"


def preview(at: AppTest, days: int) -> int:
    at.switch_page(PAGE).run()
    at.number_input(key="r_days").set_value(days).run()
    at.button(key="r_preview_btn").click().run()
    assert_clean(at)
    message = next(i for i in texts(at.info) if "would be deleted" in i)
    return int(message.split("**")[1].split()[0].replace(",", ""))


def test_criteria_matching_every_finished_run_need_the_checkbox(
    monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    seed(db_url, runs=150)
    before = all_rows(db_url)
    finished = before[before.status.isin(FINISHED)]
    at = app(monkeypatch, db_url)
    count = preview(at, 0)
    assert count == len(finished) > 0
    assert any(WARNING in w and "every finished run" in w for w in texts(at.warning))
    box = at.checkbox(key="r_everything")
    assert box.label == "delete every finished run" and not box.value
    at.text_input(key="r_confirm").input(f"DELETE {count}").run()
    assert at.button(key="r_go").disabled  # the typed phrase alone is not enough
    at.checkbox(key="r_everything").check().run()
    assert not at.button(key="r_go").disabled
    at.checkbox(key="r_everything").uncheck().run()
    assert at.button(key="r_go").disabled
    at.checkbox(key="r_everything").check().run()
    at.button(key="r_go").click().run()
    assert_clean(at)
    after = all_rows(db_url)
    assert set(after.id) == set(before.id) - set(finished.id)
    assert any(f"Deleted {count:,} runs" in s for s in texts(at.success))
    engine = build_engine(db_url)
    try:
        entry = list_entries(engine).entries[0]
    finally:
        engine.dispose()
    assert (entry.surface, entry.dry_run, entry.affected) == ("dashboard", False, count)
    assert json.loads(entry.criteria)["requested"]["all"] is True


def test_narrower_criteria_show_no_warning_and_no_checkbox(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    seed(sqlite_url, runs=150)
    at = app(monkeypatch, sqlite_url)
    count = preview(at, 10)
    assert 0 < count < int(all_rows(sqlite_url).status.isin(FINISHED).sum())
    assert not [w for w in texts(at.warning) if WARNING in w]
    assert not [c for c in at.checkbox if c.key == "r_everything"]
    at.text_input(key="r_confirm").input(f"DELETE {count}").run()
    assert not at.button(key="r_go").disabled


def test_criteria_that_came_to_match_everything_after_the_preview_delete_nothing(
    monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    """Same count as previewed, but the other finished runs were deleted meanwhile: the
    delete would now take every finished run, which was never confirmed."""
    seed(db_url, runs=150)
    at = app(monkeypatch, db_url)
    count = preview(at, 10)
    cutoff = datetime.now(UTC) - timedelta(days=10)
    engine = build_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                delete(FlowRun).where(FlowRun.started_at >= cutoff, FlowRun.status.in_(FINISHED))
            )
    finally:
        engine.dispose()
    remaining = all_rows(db_url)
    at.text_input(key="r_confirm").input(f"DELETE {count}").run()
    at.button(key="r_go").click().run()
    assert not at.exception
    assert any(
        "now match every deletable run" in e and "nothing was deleted" in e for e in texts(at.error)
    )
    assert set(all_rows(db_url).id) == set(remaining.id)
    assert int(remaining.status.isin(FINISHED).sum()) == count
