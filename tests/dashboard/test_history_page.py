"""History: one server-side sort (header clicks included), state in the URL, run
permalinks, the detail beside the table, and the comparison with the last success.
Expected rows come from pandas over the table itself."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pandas as pd
import pytest
from dashworld import SEED_NOW, all_rows, app, assert_clean, matched_total, seed, texts
from sqlalchemy import insert, select, update
from streamlit.proto.Dataframe_pb2 import Dataframe as DataframeProto
from streamlit.testing.v1 import AppTest

from data.db import build_engine
from data.models import Flow, FlowRun

TABLE = "h_table"


def _history(monkeypatch: pytest.MonkeyPatch, url: str, **params: str) -> AppTest:
    at = app(monkeypatch, url, {"range": "all", **params})
    at.switch_page("views/history.py").run()
    return at


def _table(at: AppTest) -> pd.DataFrame:
    return next(d for d in at.dataframe if "run id" in d.value.columns).value


def _click_header(at: AppTest, column: str | None) -> None:
    """What the browser sends when a header is clicked in column-selection mode: that
    column selected (``None``: the selected one clicked again, so deselected)."""
    columns = [column] if column else []
    at.session_state[TABLE] = {"selection": {"rows": [], "columns": columns, "cells": []}}
    at.run()


def _expected_order(rows: pd.DataFrame, column: str, direction: str) -> list[str]:
    """The data layer's order, computed independently: NULL durations as -1, ties by id."""
    keyed = rows.assign(key=rows[column].fillna(-1), uid=rows["id"].str.replace("-", ""))
    ordered = keyed.sort_values(["key", "uid"], ascending=direction == "asc")
    return list(ordered["id"])


def _plain(markdown: str) -> str:
    return markdown.replace("\\", "")


