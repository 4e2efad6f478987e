"""The status filter on real data: unknown statuses (``weird``) are offered and filterable,
upper-case spellings (``SUCCESS``) count as their status, a typo is one named error."""

from __future__ import annotations

import pandas as pd
import pytest
from dashworld import app, assert_clean, legacy_statuses, matched_total
from streamlit.testing.v1 import AppTest

from dashboard.state.filters import parse_params

TODAY = pd.Timestamp("2026-05-02").date()


def _history(monkeypatch: pytest.MonkeyPatch, url: str, status: str) -> AppTest:
    at = app(monkeypatch, url, {"range": "all", "status": status})
    return at.switch_page("views/history.py").run()


def test_unknown_status_from_a_link_filters_to_those_runs(
    monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    rows = legacy_statuses(db_url)
    at = _history(monkeypatch, db_url, "weird")
    assert_clean(at)
    assert at.session_state["f_statuses"] == ["weird"]
    assert matched_total(at) == int((rows["status"] == "weird").sum()) == 5
    assert "weird" in at.multiselect(key="f_statuses").options  # offered in the sidebar


def test_upper_case_spelling_counts_as_its_status(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    rows = legacy_statuses(sqlite_url)
    at = _history(monkeypatch, sqlite_url, "SUCCESS")
    assert_clean(at)
    assert at.session_state["f_statuses"] == ["success"]
    expected = int(rows["status"].str.lower().eq("success").sum())
    assert matched_total(at) == expected and (rows["status"] == "SUCCESS").sum() == 7


def test_a_status_no_run_has_is_one_named_error(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    legacy_statuses(sqlite_url)
    at = app(monkeypatch, sqlite_url, {"range": "all", "status": "bogus"})
    assert not at.exception and len(at.error) == 1
    message = at.error[0].value
    assert "status" in message and "bogus" in message and "weird" not in message
    assert at.session_state["f_statuses"] == []


def test_without_a_database_only_known_statuses_pass() -> None:
    state, errors = parse_params({"status": ["FAILURE", "weird", "failure"]}, set(), TODAY)
    assert state.statuses == ("failure",)
    assert len(errors) == 1 and "'weird'" in errors[0]
