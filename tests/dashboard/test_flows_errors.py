"""Flows and Errors pages: same-named flows stay apart, every error group opens History,
flags and new groups on screen, small wording fixes. AppTest against a real database."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pandas as pd
import pytest
import streamlit as st
from dashworld import APP, SEED_NOW, all_rows, assert_clean, matched_total, metric, seed
from flows_errors_world import Seeded, same_named_flows
from streamlit.testing.v1 import AppTest

from dashboard.formatting import flow_labels, md_escape
from data.settings import get_settings


def open_page(
    monkeypatch: pytest.MonkeyPatch, url: str, page: str, params: dict[str, str | list[str]]
) -> AppTest:
    """The app opened straight on ``page`` (a link to it), already run once."""
    monkeypatch.setenv("FLOWRUNS_DATABASE_URL", url)
    get_settings.cache_clear()
    st.cache_data.clear()
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params.update(params)
    at.switch_page(page)
    return at.run()


def test_flow_labels_tell_same_named_flows_apart() -> None:
    ann, bob, orphan1, orphan2, report = (uuid.uuid4() for _ in range(5))
    rows = [
        (ann, "ingest", "ann"),
        (bob, "ingest", "bob"),
        (orphan1, "ingest", None),
        (orphan2, "ingest", None),
        (report, "report", "ann"),
    ]
    labels = flow_labels(rows)
    assert labels[str(report)] == "report"  # a unique name stays short
    assert labels[str(ann)] == "ingest (ann)" and labels[str(bob)] == "ingest (bob)"
    assert labels[str(orphan1)] == f"ingest (no owner, {str(orphan1)[:8]})"
    assert len(set(labels.values())) == len(rows)


@pytest.mark.parametrize(
    "rows",
    [
        # Short ids alike: the full id decides.
        [(uuid.UUID(int=1), "ingest", None), (uuid.UUID(int=2), "ingest", None)],
        # A name that looks like another flow's label.
        [
            (uuid.UUID(int=1), "ingest", "ann"),
            (uuid.UUID(int=2), "ingest", "x"),
            (uuid.UUID(int=3), "ingest (ann)", None),
        ],
    ],
)
def test_flow_labels_stay_unique_in_awkward_cases(
    rows: list[tuple[uuid.UUID, str, str | None]],
) -> None:
    labels = flow_labels(rows)
    assert len(set(labels.values())) == len(rows)


def test_same_named_flows_keep_their_own_id_and_numbers(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    world = same_named_flows(sqlite_url, SEED_NOW)
    bob = str(world.flows["bob"])
    at = open_page(monkeypatch, sqlite_url, "views/flows.py", {"range": "all", "flow": bob})
    assert_clean(at)
    options = at.multiselect(key="f_flows").options
    assert len(options) == len(set(options)) == 5  # unique labels: the browser can pick each
    assert "ingest (bob)" in options and "ingest (ann)" in options
    assert at.multiselect(key="f_flows").value == [bob]
    table = at.dataframe[0].value
    assert list(table["flow"]) == ["ingest (bob)"] and list(table["runs"]) == [9]
    for page in ("views/history.py", "views/errors.py", "views/overview.py"):
        at.switch_page(page).run()
        assert at.session_state["f_flows"] == [bob]
        assert at.query_params["flow"] == [bob] or at.query_params["flow"] == bob
    assert metric(at, "Runs")[0] == str(world.count("bob"))
    at.switch_page("views/history.py").run()
    assert matched_total(at) == 9


def test_flows_picker_is_keyed_on_ids(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    world = same_named_flows(sqlite_url, SEED_NOW)
    at = open_page(monkeypatch, sqlite_url, "views/flows.py", {"range": "all"})
    picker = at.selectbox(key="flows_pick")
    assert set(picker.options) >= {"ingest (ann)", "ingest (bob)"}
    picker.set_value(str(world.flows["ann"])).run()
    at.button(key="flows_focus").click().run()
    at.switch_page("views/history.py").run()
    assert at.session_state["f_flows"] == [str(world.flows["ann"])]
    assert matched_total(at) == 5


@pytest.mark.parametrize("position", [1, 2])
def test_every_error_group_opens_history(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str, position: int
) -> None:
    """Before: only the first group's button opened History (keys by row position)."""
    seed(sqlite_url)
    at = open_page(monkeypatch, sqlite_url, "views/errors.py", {"range": "all"})
    assert_clean(at)
    groups = at.dataframe[0].value
    assert len(groups) > position
    buttons = [b for b in at.button if b.label == "History →"]
    buttons[position].click().run()
    assert_clean(at)
    assert at.title[0].value == "History"
    assert at.session_state["f_error_sig"] == groups["signature"].iloc[position]
    assert matched_total(at) == int(groups["count"].iloc[position])


