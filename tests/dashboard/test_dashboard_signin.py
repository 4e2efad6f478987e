"""Sign-in on the dashboard (FLOWRUNS_DASHBOARD_AUTH=local): the form, wrong passwords and
unknown names (one message), throttling, sign-out, and scope: a regular user never sees
another user's runs on any page, a superuser sees all; deletes are audited by name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from access_world import PASSWORDS, AccessWorld, build_world, shown_text, sign_in
from dashworld import app, matched_total, metric, texts
from sqlalchemy import update
from streamlit.testing.v1 import AppTest

from dashboard.formatting import md_escape
from data import migrate, passwords
from data.accounts import create_user
from data.audit import list_entries
from data.db import build_engine
from data.models import User
from data.signin import INVALID

PAGES = ("views/overview.py", "views/history.py", "views/flows.py", "views/errors.py")


@pytest.fixture(autouse=True)
def _cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(passwords, "ROUNDS", 4)
    yield


@pytest.fixture
def world(db_url: str) -> AccessWorld:
    return build_world(db_url)


def local_app(monkeypatch: pytest.MonkeyPatch, world: AccessWorld, **env: str) -> AppTest:
    return app(monkeypatch, world.url, dashboard_auth="local", **env)


def assert_sign_in_form_only(at: AppTest) -> None:
    assert not at.exception, texts(at.exception)
    assert len(at.text_input) == 2 and at.button[0].label == "Sign in"
    assert not at.metric and not at.dataframe and not at.sidebar.multiselect


def test_without_sign_in_configured_there_is_no_form(
    monkeypatch: pytest.MonkeyPatch, world: AccessWorld
) -> None:
    at = app(monkeypatch, world.url)
    assert not at.exception and "Password" not in [t.label for t in at.text_input]
    assert metric(at, "Runs")[0] == str(world.count("SELECT count(*) FROM flow_run"))


def test_the_form_comes_first_and_shows_nothing(
    monkeypatch: pytest.MonkeyPatch, world: AccessWorld
) -> None:
    at = local_app(monkeypatch, world)
    assert_sign_in_form_only(at)
    assert "secret" not in shown_text(at) and "flow" not in shown_text(at).lower()


def test_wrong_password_and_unknown_user_say_the_same(
    monkeypatch: pytest.MonkeyPatch, world: AccessWorld
) -> None:
    at = local_app(monkeypatch, world)
    sign_in(at, "alice", "not her passphrase")
    wrong = texts(at.error)
    sign_in(at, "mallory", PASSWORDS["alice"])
    unknown = texts(at.error)
    assert wrong == unknown == [INVALID]
    assert_sign_in_form_only(at)


def test_sign_in_then_sign_out(monkeypatch: pytest.MonkeyPatch, world: AccessWorld) -> None:
    at = local_app(monkeypatch, world)
    sign_in(at, "alice", PASSWORDS["alice"])
    assert not at.exception and not at.error, texts(at.error)
    assert any("Signed in as **alice** (user)" in c for c in texts(at.sidebar.caption))
    assert metric(at, "Runs")[0] == str(world.runs_of("alice"))
    at.switch_page("views/history.py").run()  # the session stays signed in across pages
    assert matched_total(at) == world.runs_of("alice")
    at.sidebar.button(key="sign_out").click().run()
    assert_sign_in_form_only(at)


def test_failures_are_throttled_on_the_form(
    monkeypatch: pytest.MonkeyPatch, world: AccessWorld
) -> None:
    at = local_app(monkeypatch, world, login_max_failures="2")
    for guess in ("guess one", "guess two"):
        sign_in(at, "alice", guess)
        assert texts(at.error) == [INVALID]
    sign_in(at, "alice", PASSWORDS["alice"])  # right, but too late
    assert texts(at.error) == ["Too many failed sign-ins. Try again in 15 minute(s)."]
    assert_sign_in_form_only(at)
    sign_in(at, "ghost", "guess one")  # an unknown name: same allowance, same refusal
    sign_in(at, "ghost", "guess two")
    sign_in(at, "ghost", "guess three")
    assert texts(at.error) == ["Too many failed sign-ins. Try again in 15 minute(s)."]


def test_a_user_sees_only_their_runs_on_every_page(
    monkeypatch: pytest.MonkeyPatch, world: AccessWorld
) -> None:
    at = local_app(monkeypatch, world)
    sign_in(at, "alice", PASSWORDS["alice"])
    assert at.sidebar.multiselect(key="f_flows").options == ["Alice flow"]
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, texts(at.exception))
        shown = shown_text(at)
        assert "bob" not in shown.lower() and str(world.bob_run) not in shown, page
        if page == "views/flows.py":  # her tokens and components are there: not vacuous
            assert "alice-secret-model" in shown and "alice-secret-component" in shown
    at.switch_page("views/overview.py").run()
    assert metric(at, "Runs")[0] == str(world.runs_of("alice"))
    failures = world.count(
        "SELECT count(*) FROM flow_run WHERE status = 'failure' AND error_message LIKE 'alice%'"
    )
    assert metric(at, "Failures")[0] == str(failures)
    # Retention acts on everyone's runs: not a regular user's page.
    assert "Retention" not in shown_text(at)


def test_another_users_run_is_not_found_by_its_link(
    monkeypatch: pytest.MonkeyPatch, world: AccessWorld
) -> None:
    """A permalink opened, then signed in: "no run", as for a run that never existed."""
    for run, name in ((world.bob_run, "alice"), (world.alice_run, "bob")):
        at = app(monkeypatch, world.url, params={"run": str(run)}, dashboard_auth="local")
        sign_in(at, name, PASSWORDS[name])
        at.switch_page("views/history.py").run()
        shown_id = md_escape(str(run))
        assert texts(at.error) == [f"run: no run with id {shown_id} (deleted, or never recorded)."]
        other = "bob" if name == "alice" else "alice"
        assert other not in shown_text(at).lower()
    at = app(monkeypatch, world.url, params={"run": str(world.alice_run)}, dashboard_auth="local")
    sign_in(at, "alice", PASSWORDS["alice"])  # her own opens, with its steps
    at.switch_page("views/history.py").run()
    assert not at.error and "alice-secret-input 0" in shown_text(at)
    assert "alice-secret-component" in shown_text(at)


def test_a_link_naming_another_user_shows_nothing_of_theirs(
    monkeypatch: pytest.MonkeyPatch, world: AccessWorld
) -> None:
    at = app(
        monkeypatch,
        world.url,
        params={"user": str(world.users["bob"]), "range": "all"},
        dashboard_auth="local",
    )
    sign_in(at, "alice", PASSWORDS["alice"])
    assert "bob" not in shown_text(at).lower()
    assert metric(at, "Runs")[0] == str(world.runs_of("alice"))


def test_a_superuser_sees_every_run_and_retention(
    monkeypatch: pytest.MonkeyPatch, world: AccessWorld
) -> None:
    at = local_app(monkeypatch, world)
    sign_in(at, "root", PASSWORDS["root"])
    assert any("Signed in as **root** (admin)" in c for c in texts(at.sidebar.caption))
    assert metric(at, "Runs")[0] == str(world.count("SELECT count(*) FROM flow_run"))
    at.switch_page("views/retention.py").run()
    assert not at.exception and not at.error


def test_a_delete_is_audited_with_the_signed_in_name(
    monkeypatch: pytest.MonkeyPatch, world: AccessWorld
) -> None:
    at = app(monkeypatch, world.url, params={"run": str(world.alice_run)}, dashboard_auth="local")
    sign_in(at, "alice", PASSWORDS["alice"])
    at.switch_page("views/history.py").run()
    at.button(key="h_delete_start").click().run()
    at.button(key="h_delete_confirm").click().run()
    assert not at.exception
    assert world.count("SELECT count(*) FROM flow_run") == 14 + 23 - 1
    engine = build_engine(world.url)
    try:
        entry = list_entries(engine).entries[0]
    finally:
        engine.dispose()
    assert (entry.actor, entry.actor_user_id) == ("dashboard:alice", world.users["alice"])


def test_a_database_before_migration_0008_says_run_init_db(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url, "0007")
    engine = build_engine(url)
    create_user(engine, "alice", password=PASSWORDS["alice"])
    engine.dispose()
    at = app(monkeypatch, url, dashboard_auth="local")
    sign_in(at, "alice", PASSWORDS["alice"])
    assert not at.exception
    assert len(at.error) == 1 and "flowruns init-db" in at.error[0].value
    assert_sign_in_form_only(at)


def test_a_user_without_runs_gets_an_empty_state_of_their_own(
    monkeypatch: pytest.MonkeyPatch, world: AccessWorld
) -> None:
    engine = build_engine(world.url)
    create_user(engine, "carol", password="carol passphrase")
    engine.dispose()
    at = local_app(monkeypatch, world)
    sign_in(at, "carol", "carol passphrase")
    assert not at.exception and not at.error
    assert [i.startswith("**No runs of yours recorded yet.**") for i in texts(at.info)] == [True]
    assert "bob" not in shown_text(at).lower() and "alice" not in shown_text(at).lower()


def test_disabling_an_account_ends_its_session(
    monkeypatch: pytest.MonkeyPatch, world: AccessWorld
) -> None:
    at = local_app(monkeypatch, world)
    sign_in(at, "root", PASSWORDS["root"])
    assert metric(at, "Runs")[0] == str(world.count("SELECT count(*) FROM flow_run"))
    engine = build_engine(world.url)
    with engine.begin() as conn:  # no longer a superuser: from the next page on, own runs
        conn.execute(update(User).where(User.username == "root").values(is_superuser=False))
    at.run()
    assert [i.startswith("**No runs of yours recorded yet.**") for i in texts(at.info)] == [True]
    assert any("(user)" in c for c in texts(at.sidebar.caption))
    with engine.begin() as conn:
        conn.execute(update(User).where(User.username == "root").values(is_active=False))
    engine.dispose()
    at.run()
    assert_sign_in_form_only(at)


def test_the_csv_download_holds_only_the_users_runs(
    monkeypatch: pytest.MonkeyPatch, world: AccessWorld
) -> None:
    import io

    import pandas as pd
    import streamlit as st

    from dashboard import data_access as da
    from data.accounts import Principal
    from data.filters import FlowRunFilter

    local_app(monkeypatch, world)  # points the settings at the world's database
    alice = Principal(world.users["alice"], "alice", False)
    monkeypatch.setitem(st.session_state, da.K_PRINCIPAL, alice)
    wanting_bob = FlowRunFilter.build(user_id=world.users["bob"])  # a filter naming bob
    text = da.csv_builder(wanting_bob, ("id", "user_id", "inputs"))()
    csv = pd.read_csv(io.StringIO(text))
    assert len(csv) == world.runs_of("alice") and set(csv["user_id"]) == {str(alice.user_id)}
    assert "bob" not in text


def test_every_data_access_read_is_scoped_even_with_an_unscoped_filter(
    monkeypatch: pytest.MonkeyPatch, world: AccessWorld
) -> None:
    """Pages pass the sidebar's (scoped) filter; the data access scopes again, so a page
    that built a filter of its own would still not reach another user's runs."""
    import streamlit as st

    from dashboard import data_access as da
    from data.accounts import Principal
    from data.filters import FlowRunFilter

    local_app(monkeypatch, world)  # points the settings at the world's database
    monkeypatch.setitem(
        st.session_state, da.K_PRINCIPAL, Principal(world.users["alice"], "alice", False)
    )
    everything = FlowRunFilter()
    alice = world.runs_of("alice")
    assert da.count_runs(everything) == da.run_stats(everything).total == alice
    assert list(da.model_tokens(everything)["model"]) == ["alice-secret-model"]
    assert set(da.flow_model_tokens(everything)["model"]) == {"alice-secret-model"}
    assert not da.component_table(everything).to_csv().count("bob")
    assert not da.flow_breakdown(everything).to_csv().count("Bob")
    assert da.steps_of(world.bob_run) == [] and da.get_run(world.bob_run) is None
    assert len(da.steps_of(world.alice_run)) == 2
    page = da.list_runs(everything, sort="started_at", direction="desc", limit=500, cursor=None)
    assert {r.user_id for r in page.runs} == {world.users["alice"]}
