"""Error search (``error_contains``) looks in the message and in the error type: a table
of needles, each compared with a Python predicate over the inserted rows, on both backends."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from runfactory import World, at
from sqlalchemy import Engine

from data import queries as q
from data.filters import FlowRunFilter

ROWS = (  # (error_type, error_message)
    ("TimeoutError", "Request to the LLM provider timed out after 30 s"),
    ("TimeoutError", None),
    ("RateLimitError", "Rate limit reached: 50% of quota"),
    ("KeyError", "'user_id'"),
    ("Key_Error", "underscore in the type"),
    (None, "Timeout while connecting"),
    (None, None),
    ("ÄrgerError", "plain text"),
)

CASES = [
    # A type-only match: "timeout" is in TimeoutError but not in "...timed out...".
    ("timeout", lambda kind, msg: "timeout" in f"{kind or ''}|{msg or ''}".lower()),
    ("TIMEOUTERROR", lambda kind, msg: kind == "TimeoutError"),
    ("keyerror", lambda kind, msg: kind == "KeyError"),
    # LIKE wildcards are literal in the type too.
    ("key_", lambda kind, msg: kind == "Key_Error"),
    ("50%", lambda kind, msg: msg is not None and "50%" in msg),
    ("ärger", lambda kind, msg: kind == "ÄrgerError"),
    ("user_id", lambda kind, msg: msg == "'user_id'"),
    ("no such text", lambda kind, msg: False),
]


@pytest.fixture
def seeded(world: World) -> World:
    world.add(
        world.run(status="failure", error_type=kind, error_message=msg, started_at=at(minutes=i))
        for i, (kind, msg) in enumerate(ROWS)
    )
    return world


@pytest.mark.parametrize(("needle", "predicate"), CASES, ids=[c[0] for c in CASES])
def test_error_search_matches_message_or_type(
    seeded: World, needle: str, predicate: Callable[[str | None, str | None], bool]
) -> None:
    expected = seeded.ids(lambda r: predicate(r["error_type"], r["error_message"]))
    flt = FlowRunFilter.build(error_contains=needle)
    assert {r.id for r in q.list_runs(seeded.engine, flt).runs} == expected
    assert q.count_runs(seeded.engine, flt) == len(expected)
    if needle == "timeout":
        assert len(expected) == 3  # the type-only row is among them


def test_error_search_feeds_every_aggregate(seeded: World, engine: Engine) -> None:
    flt = FlowRunFilter.build(error_contains="timeout")
    groups = q.error_breakdown(engine, flt)
    assert int(groups["count"].sum()) == q.run_stats(engine, flt).total == 3