def test_a_header_click_sorts_every_run_on_the_server(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    seed(sqlite_url, runs=120)
    rows = all_rows(sqlite_url)
    at = _history(monkeypatch, sqlite_url, size="25")
    modes = set(at.dataframe[0].proto.selection_mode)
    # Column selection turns off the grid's own header sort (it sorted only the page).
    assert DataframeProto.SelectionMode.SINGLE_COLUMN in modes
    _click_header(at, "duration")
    assert_clean(at)
    assert (at.session_state["h_sort"], at.session_state["h_dir"]) == ("duration_ms", "desc")
    assert list(_table(at)["run id"]) == _expected_order(rows, "duration_ms", "desc")[:25]
    assert at.query_params["sort"] == "duration_ms" and "dir" not in at.query_params
    _click_header(at, None)  # the same header again: the other direction
    assert at.session_state["h_dir"] == "asc" and at.query_params["dir"] == "asc"
    assert list(_table(at)["run id"]) == _expected_order(rows, "duration_ms", "asc")[:25]
    _click_header(at, "user")  # not sortable: said so, the sort stays
    assert at.session_state["h_sort"] == "duration_ms"
    assert any("can't be sorted" in _plain(text) for text in texts(at.info))
    _click_header(at, "flow")  # another header: names sort A-Z first
    assert (at.session_state["h_sort"], at.session_state["h_dir"]) == ("flow_name", "asc")
    assert at.query_params["sort"] == "flow_name"


def test_sort_size_and_page_come_back_from_the_url(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    seed(sqlite_url, runs=90)
    rows = all_rows(sqlite_url)
    at = _history(monkeypatch, sqlite_url, sort="duration_ms", dir="asc", size="25")
    assert_clean(at)
    order = _expected_order(rows, "duration_ms", "asc")
    assert list(_table(at)["run id"]) == order[:25]
    next(b for b in at.button if b.label == "Next →").click().run()
    assert list(_table(at)["run id"]) == order[25:50]
    shared = {k: at.query_params[k] for k in ("sort", "dir", "size", "cursor")}
    assert shared["size"] == "25" and shared["cursor"]
    # The same link in a new session: the same page, with a way back to the first one.
    other = _history(monkeypatch, sqlite_url, **shared)
    assert_clean(other)
    assert list(_table(other)["run id"]) == order[25:50]
    assert any("page ? of 4" in md.value for md in other.markdown)
    next(b for b in other.button if b.label == "← Previous").click().run()
    assert list(_table(other)["run id"]) == order[:25]
    assert "cursor" not in other.query_params


def seed_with_recent_failures(url: str) -> None:
    """80 demo runs, three of the newest finished ones turned into failures with their
    own messages: the demo's random mix may hold no failure in the last 7 days."""
    seed(url, runs=80)
    engine = build_engine(url)
    try:
        with engine.begin() as conn:
            newest = conn.execute(
                select(FlowRun.id)
                .where(FlowRun.status == "success")
                .order_by(FlowRun.started_at.desc())
                .limit(3)
            ).scalars()
            for number, run_id in enumerate(list(newest)):
                conn.execute(
                    update(FlowRun)
                    .where(FlowRun.id == run_id)
                    .values(
                        status="failure",
                        error_type="TimeoutError",
                        error_message=f"step {number} timed out",
                    )
                )
    finally:
        engine.dispose()


def test_the_table_shows_each_runs_error_message(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    seed_with_recent_failures(sqlite_url)
    rows = all_rows(sqlite_url).set_index("id")
    at = _history(monkeypatch, sqlite_url, status="failure")
    shown = _table(at)
    assert len(shown) > 0
    for run_id, message in zip(shown["run id"], shown["error message"], strict=True):
        assert message == rows.loc[run_id, "error_message"]


def test_a_run_permalink_opens_its_detail_even_outside_the_filters(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    seed_with_recent_failures(sqlite_url)
    rows = all_rows(sqlite_url)
    failure = rows[rows.status == "failure"].iloc[0]
    at = _history(monkeypatch, sqlite_url, status="success", run=failure["id"])
    assert_clean(at)
    assert failure["id"] in texts(at.code)  # the full id, in a code element (copy button)
    assert any("outside the current filters" in text for text in texts(at.info))
    assert failure["id"] not in set(_table(at)["run id"])  # the table keeps the filters
    assert at.query_params["run"] == failure["id"]
    inside = _table(at)["run id"].iloc[0]
    at.selectbox(key="h_selected").set_value(inside).run()
    assert inside in texts(at.code) and at.query_params["run"] == inside
    assert not any("outside the current filters" in text for text in texts(at.info))


def test_invalid_history_parameters_are_named_and_defaults_used(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    seed(sqlite_url, runs=40)
    bad = {"sort": "colour", "dir": "sideways", "size": "7", "cursor": "*", "run": "[x](y)"}
    bad["page"] = "2"  # not a parameter of ours: rejected by name too
    at = app(monkeypatch, sqlite_url, {"range": "all", **bad})  # the link's first page
    assert not at.exception and len(at.error) == 1
    message = _plain(at.error[0].value)
    for name in ("sort:", "dir:", "size:", "cursor:", "run:", "page: unknown parameter"):
        assert name in message
    assert "[x](y)" in message and "\\[x\\]" in at.error[0].value  # escaped: not a link
    at.switch_page("views/history.py").run()
    assert_clean(at)
    assert (at.session_state["h_sort"], at.session_state["h_size"]) == ("started_at", 50)
    assert matched_total(at) == 40 and len(_table(at)) == 40
    assert not any(k in at.query_params for k in bad)


def test_a_wrong_cursor_or_unknown_run_gives_a_named_error(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    seed(sqlite_url, runs=40)
    rows = all_rows(sqlite_url)
    missing = str(uuid.uuid4())
    at = _history(monkeypatch, sqlite_url, cursor="bm90LWEtY3Vyc29y", run=missing)
    assert not at.exception
    message = _plain(" ".join(texts(at.error)))
    assert "cursor:" in message and f"run: no run with id {missing}" in message
    assert list(_table(at)["run id"]) == _expected_order(rows, "started_at", "desc")[:50]
    assert "run" not in at.query_params and "cursor" not in at.query_params


def _add_pair(url: str) -> tuple[str, str]:
    """A success and, an hour later, a failure of the same flow with known payloads."""
    engine = build_engine(url)
    with engine.begin() as conn:
        flow_id = conn.execute(select(Flow.id).order_by(Flow.name).limit(1)).scalar_one()
        ids = [uuid.uuid4(), uuid.uuid4()]
        base = SEED_NOW + timedelta(minutes=1)
        conn.execute(
            insert(FlowRun),
            [
                {
                    "id": ids[0], "flow_id": flow_id, "status": "success",
                    "started_at": base, "duration_ms": 10,
                    "inputs": {"q": "hi", "temp": 0.2}, "outputs": {"answer": "A"},
                    "metadata": {"model": "m1"}, "error_type": None, "error_message": None,
                },
                {
                    "id": ids[1], "flow_id": flow_id, "status": "failure",
                    "started_at": base + timedelta(hours=1), "duration_ms": 20,
                    "inputs": {"q": "hi", "temp": 0.9}, "outputs": None,
                    "metadata": {"model": "m1", "retry": 1},
                    "error_type": "ValueError", "error_message": "**bold** [link](http://x.test)",
                },
            ],
        )  # fmt: skip
    engine.dispose()
    return str(ids[0]), str(ids[1])


def test_compare_with_the_last_successful_run_of_the_flow(
    monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    seed(db_url, runs=60)
    success_id, failure_id = _add_pair(db_url)
    at = _history(monkeypatch, db_url, run=failure_id)
    assert_clean(at)
    assert "**bold** [link](http://x.test)" in texts(at.code)  # stored text as code
    at.toggle(key="h_compare").set_value(True).run()
    assert_clean(at)
    assert success_id in texts(at.code)
    diff = next(d for d in at.dataframe if "last success" in d.value.columns).value
    shown = {(r.section, r.field): (r["this run"], r["last success"]) for _, r in diff.iterrows()}
    # Only the differences, by default; values as JSON text.
    assert shown == {
        ("inputs", "temp"): ("0.9", "0.2"),
        ("outputs", "answer"): ("(absent)", '"A"'),
        ("metadata", "retry"): ("1", "(absent)"),
    }
    at.checkbox(key="h_compare_only_diff").uncheck().run()
    diff = next(d for d in at.dataframe if "last success" in d.value.columns).value
    assert len(diff) == 5 and list(diff["change"]).count("same") == 2


def test_live_view_reads_new_runs_without_a_refresh(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    from data.demo import generate_demo

    seed(sqlite_url, runs=50)
    at = _history(monkeypatch, sqlite_url)
    assert matched_total(at) == 50
    engine = build_engine(sqlite_url)
    generate_demo(engine, 7, days=5, now=SEED_NOW, seed=99)  # recorded meanwhile
    engine.dispose()
    at.run()
    assert matched_total(at) == 50  # the cached page, as before
    at.toggle(key="history_live").set_value(True).run()
    assert_clean(at)
    assert matched_total(at) == 57 and len(_table(at)) == 50
    newest = all_rows(sqlite_url).sort_values("started_at").iloc[-1]["id"]
    assert _table(at)["run id"].iloc[0] == newest
