"""SQLite: one stored form for every run's times, so that text order is time order.

Ours write naive UTC text ``YYYY-MM-DD HH:MM:SS.ffffff``. Other engines write the same
instant as ``2026-01-02T03:04:05+05:00``, ``...Z``, or without a fraction, and SQLite
compares that text as text: a filter or a cursor put such a run on the wrong day while
the rollup (which parses it) counted it on the right one (issue 16, case 3). Triggers
rewrite such a value into the canonical form, the same instant; the migration rewrites
those already stored. Plain SQL only (no functions of ours): every engine's connection
runs the triggers. Text that does not parse (``yesterday``) is left as it is.
"""

from __future__ import annotations

TIME_COLUMNS = ("started_at", "ended_at")
_DIGIT = "[0-9]"
# What ours write; anything else that parses is rewritten.
CANONICAL_GLOB = (
    f"{_DIGIT * 4}-{_DIGIT * 2}-{_DIGIT * 2} {_DIGIT * 2}:{_DIGIT * 2}:{_DIGIT * 2}.{_DIGIT * 6}"
)
# ISO 8601 with a space or a 'T', seconds, then an optional fraction and zone.
_PARSEABLE_GLOB = (
    f"{_DIGIT * 4}-{_DIGIT * 2}-{_DIGIT * 2}[ T]{_DIGIT * 2}:{_DIGIT * 2}:{_DIGIT * 2}*"
)


def canonical_sql(value: str) -> str:
    """SQL for ``value`` (text) in the canonical form, or NULL when it does not parse.

    The fraction is cut off before SQLite's date functions see it (they round it to
    milliseconds, and 59.9996 s became the next second) and put back, to the
    microsecond, afterwards: a zone offset is whole minutes, so it never changes it.
    """
    dotted = f"substr({value}, 20, 1) = '.'"
    after_dot = f"substr({value}, 21)"
    digits = f"length({after_dot}) - length(ltrim({after_dot}, '0123456789'))"
    fraction = f"(CASE WHEN {dotted} THEN substr({after_dot}, 1, {digits}) ELSE '' END)"
    zone = (
        f"(CASE WHEN {dotted} THEN ltrim({after_dot}, '0123456789') ELSE substr({value}, 20) END)"
    )
    seconds = f"substr({value}, 1, 10) || ' ' || substr({value}, 12, 8) || {zone}"
    return (
        f"(CASE WHEN {value} GLOB '{_PARSEABLE_GLOB}' THEN"
        f" strftime('%Y-%m-%d %H:%M:%S', {seconds}) || '.' || substr({fraction} || '000000', 1, 6)"
        " END)"
    )


def needs_rewrite_sql(value: str) -> str:
    """SQL: ``value`` is text in another form that parses (a rewrite changes it)."""
    # Year 0 (0001-01-01 with a positive offset) is no datetime a reader can hold.
    return (
        f"(typeof({value}) = 'text' AND {value} NOT GLOB '{CANONICAL_GLOB}'"
        f" AND {canonical_sql(value)} >= '0001-01-01')"
    )


def rewritten_sql(column: str) -> str:
    """SQL: ``column``'s canonical form where it needs one, else the value unchanged."""
    return f"(CASE WHEN {needs_rewrite_sql(column)} THEN {canonical_sql(column)} ELSE {column} END)"


def rewrite_statement(where: str) -> str:
    """UPDATE rewriting both time columns of the runs ``where`` selects."""
    sets = ", ".join(f"{c} = {rewritten_sql(c)}" for c in TIME_COLUMNS)
    return f"UPDATE flow_run SET {sets} WHERE {where}"


def any_needs_rewrite_sql(row: str = "") -> str:
    """SQL: either time column of ``row`` (``NEW``, or the table when empty) needs one."""
    prefix = f"{row}." if row else ""
    return " OR ".join(needs_rewrite_sql(f"{prefix}{c}") for c in TIME_COLUMNS)
