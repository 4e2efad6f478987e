"""Destructive actions: confirmation steps, exact preview = delete, read-only mode."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from dashworld import FINISHED, all_rows, app, assert_clean, seed, texts
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from data.db import build_engine
from data.deletion import delete_run


def _open_history_run(at: AppTest, run_id: str) -> None:
    at.switch_page("views/history.py").run()
    at.selectbox(key="h_selected").set_value(run_id).run()
    assert_clean(at)


def _buttons(at: AppTest) -> set[str]:
    return {b.label for b in at.button}


def test_delete_run_needs_confirmation_and_deletes_only_that_run(
    monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    seed(db_url, runs=80)
    before = all_rows(db_url)
    at = app(monkeypatch, db_url, {"range": "all", "status": "success"})
    at.switch_page("views/history.py").run()
    run_id = at.dataframe[0].value["run id"].iloc[0]
    _open_history_run(at, run_id)
    assert any(j.value for j in at.json) or len(at.json) == 3  # inputs/outputs/metadata
    at.button(key="h_delete_start").click().run()
    assert run_id in set(all_rows(db_url).id)  # asking is not deleting
    assert "Yes, delete this run" in _buttons(at)
    at.button(key="h_delete_cancel").click().run()
    assert "Yes, delete this run" not in _buttons(at)
    at.button(key="h_delete_start").click().run()
    at.button(key="h_delete_confirm").click().run()
    assert_clean(at)
    after = all_rows(db_url)
    assert set(before.id) - set(after.id) == {run_id}
    assert any(run_id in s for s in texts(at.success))


def _preview(at: AppTest, days: int, statuses: list[str]) -> int:
    at.switch_page("views/retention.py").run()
    at.number_input(key="r_days").set_value(days).run()
    at.multiselect(key="r_status").set_value(statuses).run()
    at.button(key="r_preview_btn").click().run()
    assert_clean(at)
    message = next(i.value for i in at.info if "would be deleted" in i.value)
    return int(message.split("**")[1].split()[0].replace(",", ""))


def test_bulk_delete_deletes_exactly_the_previewed_runs(
    monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    seed(db_url, runs=300)
    before = all_rows(db_url)
    at = app(monkeypatch, db_url)
    count = _preview(at, 10, ["success", "cancelled"])
    cutoff = datetime.now(UTC) - timedelta(days=10)
    wanted = before[before.status.isin(["success", "cancelled"]) & (before.started_at < cutoff)]
    assert count == len(wanted) > 0
    assert at.button(key="r_go").disabled
    at.text_input(key="r_confirm").input(f"DELETE {count + 1}").run()
    assert at.button(key="r_go").disabled
    at.text_input(key="r_confirm").input(f"DELETE {count}").run()
    assert not at.button(key="r_go").disabled
    at.button(key="r_go").click().run()
    assert_clean(at)
    after = all_rows(db_url)
    assert set(before.id) - set(after.id) == set(wanted.id)
    assert any(f"Deleted {count:,} runs" in s for s in texts(at.success))


def test_bulk_delete_refuses_when_the_count_changed_since_preview(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    seed(sqlite_url, runs=200)
    at = app(monkeypatch, sqlite_url)
    count = _preview(at, 5, ["failure"])
    rows = all_rows(sqlite_url)
    old = rows.started_at < datetime.now(UTC) - timedelta(days=5)
    victim = rows[(rows.status == "failure") & old]
    engine = build_engine(sqlite_url)
    delete_run(engine, uuid.UUID(victim.id.iloc[0]))  # someone else deletes one
    engine.dispose()
    at.text_input(key="r_confirm").input(f"DELETE {count}").run()
    at.button(key="r_go").click().run()
    assert any("count changed" in w for w in texts(at.warning))
    assert len(all_rows(sqlite_url)) == len(rows) - 1  # nothing else deleted


def test_active_runs_are_never_offered_for_bulk_delete(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    seed(sqlite_url, runs=100)
    at = app(monkeypatch, sqlite_url)
    at.switch_page("views/retention.py").run()
    assert set(at.multiselect(key="r_status").options) == set(FINISHED)
    count = _preview(at, 0, [])
    rows = all_rows(sqlite_url)
    assert count == int(rows.status.isin(FINISHED).sum())


def test_prune_previews_then_deletes_the_policy_matches(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    seed(sqlite_url, runs=200)
    before = all_rows(sqlite_url)
    at = app(monkeypatch, sqlite_url, retention_max_age_days="12")
    at.switch_page("views/retention.py").run()
    at.button(key="p_preview_btn").click().run()
    message = next(i.value for i in at.info if "would be pruned" in i.value)
    total = int(message.split("**")[1].split()[0].replace(",", ""))
    cutoff = datetime.now(UTC) - timedelta(days=12)
    wanted = before[before.status.isin(FINISHED) & (before.started_at < cutoff)]
    assert total == len(wanted) > 0
    assert at.button(key="p_go").disabled
    at.text_input(key="p_confirm").input(f"PRUNE {total}").run()
    at.button(key="p_go").click().run()
    assert_clean(at)
    assert set(before.id) - set(all_rows(sqlite_url).id) == set(wanted.id)


def test_read_only_mode_hides_every_destructive_control(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    seed(sqlite_url, runs=100)
    at = app(monkeypatch, sqlite_url, {"range": "all"}, read_only="1", retention_max_age_days="5")
    at.switch_page("views/history.py").run()
    finished = at.dataframe[0].value
    run_id = finished[finished["status"].str.endswith("success")]["run id"].iloc[0]
    _open_history_run(at, run_id)
    assert len(at.json) == 3  # the detail is shown...
    assert not [b for b in at.button if "elete" in b.label]  # ...without delete
    count = _preview(at, 0, [])
    assert count > 0
    at.button(key="p_preview_btn").click().run()
    assert any("would be pruned" in i.value for i in at.info)
    labels = _buttons(at)
    assert not {"Run prune"} & labels and not [x for x in labels if x.startswith("Delete")]
    assert not [t for t in at.text_input if t.key in ("r_confirm", "p_confirm")]
    assert len(all_rows(sqlite_url)) == 100


def _audit_rows(url: str) -> int:
    engine = build_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM flowrun_audit")).scalar_one())
    finally:
        engine.dispose()


def test_read_only_previews_write_nothing_not_even_an_audit_entry(
    monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    """Issue 18: a read-only dashboard's previews used to write a dry-run audit entry
    each. They still count exactly (against pandas), and write no row at all."""
    seed(db_url, runs=120)
    rows = all_rows(db_url)
    at = app(monkeypatch, db_url, read_only="1", retention_max_age_days="5")
    assert _preview(at, 0, []) == int(rows["status"].isin(FINISHED).sum())
    assert _preview(at, 0, ["failure"]) == int((rows["status"] == "failure").sum())
    for _ in range(3):
        at.button(key="p_preview_btn").click().run()
    assert_clean(at)
    cutoff = datetime.now(UTC) - timedelta(days=5)
    old = rows["status"].isin(FINISHED) & (rows["started_at"] < cutoff)
    message = next(i.value for i in at.info if "would be pruned" in i.value)
    assert int(message.split("**")[1].split()[0].replace(",", "")) == int(old.sum())
    assert _audit_rows(db_url) == 0
    assert len(all_rows(db_url)) == 120
