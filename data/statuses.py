"""Run statuses as real tables hold them: compared case-insensitively, unknown values kept.

Older engines wrote ``SUCCESS``; other engines write statuses we do not know. One rule for
every surface (data layer, CLI, API, dashboard):

- A status matches its lower-case, UPPER-CASE and Capitalised spellings (``success``,
  ``SUCCESS``, ``Success``), with ``status IN (...)`` so the status indexes stay usable
  (``lower(status) = ...`` could not use them without an expression index).
- The five known statuses are always valid filter values. Any other value is valid when
  runs with it exist (in the caller's scope): ``weird`` is filterable, a typo such as
  ``bogus`` is rejected and the known values are named.
- A stored value in any other spelling (``sUcCeSs``) is not one of the known statuses: it
  is an unknown value of its own, matched exactly.
- Aggregates count each known status over its spellings and everything else in ``other``,
  so pending + running + success + failure + cancelled + other == runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from sqlalchemy import Engine, func, literal_column, select, true
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from data.errors import InvalidQuery
from data.models import FlowRun, FlowRunStatus

KNOWN_STATUSES = tuple(s.value for s in FlowRunStatus)
OTHER = "other"
MAX_STATUS_CHARS = 100


def _case_spellings(lower: str) -> set[str]:
    return {lower, lower.upper(), lower.capitalize()}


@cache
def known_spellings() -> dict[str, str]:
    """Every accepted spelling of a known status -> the status (``SUCCESS`` -> ``success``)."""
    return {spelling: s for s in KNOWN_STATUSES for spelling in _case_spellings(s)}


def canonical(value: str) -> str:
    """The filter value a stored or typed status stands for: a known status in lower case;
    an unknown one in lower case when ``value`` is one of its case spellings, else as is."""
    if not isinstance(value, str):  # another engine's BLOB or number in a SQLite column
        value = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    known = known_spellings().get(value)
    if known is not None:
        return known
    lower = value.lower()
    return lower if value in _case_spellings(lower) else value


def spellings(value: str) -> tuple[str, ...]:
    """The stored values a filter value matches (see the module rule)."""
    name = canonical(value)
    # A mixed spelling (sUcCeSs) stands only for itself; it is not a known status.
    return tuple(sorted(_case_spellings(name))) if name == name.lower() else (name,)


def stored_values(values: Iterable[str]) -> list[str]:
    """Every stored value the filter values match, sorted (see the module rule)."""
    return sorted({spelling for value in values for spelling in spellings(value)})


def status_in(values: Iterable[str]) -> ColumnElement[bool]:
    """``status`` is one of ``values`` (case-insensitively, by the module rule)."""
    return FlowRun.status.in_(stored_values(values))


def check_text(value: str) -> str:
    """A well-formed status token (stripped), else ``InvalidQuery`` naming the problem."""
    stripped = value.strip()
    if not stripped:
        raise InvalidQuery("status: must not be empty")
    if len(stripped) > MAX_STATUS_CHARS:
        raise InvalidQuery(f"status: at most {MAX_STATUS_CHARS} characters")
    if any(ord(char) < 32 or 0xD800 <= ord(char) <= 0xDFFF for char in stripped):
        raise InvalidQuery("status: must not contain control characters or invalid text")
    return stripped


def check_statuses(
    engine: Engine, values: Iterable[str], scope: ColumnElement[bool] | None = None
) -> tuple[str, ...]:
    """The canonical filter values; ``InvalidQuery`` for a value that is neither a known
    status nor present in the runs ``scope`` selects (one indexed lookup per unknown value)."""
    names = tuple(dict.fromkeys(canonical(check_text(value)) for value in values))
    for name in names:
        if name in KNOWN_STATUSES:
            continue
        query: Select[tuple[int]] = (
            select(literal_column("1"))
            .where(status_in((name,)), true() if scope is None else scope)
            .limit(1)
        )
        with engine.connect() as conn:
            if conn.execute(query).first() is None:
                raise InvalidQuery(
                    f"status: unknown status {name!r} (known: {', '.join(KNOWN_STATUSES)}; "
                    "other values only when runs have them)"
                )
    return names


def status_values(engine: Engine) -> list[str]:
    """Every filter value present in the table: the known statuses first, then the others.

    A loose index scan (one index seek per distinct value, recursive CTE) rather than
    ``SELECT DISTINCT``, which would read the whole status index.
    """
    seed = select(func.min(FlowRun.status).label("value"))
    distinct = seed.cte("distinct_status", recursive=True)
    following = (
        select(func.min(FlowRun.status)).where(FlowRun.status > distinct.c.value).scalar_subquery()
    )
    distinct = distinct.union_all(
        select(following.label("value")).where(distinct.c.value.is_not(None))
    )
    with engine.connect() as conn:
        stored = [v for v in conn.execute(select(distinct.c.value)).scalars() if v is not None]
    values = {canonical(value) for value in stored}
    known = [s for s in KNOWN_STATUSES if s in values]
    return known + sorted(values - set(KNOWN_STATUSES))
