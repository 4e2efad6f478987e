"""Dialect-neutral SQL constructs: one expression, compiled per backend.

Queries use these instead of branching on the dialect, so the same query text
serves SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import JSON, BigInteger, Float, SQLColumnExpression, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal

from data.signature import SIGNATURE_MAX_CHARS, SIGNATURE_RULES
from data.sqlite_functions import PERCENTILES
from data.types import UTCDateTime

Bucket = Literal["hour", "day", "week"]
BUCKETS: tuple[Bucket, ...] = ("hour", "day", "week")


class duration_percentiles(FunctionElement[Any]):
    """Aggregate: ``[p50, p95, p99]`` (linear interpolation) of a numeric column."""

    type = JSON()
    inherit_cache = True


@compiles(duration_percentiles, "sqlite")
def _percentiles_sqlite(element: duration_percentiles, compiler: SQLCompiler, **kw: Any) -> str:
    return f"flowrun_percentiles({compiler.process(element.clauses, **kw)})"


@compiles(duration_percentiles, "postgresql")
def _percentiles_pg(element: duration_percentiles, compiler: SQLCompiler, **kw: Any) -> str:
    fractions = ",".join(str(p) for p in PERCENTILES)
    column = compiler.process(element.clauses, **kw)
    return f"percentile_cont(ARRAY[{fractions}]::float8[]) WITHIN GROUP (ORDER BY {column})"


class error_signature(FunctionElement[str]):
    """The masked error message (see data.signature)."""

    type = String()
    inherit_cache = True


@compiles(error_signature, "sqlite")
def _signature_sqlite(element: error_signature, compiler: SQLCompiler, **kw: Any) -> str:
    # As a BLOB: a stored value that is not valid UTF-8 must not fail the query.
    return f"flowrun_signature(CAST({compiler.process(element.clauses, **kw)} AS BLOB))"


def _pg_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@compiles(error_signature, "postgresql")
def _signature_pg(element: error_signature, compiler: SQLCompiler, **kw: Any) -> str:
    expression = compiler.process(element.clauses, **kw)
    for pattern, replacement in SIGNATURE_RULES:
        expression = (
            f"regexp_replace({expression}, {_pg_literal(pattern)}, {_pg_literal(replacement)}, 'g')"
        )
    return f"left(btrim({expression}), {SIGNATURE_MAX_CHARS})"


class lower_text(FunctionElement[str]):
    """``lower()`` that folds non-ASCII letters on SQLite too: SQLite's built-in lower is
    ASCII-only, so searching "ärger" missed "ÄRGER" there but not on PostgreSQL."""

    type = String()
    inherit_cache = True


@compiles(lower_text, "sqlite")
def _lower_sqlite(element: lower_text, compiler: SQLCompiler, **kw: Any) -> str:
    return f"flowrun_lower(CAST({compiler.process(element.clauses, **kw)} AS BLOB))"


@compiles(lower_text)
def _lower_default(element: lower_text, compiler: SQLCompiler, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


class whole_seconds(FunctionElement[Any]):
    """A timestamp without its fraction of a second, for SQLite's date functions: their
    date arithmetic rounds to the millisecond, so a run at 23:59:59.9996 landed in the
    next day. Every bucket edge is a whole minute, so cutting the fraction never moves a
    run across one. PostgreSQL keeps microseconds exactly: the column as it is."""

    type = UTCDateTime()
    inherit_cache = True


@compiles(whole_seconds, "sqlite")
def _whole_seconds_sqlite(element: whole_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    # The stored form, 'YYYY-MM-DD HH:MM:SS.ffffff' (26 characters), loses its fraction;
    # other forms (legacy text with an offset) are left to the canonicalising migration.
    # A length test costs a third of what parsing the text for a fraction did.
    return f"CASE WHEN length({column}) = 26 THEN substr({column}, 1, 19) ELSE {column} END"


@compiles(whole_seconds)
def _whole_seconds_default(element: whole_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


class time_bucket(FunctionElement[Any]):
    """Start of the UTC hour/day/week (weeks start on Monday) holding a timestamp."""

    type = UTCDateTime()
    inherit_cache = True
    # The unit must be part of the statement cache key, or a query compiled for "hour"
    # is reused for "day" (same columns, different SQL text).
    _traverse_internals = [
        *FunctionElement._traverse_internals,
        ("unit", InternalTraversal.dp_string),
    ]

    def __init__(self, unit: Bucket, column: SQLColumnExpression[Any]) -> None:
        if unit not in BUCKETS:
            raise ValueError(f"unknown bucket {unit!r}")
        self.unit = unit
        super().__init__(column)


_SQLITE_BUCKETS = {
    "hour": "strftime('%Y-%m-%d %H:00:00', {col})",
    "day": "strftime('%Y-%m-%d 00:00:00', {col})",
    # weekday 0 moves forward to Sunday; six days back is that week's Monday.
    "week": "strftime('%Y-%m-%d 00:00:00', {col}, 'weekday 0', '-6 days')",
}


@compiles(time_bucket, "sqlite")
def _bucket_sqlite(element: time_bucket, compiler: SQLCompiler, **kw: Any) -> str:
    column = _whole_seconds_sqlite(whole_seconds(*element.clauses), compiler, **kw)
    return _SQLITE_BUCKETS[element.unit].format(col=column)


@compiles(time_bucket, "postgresql")
def _bucket_pg(element: time_bucket, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"date_trunc('{element.unit}', {column})"


# Longest duration that is aggregated (2^40 ms, 34.8 years): a sum of 8 million of them
# still fits in 64 bits, so SQLite's integer sums never overflow (issue 16, case 8). A
# duration outside it, or stored as something other than a whole number (text, a real),
# is another engine's garbage: its run is counted, but "without a duration".
USABLE_DURATION_MS = 2**40


def _whole_number_within(dialect: str, column: str, low: int, high: int) -> str:
    """``column`` where it is a whole number in [low, high], else NULL (SQL text): SQLite
    may hold text or a real in an integer column, PostgreSQL cannot."""
    in_range = f"{column} BETWEEN {low} AND {high}"
    if dialect == "sqlite":
        return f"(CASE WHEN typeof({column}) = 'integer' AND {in_range} THEN {column} END)"
    return f"(CASE WHEN {in_range} THEN {column} END)"


def usable_duration_sql(dialect: str, column: str) -> str:
    """``column`` where it is a usable duration, else NULL (as SQL text, for triggers)."""
    return _whole_number_within(dialect, column, -USABLE_DURATION_MS, USABLE_DURATION_MS)


class usable_duration(FunctionElement[int]):
    """A duration column as aggregates read it (see ``usable_duration_sql``): the raw-row
    queries and the rollup's triggers apply one rule."""

    type = BigInteger()
    inherit_cache = True


