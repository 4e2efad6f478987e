"""Retention page: invalid days block preview and delete; the preview restates what it
counted; the policy is edited, previewed and saved in the database; the prune bar moves
per batch; the audit log is shown with every dashboard delete."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from dashworld import FINISHED, all_rows, app, assert_clean, seed, texts
from sqlalchemy import select, text
from streamlit.testing.v1 import AppTest

from dashboard.components import retention_actions
from data import migrate
from data.accounts import create_user
from data.audit import AuditContext, list_entries
from data.db import build_engine, session_scope
from data.deletion import delete_runs
from data.filters import FlowRunFilter
from data.models import Flow, FlowRun
from data.retention import RetentionPolicy, effective_policy, save_policy
from data.settings import get_settings

PAGE = "views/retention.py"


def open_page(at: AppTest) -> AppTest:
    at.switch_page(PAGE).run()
    assert_clean(at)
    return at


def flow_name(url: str, flow_id: str) -> str:
    engine = build_engine(url)
    try:
        with engine.connect() as conn:
            return str(
                conn.execute(select(Flow.name).where(Flow.id == uuid.UUID(flow_id))).scalar_one()
            )
    finally:
        engine.dispose()


def count_in(messages: list[str], marker: str) -> int:
    message = next(m for m in messages if marker in m)
    return int(message.split("**")[1].split()[0].replace(",", ""))


@pytest.mark.parametrize("bad", [-5, 36_501])
def test_invalid_days_block_preview_and_delete(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str, bad: int
) -> None:
    seed(sqlite_url, runs=120)
    at = open_page(app(monkeypatch, sqlite_url))
    at.number_input(key="r_days").set_value(10).run()
    at.button(key="r_preview_btn").click().run()
    count = count_in(texts(at.info), "would be deleted")
    at.text_input(key="r_confirm").input(f"DELETE {count}").run()
    assert not at.button(key="r_go").disabled  # ready to delete at 10 days...
    at.number_input(key="r_days").set_value(bad).run()
    # ...but the field now says `bad`: nothing may use the old 10.
    [error] = texts(at.error)
    assert f"{bad:g} is not valid" in error and "blocked" in error
    assert at.button(key="r_preview_btn").disabled
    assert not [b for b in at.button if b.key == "r_go"]
    assert not [i for i in texts(at.info) if "would be deleted" in i]
    assert len(all_rows(sqlite_url)) == 120


def test_the_preview_restates_the_criteria_it_counted(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    seed(sqlite_url, runs=150)
    rows = all_rows(sqlite_url)
    at = open_page(app(monkeypatch, sqlite_url))
    flow_id = rows.flow_id.astype(str).iloc[0]
    at.number_input(key="r_days").set_value(3).run()
    at.multiselect(key="r_flows").set_value([flow_id]).run()
    at.button(key="r_preview_btn").click().run()
    before = datetime.now(UTC) - timedelta(days=3)
    count = count_in(texts(at.info), "would be deleted")
    wanted = rows[
        (rows.flow_id.astype(str) == flow_id)
        & ~rows.status.isin(["pending", "running"])
        & (rows.started_at < before)
    ]
    assert count == len(wanted) > 0
    table = at.dataframe[0].value.set_index("criterion")["value"]
    assert table["flows"] == flow_name(sqlite_url, flow_id)
    assert table["statuses"] == "any except pending, running (protected)"
    assert table["started before"].endswith("UTC (3 days before the preview)")
    shown = datetime.strptime(table["started before"][:19], "%Y-%m-%d %H:%M:%S")
    assert abs(shown.replace(tzinfo=UTC) - before) < timedelta(minutes=1)
    at.multiselect(key="r_status").set_value(["failure", "success"]).run()
    at.button(key="r_preview_btn").click().run()
    assert at.dataframe[0].value.set_index("criterion")["value"]["statuses"] == ("failure, success")


def older_finished(url: str, days: float) -> int:
    rows = all_rows(url)
    cutoff = datetime.now(UTC) - timedelta(days=days)
    return int((rows.status.isin(FINISHED) & (rows.started_at < cutoff)).sum())


def test_the_policy_is_previewed_then_saved_in_the_database(
    monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    seed(db_url, runs=200)
    at = open_page(app(monkeypatch, db_url, retention_max_age_days="15"))
    # The setting is the default until a policy is saved here.
    policy_rows = at.dataframe[0].value.set_index("rule")["value"]
    assert policy_rows["Max age (days), all finished runs"] == "15"
    assert any("No policy saved here" in t.value for t in at.text)
    assert at.number_input(key="pol_max_age").value == 15
    assert at.button(key="pol_save").disabled  # nothing previewed yet
    at.number_input(key="pol_max_age").set_value(0).run()
    assert any("Max age (days): 0 is not valid" in e for e in texts(at.error))
    assert at.button(key="pol_preview_btn").disabled
    at.number_input(key="pol_max_age").set_value(12).run()
    at.button(key="pol_preview_btn").click().run()
    assert_clean(at)
    assert count_in(texts(at.info), "would prune") == older_finished(db_url, 12) > 0
    assert not at.button(key="pol_save").disabled
    at.number_input(key="pol_max_runs").set_value(5).run()
    assert at.button(key="pol_save").disabled  # changed since the preview
    at.number_input(key="pol_max_runs").set_value(None).run()
    assert not at.button(key="pol_save").disabled
    at.button(key="pol_save").click().run()
    assert_clean(at)
    assert any("Policy saved" in s for s in texts(at.success))
    engine = build_engine(db_url)
    try:
        stored = effective_policy(engine, get_settings())
        assert (stored.source, stored.policy.max_age_days, stored.policy.max_runs_per_flow) == (
            "database",
            12,
            None,
        )
        assert list_entries(engine).total == 0  # previewing a policy deletes nothing
    finally:
        engine.dispose()
    assert any(t.value.startswith("Saved on this page") for t in at.text)
    at.button(key="p_preview_btn").click().run()  # the prune now applies the saved policy
    assert count_in(texts(at.info), "would be pruned") == older_finished(db_url, 12)
    at.button(key="pol_reset").click().run()
    assert_clean(at)
    assert at.dataframe[0].value.set_index("rule")["value"].iloc[0] == "15"


def test_the_prune_bar_moves_per_batch(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    seed(sqlite_url, runs=400)
    calls: list[tuple[int, int]] = []
    original = retention_actions.progress_bar

    def spy(label: str) -> object:
        report = original(label)

        def record(done: int, total: int) -> None:
            calls.append((done, total))
            report(done, total)

        return record

    monkeypatch.setattr(retention_actions, "progress_bar", spy)
    at = open_page(app(monkeypatch, sqlite_url, retention_max_age_days="3"))
    at.button(key="p_preview_btn").click().run()
    total = count_in(texts(at.info), "would be pruned")
    at.text_input(key="p_confirm").input(f"PRUNE {total}").run()
    at.button(key="p_go").click().run()
    assert_clean(at)
    batch = retention_actions.batch_size_for(total)
    assert len(calls) == math.ceil(total / batch) > 1
    assert [done for done, _ in calls] == sorted({done for done, _ in calls})
    assert calls[-1] == (total, total)
    assert at.get("progress")[0].value == 100  # type: ignore[attr-defined]


def test_batch_size_follows_the_total_within_the_setting() -> None:
    assert retention_actions.batch_size_for(100_000) == 5000  # capped by the setting
    assert retention_actions.batch_size_for(20_000) == 1000
    assert retention_actions.batch_size_for(10) == retention_actions.MIN_BATCH


def test_the_audit_log_shows_every_delete(monkeypatch: pytest.MonkeyPatch, db_url: str) -> None:
    seed(db_url, runs=150)
    engine = build_engine(db_url)
    try:
        delete_runs(engine, FlowRunFilter(statuses=("cancelled",)), audit=AuditContext.cli())
    finally:
        engine.dispose()
    at = open_page(app(monkeypatch, db_url))
    at.number_input(key="r_days").set_value(5).run()
    at.button(key="r_preview_btn").click().run()
    count = count_in(texts(at.info), "would be deleted")
    at.text_input(key="r_confirm").input(f"DELETE {count}").run()
    at.button(key="r_go").click().run()
    assert_clean(at)
    table = at.dataframe[-1].value  # the audit log is the last table on the page
    assert list(table["surface"]) == ["dashboard", "dashboard", "cli"]
    assert list(table["dry run"]) == [False, True, False]
    assert list(table["affected"]) == [count, 0, table["affected"].iloc[2]]
    assert set(table["status"]) == {"completed"}
    assert '"started_before"' in table["criteria"].iloc[0]
    assert [b.label for b in at.get("download_button")] == ["Download the audit log (CSV)"]


def test_the_audit_caption_shows_the_zone_name_as_text(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    """A zone from the URL with Markdown characters ("_") is escaped in the caption."""
    seed(sqlite_url, runs=50)
    engine = build_engine(sqlite_url)
    try:
        delete_runs(engine, FlowRunFilter(statuses=("cancelled",)), audit=AuditContext.cli())
    finally:
        engine.dispose()
    at = open_page(app(monkeypatch, sqlite_url, {"tz": "America/Port_of_Spain"}))
    captions = [c.value for c in at.caption if c.value.startswith("Entries shown")]
    assert captions == ["Entries shown: 1; times in America\\/Port\\_of\\_Spain."]


def test_deleting_one_run_from_history_is_audited(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    seed(sqlite_url, runs=60)
    at = app(monkeypatch, sqlite_url, {"range": "all", "status": "success"})
    at.switch_page("views/history.py").run()
    run_id = at.dataframe[0].value["run id"].iloc[0]
    at.selectbox(key="h_selected").set_value(run_id).run()
    at.button(key="h_delete_start").click().run()
    at.button(key="h_delete_confirm").click().run()
    assert_clean(at)
    engine = build_engine(sqlite_url)
    try:
        [entry] = list_entries(engine).entries
    finally:
        engine.dispose()
    assert (entry.action, entry.surface, entry.affected) == ("delete_run", "dashboard", 1)
    assert run_id in entry.criteria


def test_a_database_without_the_audit_log_asks_for_init_db(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    seed(sqlite_url, runs=20)
    migrate.downgrade(sqlite_url, "0001")
    at = app(monkeypatch, sqlite_url)
    at.switch_page(PAGE).run()
    assert not at.exception
    [error] = texts(at.error)
    assert "flowruns init-db" in error
    assert not [b for b in at.button if b.key in ("r_preview_btn", "p_preview_btn")]


def test_same_named_flows_are_told_apart_in_the_bulk_delete_picker(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    engine = build_engine(sqlite_url)
    try:
        ann, bob = (create_user(engine, name) for name in ("ann", "bob"))
        with session_scope(engine) as session:
            flows = [Flow(name="Digest", user_id=ann), Flow(name="Digest", user_id=bob)]
            session.add_all(flows)
            session.flush()
            session.add_all(FlowRun(flow_id=flow.id, status="success") for flow in flows)
    finally:
        engine.dispose()
    at = open_page(app(monkeypatch, sqlite_url))
    picker = at.multiselect(key="r_flows")
    assert sorted(picker.options) == ["Digest (ann)", "Digest (bob)"]


@pytest.mark.parametrize(
    ("column", "literal", "needle"),
    [
        ("status_max_age_days", """'{"failure": 1.5}'""", "1.5' is not a whole number"),
        ("status_max_age_days", """'{"success": 1, "success": 2}'""", "more than once"),
        ("status_max_age_days", """'{"failure": true}'""", "True is not a whole number"),
        ("status_max_age_days", """'{"bogus": 5}'""", "unknown key 'bogus'"),
        ("max_age_days", "1000000000", "not between 1 and 36,500"),
    ],
)
def test_an_unreadable_stored_policy_is_one_error_and_prunes_nothing(
    monkeypatch: pytest.MonkeyPatch, db_url: str, column: str, literal: str, needle: str
) -> None:
    """Issue 18 item 5: the page says the stored policy cannot be read, shows why, and
    offers no prune; the audit log and the bulk delete still render."""
    seed(db_url, runs=60)
    engine = build_engine(db_url)
    try:
        save_policy(engine, RetentionPolicy(max_age_days=1), "x")
        with engine.begin() as conn:
            conn.execute(text(f"UPDATE flowrun_retention_policy SET {column} = {literal}"))
    finally:
        engine.dispose()
    before = len(all_rows(db_url))
    at = app(monkeypatch, db_url)
    at.switch_page(PAGE).run()
    assert not at.exception
    [error] = texts(at.error)
    assert "stored retention policy cannot be read" in error
    assert any(needle in c.value for c in at.code)
    assert not [b for b in at.button if b.key in ("p_preview_btn", "p_go", "pol_save")]
    assert at.button(key="r_preview_btn") is not None  # the rest of the page still works
    assert len(all_rows(db_url)) == before
