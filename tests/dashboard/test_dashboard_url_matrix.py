"""The dashboard URL matrix: a crafted link opened straight on a page never crashes it.

Each case is a link to one page with hostile parameters (issue 18 item 6: huge or
overflowing numbers, dates at the ends of the calendar, NUL characters). Each must give
exactly one ``st.error`` that names the parameter, no exception, and the page must still
render its content with the bad value dropped. Both backends (PostgreSQL refuses NUL)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import streamlit as st
from dashworld import APP, seed, texts
from streamlit.testing.v1 import AppTest

from dashboard.state.extra_filters import MAX_SECONDS
from dashboard.state.url_filters import filter_for, parse_params
from data.settings import get_settings

OVERVIEW, HISTORY, FLOWS, ERRORS = "", "views/history.py", "views/flows.py", "views/errors.py"
PAGES = (OVERVIEW, HISTORY, FLOWS, ERRORS)
NUL = "\x00"
# (parameters, the name the one error must give)
LINKS: list[tuple[dict[str, str], str]] = [
    ({"min_s": "1e300"}, "min_s"),
    ({"min_s": "99999999999999999999999"}, "min_s"),
    ({"max_s": "1e300"}, "max_s"),
    ({"max_s": "1e19", "min_s": "1"}, "max_s"),
    ({"range": "custom", "from": "0001-01-01", "to": "9999-12-31"}, "from"),
    ({"from": "0001-01-01", "to": "0001-01-02"}, "from"),
    ({"from": "9999-12-30", "to": "9999-12-31"}, "from"),
    ({"from": "0001-01-01T00:00", "to": "9999-12-31T23:59"}, "from"),
    ({"from": "9999-12-31T00:00", "to": "9999-12-31T23:59", "tz": "Pacific/Kiritimati"}, "from"),
    ({"session": NUL}, "session"),
    ({"session": "a" + NUL + "b"}, "session"),
    ({"q": NUL}, "q"),
    ({"error_type": NUL}, "error_type"),
    ({"sig": NUL}, "sig"),
    ({"run_id": NUL}, "run_id"),
    ({"user": NUL}, "user"),
    ({"flow": NUL}, "flow"),
    ({"status": NUL}, "status"),
    ({"trigger": NUL}, "trigger"),
    ({"tz": NUL}, "tz"),
    ({"range": NUL}, "range"),
]


def open_link(
    monkeypatch: pytest.MonkeyPatch, url: str, page: str, params: dict[str, str]
) -> AppTest:
    """A new session opened on ``page`` by a link carrying ``params``."""
    monkeypatch.setenv("FLOWRUNS_DATABASE_URL", url)
    get_settings.cache_clear()
    st.cache_data.clear()
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params.update(params)
    if page:
        at.switch_page(page)
    return at.run()


def content(at: AppTest) -> tuple[object, ...]:
    """What a page shows, by kind of element: titles, KPI tiles, tables, charts, sections
    and notes ("No failures match these filters.")."""
    return (
        [t.value for t in at.title],
        len(at.metric),
        len(at.dataframe),
        len(at.get("plotly_chart")),
        [h.value for h in at.subheader],
        [i.value for i in at.info],
    )


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p or "overview")
def test_a_crafted_link_gives_one_named_error_and_the_page_renders(
    monkeypatch: pytest.MonkeyPatch, db_url: str, page: str
) -> None:
    seed(db_url, runs=80)
    clean = open_link(monkeypatch, db_url, page, {})
    assert not clean.exception and not clean.error
    expected = content(clean)
    assert expected[0] and any(expected[1:])  # a page with content
    failures = []
    for params, needle in LINKS:
        at = open_link(monkeypatch, db_url, page, params)
        shown = f"{page or 'overview'} {params!r}"
        if at.exception:
            failures.append(f"{shown}: exception {texts(at.exception)[0][:300]}")
            continue
        errors = [e.replace("\\", "") for e in texts(at.error)]  # shown Markdown-escaped
        if len(errors) != 1 or needle not in errors[0]:
            failures.append(f"{shown}: errors {errors!r:.300}")
        if content(at) != expected:  # the bad value dropped: the page as without it
            failures.append(f"{shown}: shows {content(at)}, not {expected}")
    assert not failures, f"{len(failures)}:\n" + "\n".join(failures)


@pytest.mark.parametrize(("params", "needle"), LINKS, ids=lambda v: repr(v)[:40])
def test_each_crafted_link_parses_to_a_usable_filter(params: dict[str, str], needle: str) -> None:
    """The same links through the pure parser: named, dropped, and the filter that is
    left can be built and bounded in time (what crashed the pages)."""
    state, errors = parse_params({k: [v] for k, v in params.items()}, set(), date(2026, 6, 1))
    assert any(error.startswith(needle + ":") for error in errors), errors
    flt = filter_for(state, datetime(2026, 6, 1, tzinfo=UTC))
    assert flt.min_duration_ms is None or flt.min_duration_ms <= MAX_SECONDS * 1000
    assert not any("\x00" in str(value) for value in flt.model_dump().values())