@compiles(usable_duration)
def _usable_duration(element: usable_duration, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return usable_duration_sql(compiler.dialect.name, column)


class float_sum(FunctionElement[float]):
    """``sum()`` read as a float: SQLite's ``total()``, whose integer sum cannot raise
    "integer overflow" however many stored sums it adds (the rollup's readers)."""

    type = Float()
    inherit_cache = True


@compiles(float_sum, "sqlite")
def _float_sum_sqlite(element: float_sum, compiler: SQLCompiler, **kw: Any) -> str:
    return f"total({compiler.process(element.clauses, **kw)})"


@compiles(float_sum)
def _float_sum(element: float_sum, compiler: SQLCompiler, **kw: Any) -> str:
    return f"sum({compiler.process(element.clauses, **kw)})"


# The most tokens one run is counted with: a sum over 8 million such runs fits 64 bits.
USABLE_TOKENS = 2**40


def usable_tokens_sql(dialect: str, column: str) -> str:
    """``column`` where it is a usable token count (a whole number 0..2^40), else NULL."""
    return _whole_number_within(dialect, column, 0, USABLE_TOKENS)


class usable_tokens(FunctionElement[int]):
    """A run's token count as aggregates read it (``usable_tokens_sql``)."""

    type = BigInteger()
    inherit_cache = True


@compiles(usable_tokens)
def _usable_tokens(element: usable_tokens, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return usable_tokens_sql(compiler.dialect.name, column)
