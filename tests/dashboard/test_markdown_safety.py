"""Text from the database or the URL never reaches a Markdown-rendering element
unescaped: hostile flow names, user names, error types and messages, and link
parameters, on every page (AppTest; tests/dashboard/test_flows_errors_browser.py checks
the rendered DOM in Chromium)."""

from __future__ import annotations

import re

import pytest
import streamlit as st
from dashworld import APP, SEED_NOW
from flows_errors_world import HOST, HOSTILE, HOSTILE_TYPE, RAW_FRAGMENTS, hostile_world
from streamlit.testing.v1 import AppTest

from dashboard.formatting import md_escape
from data.settings import get_settings

ESCAPED = re.compile(r"\\[!-/:-@\[-`{-~]")
PAGES = (
    "views/overview.py",
    "views/history.py",
    "views/flows.py",
    "views/errors.py",
    "views/retention.py",
)
# Element kinds whose body or label Streamlit renders as Markdown.
BODIES = ("markdown", "caption", "error", "warning", "info", "success", "exception")
HEADINGS = ("title", "header", "subheader")
LABELLED = ("button", "metric", "expander", "tabs", "toggle", "checkbox", "radio")
LABELLED += ("selectbox", "multiselect", "text_input", "number_input", "date_input")


def markdown_sources(at: AppTest) -> list[str]:
    """Every string on the page that Streamlit renders as Markdown."""
    found: list[str] = []
    for kind in BODIES + HEADINGS:
        found += [str(getattr(e, "value", "")) for e in getattr(at, kind)]
    for kind in LABELLED:
        found += [str(getattr(e, "label", "")) for e in getattr(at, kind)]
    return found


def assert_escaped(at: AppTest, where: str) -> None:
    assert not at.exception, [e.message for e in at.exception]
    for text in markdown_sources(at):
        # Backslash-escaped characters are literal: blank them, then look for live syntax.
        live = ESCAPED.sub("\x00", text)
        for fragment in RAW_FRAGMENTS:
            assert fragment not in live, f"{where}: {fragment!r} unescaped in {text!r}"
        # GFM links bare URLs in the parsed text (escapes resolved): none may remain.
        shown = ESCAPED.sub(lambda m: m.group(0)[1], text)
        for url in (f"http://{HOST}", f"www.{HOST}", f"@{HOST}"):
            assert url not in shown, f"{where}: {url!r} would be linked in {text!r}"


def open_app(monkeypatch: pytest.MonkeyPatch, url: str, params: dict[str, str]) -> AppTest:
    monkeypatch.setenv("FLOWRUNS_DATABASE_URL", url)
    get_settings.cache_clear()
    st.cache_data.clear()
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params.update(params)
    return at


def test_md_escape_leaves_only_text() -> None:
    markdown_it = pytest.importorskip("markdown_it")
    renderer = markdown_it.MarkdownIt("commonmark").enable(["strikethrough", "table"])
    for text in (HOSTILE, HOSTILE_TYPE, "<b>x</b> &amp; | a | b |", "# h\n- item\n> quote"):
        html = renderer.render(md_escape(text))
        for tag in ("<a ", "<img", "<strong", "<em", "<code", "<h1", "<li", "<b>", "<blockquote"):
            assert tag not in html, (text, html)


@pytest.mark.parametrize(
    "params",
    [
        {"range": "all"},
        # Hostile link parameters: echoed in the error about them, the sidebar's group caption.
        {"range": HOSTILE, "tz": HOSTILE, "flow": HOSTILE, "status": HOSTILE},
        {"range": "7d", "error_type": HOSTILE_TYPE, "sig": HOSTILE, "q": HOSTILE},
    ],
    ids=["stored", "bad-params", "group-params"],
)
def test_no_page_renders_stored_or_linked_text_as_markdown(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str, params: dict[str, str]
) -> None:
    hostile_world(sqlite_url, SEED_NOW)
    at = open_app(monkeypatch, sqlite_url, params)
    errors_shown = []
    for page in PAGES:
        at.switch_page(page).run()
        assert_escaped(at, page)
        errors_shown += [e.value for e in at.error]
    if "error_type" in params:
        assert md_escape(HOSTILE_TYPE) in " ".join(c.value for c in at.sidebar.caption)
    if params["range"] == HOSTILE:
        assert any(md_escape(HOSTILE) in text for text in errors_shown)  # named, as text


def test_errors_page_shows_the_hostile_groups_escaped(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    hostile_world(sqlite_url, SEED_NOW)
    at = open_app(monkeypatch, sqlite_url, {"range": "30d"})
    at.switch_page("views/errors.py").run()
    assert_escaped(at, "errors")
    labels = " ".join(m.value for m in at.markdown)
    assert md_escape(HOSTILE_TYPE) in labels and md_escape("Fresh`Error") in labels


def test_run_detail_shows_the_flow_name_and_error_type_as_text(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    world = hostile_world(sqlite_url, SEED_NOW)
    run = next(r for r in world.runs if r["error_type"] == HOSTILE_TYPE)
    at = open_app(monkeypatch, sqlite_url, {"range": "all"})
    at.switch_page("views/history.py").run()
    at.selectbox(key="h_selected").set_value(str(run["id"])).run()
    assert_escaped(at, "run detail")
    # Shown, in text elements (or escaped in Markdown ones).
    shown = " ".join([t.value for t in at.text] + markdown_sources(at))
    assert HOSTILE in shown or md_escape(HOSTILE) in shown
    assert HOSTILE_TYPE in shown or md_escape(HOSTILE_TYPE) in shown