def test_one_group_is_singular_and_a_missing_type_is_named(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    world = Seeded(sqlite_url)
    world.add_flow("f", "f", None)
    world.add_runs("f", SEED_NOW - timedelta(hours=5), [("failure", 10)] * 3, None, "boom")
    at = open_page(monkeypatch, sqlite_url, "views/errors.py", {"range": "all"})
    assert_clean(at)
    summary = at.markdown[0].value
    assert "**3 failures** in **1 group**" in summary and "groups" not in summary
    assert list(at.dataframe[0].value["error type"]) == ["(no type)"]
    labels = [m.value for m in at.markdown if "boom" in m.value]
    assert labels and all("nan" not in t and md_escape("(no type)") in t for t in labels)


def test_error_search_hint_finds_runs_on_the_demo(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    seed(sqlite_url, runs=2000)  # enough failures for every demo error kind
    rows = all_rows(sqlite_url)
    at = open_page(monkeypatch, sqlite_url, "views/history.py", {"range": "all"})
    box = at.text_input(key="f_text")
    hint = box.placeholder.removeprefix("e.g. ").strip()
    box.input(hint).run()
    haystack = (rows.error_message.fillna("") + "|" + rows.error_type.fillna("")).str.lower()
    expected = int(haystack.str.contains(hint.lower(), regex=False).sum())
    assert expected > 0
    assert matched_total(at) == expected


def _flag_world(url: str) -> tuple[Seeded, dict[str, str]]:
    """Custom 7-day range ending today; the previous 7 days before it."""
    world = Seeded(url)
    world.add_user("ann")
    for key in ("slow", "flaky", "steady"):
        world.add_flow(key, key, "ann")
    today = SEED_NOW.date()
    start = pd.Timestamp(today - timedelta(days=6), tz="UTC").to_pydatetime()
    now, before = start + timedelta(days=2), start - timedelta(days=4)
    world.add_runs("slow", before, [("success", 1000)] * 25)
    world.add_runs("slow", now, [("success", 2000)] * 25)
    world.add_runs("flaky", before, [("success", 500)] * 25)
    world.add_runs("flaky", now, [("success", 500)] * 20 + [("failure", 500)] * 5, "E", "old")
    world.add_runs("steady", before, [("success", 300)] * 25 + [("failure", 300)], "E", "old")
    world.add_runs("steady", now, [("success", 300)] * 25 + [("failure", 300)], "N", "fresh")
    params = {"from": (today - timedelta(days=6)).isoformat(), "to": today.isoformat()}
    return world, params


def test_flows_page_flags_regressions_and_states_the_rule(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    _, params = _flag_world(sqlite_url)
    at = open_page(monkeypatch, sqlite_url, "views/flows.py", params)
    assert_clean(at)
    table = at.dataframe[0].value.set_index("flow")
    assert table.loc["slow", "flags"] == "p95 regression"
    assert table.loc["slow", "p95 change (%)"] == pytest.approx(100)
    assert table.loc["flaky", "flags"] == "success drop"
    assert table.loc["flaky", "success change (pp)"] == pytest.approx(-20)
    assert table.loc["steady", "flags"] == ""
    # Numbers, not formatted strings: a click on a header sorts by value.
    numeric = ["runs", "success change (pp)", "p50 (s)", "p95 (s)", "p95 change (%)"]
    assert all(pd.api.types.is_numeric_dtype(table[column]) for column in numeric)
    rule = " ".join(c.value for c in at.caption)
    assert "25%" in rule and "5 percentage points" in rule and "20 finished runs" in rule
    assert any("**2 flows flagged** of 3" in m.value for m in at.markdown)


def test_errors_page_marks_groups_first_seen_in_the_range(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    _, params = _flag_world(sqlite_url)
    at = open_page(monkeypatch, sqlite_url, "views/errors.py", params)
    assert_clean(at)
    table = at.dataframe[0].value.set_index("error type")
    assert bool(table.loc["N", "new"]) and not bool(table.loc["E", "new"])
    assert "**1 new**" in at.markdown[0].value


def test_unbounded_range_explains_why_there_are_no_flags(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    _flag_world(sqlite_url)
    at = open_page(monkeypatch, sqlite_url, "views/flows.py", {"range": "all"})
    assert_clean(at)
    assert (at.dataframe[0].value["flags"] == "").all()
    assert any("bounded time range" in c.value for c in at.caption)
