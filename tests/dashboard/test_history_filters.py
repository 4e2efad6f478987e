"""Sidebar filters for user, session id, run id and duration: URL round trip, named
errors, and the numbers they give against pandas over the table."""

from __future__ import annotations

import uuid
from datetime import date

import pandas as pd
import pytest
from dashworld import app, assert_clean, matched_total, seed, texts
from sqlalchemy import select

from dashboard.state.extra_filters import ExtraFilters
from dashboard.state.filters import FilterState, filter_for, parse_params, to_params
from data.db import build_engine
from data.models import FlowRun, User

TODAY = date(2026, 3, 29)
USER = str(uuid.uuid4())


def _runs(url: str) -> pd.DataFrame:
    engine = build_engine(url)
    columns = (FlowRun.id, FlowRun.user_id, FlowRun.session_id, FlowRun.duration_ms)
    with engine.connect() as conn:
        rows = conn.execute(select(*columns)).mappings().all()
        users = {row.id: row.username for row in conn.execute(select(User.id, User.username))}
    engine.dispose()
    frame = pd.DataFrame(rows, columns=["id", "user_id", "session_id", "duration_ms"])
    frame["id"] = frame["id"].astype(str)
    frame["username"] = frame["user_id"].map(users)
    frame["user_id"] = frame["user_id"].map(lambda u: str(u) if u else None)
    return frame


def test_extra_filters_round_trip_through_the_url() -> None:
    extra = ExtraFilters(user=USER, session="s-1", run_id=USER, min_s=1.5, max_s=30.0)
    params = to_params(FilterState(extra=extra))
    assert params == {
        "user": [USER], "session": ["s-1"], "run_id": [USER], "min_s": ["1.5"], "max_s": ["30"],
    }  # fmt: skip
    state, errors = parse_params(params, set(), TODAY, {USER})
    assert errors == [] and state.extra == extra
    flt = filter_for(state)
    assert (str(flt.user_id), flt.session_id, str(flt.run_id)) == (USER, "s-1", USER)
    assert (flt.min_duration_ms, flt.max_duration_ms) == (1500, 30000)


def test_each_bad_extra_parameter_is_named_and_dropped() -> None:
    params = {
        "user": ["bob"], "run_id": ["[x](javascript:1)"], "min_s": ["-1"], "max_s": ["nan"],
    }  # fmt: skip
    state, errors = parse_params(params, set(), TODAY, {USER})
    assert [e.split(":")[0] for e in errors] == ["user", "run_id", "min_s", "max_s"]
    assert state.extra == ExtraFilters()
    unknown = str(uuid.uuid4())
    state, errors = parse_params({"user": [unknown]}, set(), TODAY, {USER})
    assert errors == [f"user: no user with id {unknown}"] and state.extra.user == ""
    state, errors = parse_params({"min_s": ["9"], "max_s": ["2"]}, set(), TODAY, set())
    assert errors == ["min_s: must not exceed max_s (max_s ignored)"]
    assert (state.extra.min_s, state.extra.max_s) == (9.0, None)


def test_user_and_duration_from_the_url_give_the_pandas_count(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    db_url = sqlite_url  # the filters themselves are tested on both backends in tests/data
    seed(db_url, runs=150)
    runs = _runs(db_url)
    user = runs.user_id.dropna().value_counts().index[0]
    params = {"range": "all", "user": user, "min_s": "2", "max_s": "10"}
    at = app(monkeypatch, db_url, params)
    assert_clean(at)
    at.switch_page("views/history.py").run()
    assert_clean(at)
    durations = runs.duration_ms
    wanted = runs[(runs.user_id == user) & (durations >= 2000) & (durations <= 10000)]
    assert 0 < len(wanted) < (runs.user_id == user).sum()
    assert matched_total(at) == len(wanted)
    assert at.selectbox(key="f_user").value == user
    username = runs.loc[runs.user_id == user, "username"].iloc[0]
    assert at.selectbox(key="f_user").format_func(user) == username  # labelled by name
    assert at.query_params["min_s"] == "2" and at.query_params["user"] == user


def test_session_and_run_id_widgets_filter_and_a_bad_run_id_is_ignored(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    seed(sqlite_url, runs=120)
    runs = _runs(sqlite_url)
    at = app(monkeypatch, sqlite_url, {"range": "all"})
    at.switch_page("views/history.py").run()
    session = runs.session_id.dropna().value_counts().index[0]
    at.text_input(key="f_session").input(session).run()
    assert matched_total(at) == int((runs.session_id == session).sum()) > 0
    assert at.query_params["session"] == session
    at.text_input(key="f_session").input("").run()
    target = runs.id.iloc[17]
    at.text_input(key="f_run_id").input(target).run()
    assert matched_total(at) == 1
    assert list(at.dataframe[0].value["run id"]) == [target]
    at.text_input(key="f_run_id").input("not-a-run").run()
    assert not at.exception
    assert any("is not a run id" in text.replace("\\", "") for text in texts(at.error))
    assert matched_total(at) == len(runs)  # ignored, not applied
