"""Custom dates typed in the sidebar: a form (Enter submits it), dates or minutes, named
errors, and the numbers against pandas. The browser test presses Enter for real."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from dashworld import SEED_NOW, all_rows, app, assert_clean, matched_total, seed, texts
from streamlit.testing.v1 import AppTest

from dashboard.components.typed_range import parse_typed, shown_texts

TODAY = date(2026, 11, 20)
SUBMIT = "FormSubmitter:custom_range-Apply dates"


def test_typed_dates_and_minutes_are_read_like_the_url() -> None:
    state, errors = parse_typed("2026-11-01", " 2026-11-07 ", TODAY)
    assert errors == [] and state.dates == (date(2026, 11, 1), date(2026, 11, 7))
    assert state.from_ts is None and shown_texts(state) == ("2026-11-01", "2026-11-07")
    state, errors = parse_typed("2026-11-01 09:30", "2026-11-01 17:00", TODAY)
    assert errors == []
    assert (state.from_ts, state.to_ts) == (
        datetime(2026, 11, 1, 9, 30),
        datetime(2026, 11, 1, 17, 0),
    )
    assert shown_texts(state) == ("2026-11-01 09:30", "2026-11-01 17:00")
    state, errors = parse_typed("2026-11-07", "", TODAY)  # one day
    assert errors == [] and state.dates == (date(2026, 11, 7), date(2026, 11, 7))


def test_bad_typed_dates_are_named() -> None:
    _, errors = parse_typed("2026-13-01", "2026-11-07", TODAY)
    assert [e.split(":")[0] for e in errors] == ["from"]
    _, errors = parse_typed("2026-11-07", "2026-11-01", TODAY)
    assert errors == ["from: must not be after 'to'"]
    _, errors = parse_typed("", "", TODAY)
    assert [e.split(":")[0] for e in errors] == ["from"]


def _custom(at: AppTest, start: str, end: str) -> None:
    at.text_input(key="f_from_text").input(start)
    at.text_input(key="f_to_text").input(end)
    at.button(key=SUBMIT).click().run()


def test_submitting_typed_dates_filters_every_page(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    seed(sqlite_url, runs=200)
    rows = all_rows(sqlite_url)
    at = app(monkeypatch, sqlite_url, {"range": "custom", "from": "2000-01-01", "to": "2000-01-02"})
    at.switch_page("views/history.py").run()
    assert matched_total(at) == 0
    assert at.text_input(key="f_from_text").value == "2000-01-01"  # fields follow the link
    day = (SEED_NOW - timedelta(days=4)).date()
    _custom(at, (day - timedelta(days=2)).isoformat(), day.isoformat())
    assert_clean(at)
    local = rows.started_at.dt.date  # UTC, the default zone
    wanted = rows[(local >= day - timedelta(days=2)) & (local <= day)]
    assert 0 < len(wanted) < len(rows)
    assert matched_total(at) == len(wanted)
    assert at.query_params["from"] == (day - timedelta(days=2)).isoformat()
    # Around a run that exists: the demo's day/night profile can leave a fixed span of
    # hours empty, depending on the hour the suite runs.
    middle = rows.started_at.sort_values().iloc[len(rows) // 2].to_pydatetime()
    start = middle.replace(second=0, microsecond=0) - timedelta(hours=3)
    end = start + timedelta(hours=7)
    _custom(at, f"{start:%Y-%m-%d %H:%M}", f"{end:%Y-%m-%d %H:%M}")
    naive = rows.started_at.dt.tz_localize(None)
    in_span = (naive >= start.replace(tzinfo=None)) & (naive < end.replace(tzinfo=None))
    assert matched_total(at) == int(in_span.sum()) > 0
    assert at.query_params["from"] == f"{start:%Y-%m-%dT%H:%M}"


def test_an_invalid_typed_date_is_named_and_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    seed(sqlite_url, runs=60)
    at = app(monkeypatch, sqlite_url, {"range": "custom", "from": "2000-01-01", "to": "2000-01-02"})
    _custom(at, "[a](http://x.y)", "2000-01-02")
    assert not at.exception
    message = " ".join(texts(at.error)).replace("\\", "").replace("\u2060", "")
    assert "from: '[a](http://x.y)' is not a date" in message
    assert at.query_params["from"] == "2000-01-01"  # the range stays what it was
