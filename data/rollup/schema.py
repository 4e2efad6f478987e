"""The SQL that maintains the rollup: the set-based statements that rebuild and check it
and that the triggers (data.rollup.triggers) and batched deletes run. Every statement is
generated here from one description of the keys, so the triggers, ``rebuild`` and
``check`` cannot disagree on what a key is.

Two grains, UTC hours and UTC days (the day tables are ~10x smaller and answer the
common whole-day ranges; the hour tables answer whole-hour ranges and zones with
whole-hour offsets). Per grain:

- ``flowrun_rollup_<grain>``: (period, flow_id, status, trigger_type) -> runs, runs with
  a duration, sum of durations;
- ``flowrun_rollup_<grain>_hist``: (period, flow_id, status, bucket) -> runs.

Statuses are kept as stored, not lower-cased: the filter's case rule (data.statuses)
then applies to the rollup exactly as to raw rows (``sUcCeSs`` stays an unknown status).

Batched deletes maintain the rollup themselves, set-based per batch (``subtract``): a
transaction that holds a row in ``flowrun_rollup_pause`` is skipped by the delete
triggers. Nobody else sees that row: it is inserted and removed inside the deleting
transaction (SQLite serialises writers; PostgreSQL shows no uncommitted rows), so every
other writer, another engine's included, is still counted by the triggers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from data.rollup.histogram import bound_rows
from data.sql_functions import usable_duration_sql, usable_tokens_sql

Grain = Literal["hour", "day"]
GRAINS: tuple[Grain, ...] = ("hour", "day")
BOUND = "flowrun_rollup_bound"
PAUSE = "flowrun_rollup_pause"
TOTALS_KEY = ("period", "flow_id", "status", "trigger_type")
HIST_KEY = ("period", "flow_id", "status", "bucket")
WATCHED = ("started_at", "flow_id", "status", "trigger_type", "duration_ms")
TRIGGER_NAMES = ("flowrun_rollup_insert", "flowrun_rollup_update", "flowrun_rollup_delete")
PG_TRUNCATE_TRIGGER = "flowrun_rollup_truncate"
_PERIOD = {
    # Text strftime cannot read (another engine's garbage) is kept as it is: the write must
    # not fail, and raw-row bounds compare that same text.
    "sqlite": {
        "hour": "coalesce(strftime('%Y-%m-%d %H:00:00.000000', {row}.started_at),"
        " CAST({row}.started_at AS TEXT), '')",
        "day": "coalesce(strftime('%Y-%m-%d 00:00:00.000000', {row}.started_at),"
        " CAST({row}.started_at AS TEXT), '')",
    },
    "postgresql": {
        "hour": "date_trunc('hour', {row}.started_at, 'UTC')",
        "day": "date_trunc('day', {row}.started_at, 'UTC')",
    },
}


def totals_table(grain: Grain) -> str:
    return f"flowrun_rollup_{grain}"


def histogram_table(grain: Grain) -> str:
    return f"flowrun_rollup_{grain}_hist"


def all_tables() -> list[str]:
    return [t for g in GRAINS for t in (totals_table(g), histogram_table(g))]


def _columns(names: Sequence[str], prefix: str = "") -> str:
    return ", ".join(f"{prefix}{name}" for name in names)


def usable(dialect: str, row: str) -> str:
    """The row's duration where aggregates count it (data.sql_functions.usable_duration)."""
    return usable_duration_sql(dialect, f"{row}.duration_ms")


def _bucket(dialect: str, row: str) -> str:
    duration = usable(dialect, row)
    if dialect == "postgresql":
        # The bounds as a constant array: one binary search per row instead of an index
        # probe of the bound table (a quarter of a 5,000-row delete's trigger time at
        # 1M runs). The same bounds as the table's (install writes both from
        # bound_rows), whose buckets are consecutive integers.
        rows = bound_rows()
        lowers = ",".join(str(low) for _, low in rows)
        return f"(width_bucket({duration}, '{{{lowers}}}'::bigint[]) + {rows[0][0] - 1})"
    return (
        f"(SELECT b.bucket FROM {BOUND} b WHERE b.lower_ms <= {duration}"
        " ORDER BY b.lower_ms DESC LIMIT 1)"
    )


Tokens = Literal["absent", "null", "counted"]
"""What the rollup knows of tokens: ``absent``, no token sums (before migration 0007);
``null``, sums of nothing (flow_run has no total_tokens column: another application's
table whose owner did not allow it); ``counted``, each run's total_tokens."""


def usable_tokens(dialect: str, row: str, tokens: Tokens = "counted") -> str:
    """The row's token count where aggregates count it (data.sql_functions.usable_tokens),
    NULL where flow_run has no such column."""
    if tokens != "counted":
        return "CAST(NULL AS BIGINT)"  # typed: PostgreSQL cannot multiply an untyped NULL
    return usable_tokens_sql(dialect, f"{row}.total_tokens")


def sums(tokens: Tokens) -> tuple[str, ...]:
    """The sums a totals table holds."""
    return SUMS[:3] if tokens == "absent" else SUMS


def _row_values(dialect: str, grain: Grain, row: str, tokens: Tokens = "counted") -> dict[str, str]:
    """Each key column's value for one row (``NEW``, ``OLD`` or a table alias)."""
    return {
        "period": _PERIOD[dialect][grain].format(row=row),
        "flow_id": f"{row}.flow_id",
        "status": f"{row}.status",
        "trigger_type": f"{row}.trigger_type",
        "bucket": _bucket(dialect, row),
        "tokens": usable_tokens(dialect, row, tokens),
    }


CHANGE_COLUMNS = ("period", "flow_id", "status", "trigger_type", "bucket")
# What the totals tables sum per key (the histograms sum runs only).
SUMS = ("runs", "duration_count", "duration_sum", "token_count", "token_sum")


def _changes(
    dialect: str, grain: Grain, sources: Sequence[tuple[str, int]], tokens: Tokens = "counted"
) -> str:
    """``WITH changes``: the rows of ``sources`` (table, sign) as signed changes."""
    duration = usable(dialect, "s")
    if dialect == "postgresql":
        duration = f"CAST({duration} AS NUMERIC)"
    parts = []
    for table, sign in sources:
        values = _row_values(dialect, grain, "s", tokens)
        selected = ", ".join(values[c] for c in CHANGE_COLUMNS)
        parts.append(f"SELECT {selected}, {duration}, {values['tokens']}, {sign} FROM {table} s")
    names = f"{_columns(CHANGE_COLUMNS)}, duration_ms, tokens, sign"
    return f"WITH changes ({names}) AS ({' UNION ALL '.join(parts)})"


def _counted(column: str) -> str:
    return f"CASE WHEN {column} IS NULL THEN 0 ELSE sign END"


# Per key, in the order of SUMS.
TOTAL_EXPRESSIONS = (
    "sum(sign)",
    f"sum({_counted('duration_ms')})",
    "coalesce(sum(duration_ms * sign), 0)",
    f"sum({_counted('tokens')})",
    "coalesce(sum(tokens * sign), 0)",
)


def totals(tokens: Tokens) -> str:
    """The sums of ``changes`` per key, as the totals table of this shape holds them."""
    return ", ".join(TOTAL_EXPRESSIONS[: len(sums(tokens))])


def _insert_totals(grain: Grain, tokens: Tokens = "counted") -> str:
    key = _columns(TOTALS_KEY)
    held = sums(tokens)
    nonzero = " OR ".join(f"{total} <> 0" for total in TOTAL_EXPRESSIONS[: len(held)])
    return (
        f"INSERT INTO {totals_table(grain)} AS r ({key}, {_columns(held)}) "
        f"SELECT {key}, {totals(tokens)} FROM changes WHERE true GROUP BY {key} "
        f"HAVING {nonzero} ORDER BY {key} "
        f"ON CONFLICT ({key}) DO UPDATE SET "
        + ", ".join(f"{c} = r.{c} + excluded.{c}" for c in held)
    )


def _insert_histogram(grain: Grain) -> str:
    key = _columns(HIST_KEY)
    return (
        f"INSERT INTO {histogram_table(grain)} AS r ({key}, runs) "
        f"SELECT {key}, sum(sign) FROM changes WHERE duration_ms IS NOT NULL "
        f"GROUP BY {key} HAVING sum(sign) <> 0 ORDER BY {key} "
        f"ON CONFLICT ({key}) DO UPDATE SET runs = r.runs + excluded.runs"
    )


def upsert_totals(
    dialect: str, grain: Grain, sources: Sequence[tuple[str, int]], tokens: Tokens = "counted"
) -> str:
    """Add the signed changes of ``sources`` to the per-key totals of ``grain``."""
    return f"{_changes(dialect, grain, sources, tokens)} {_insert_totals(grain, tokens)}"


def upsert_histogram(
    dialect: str, grain: Grain, sources: Sequence[tuple[str, int]], tokens: Tokens = "counted"
) -> str:
    """Add the signed changes of ``sources`` to the duration histograms of ``grain``."""
    return f"{_changes(dialect, grain, sources, tokens)} {_insert_histogram(grain)}"


def expected_totals(dialect: str, grain: Grain, tokens: Tokens = "counted") -> str:
    """What the totals table of ``grain`` must hold, computed from ``flow_run``."""
    key = _columns(TOTALS_KEY)
    changes = _changes(dialect, grain, [("flow_run", 1)], tokens)
    return f"{changes} SELECT {key}, {totals(tokens)} FROM changes GROUP BY {key}"


def expected_histogram(dialect: str, grain: Grain, tokens: Tokens = "counted") -> str:
    key = _columns(HIST_KEY)
    changes = _changes(dialect, grain, [("flow_run", 1)], tokens)
    return (
        f"{changes} SELECT {key}, sum(sign) FROM changes"
        f" WHERE duration_ms IS NOT NULL GROUP BY {key}"
    )


def delete_emptied(dialect: str, grain: Grain, hist: bool, source: str) -> str:
    """Remove the rows of a rollup table whose count reached 0 in the periods ``source``
    touched (a batched delete on SQLite; PostgreSQL's triggers delete exactly the keys
    their upserts emptied). By period, not key: SQLite searched a row-value IN list on
    the key's first column and scanned the period's rows once per touched key. Any row
    at 0 is garbage, so all of the touched periods' rows at 0 may go."""
    table = histogram_table(grain) if hist else totals_table(grain)
    period = _row_values(dialect, grain, "s", "null")["period"]
    touched = f"SELECT DISTINCT {period} FROM {source} s"
    return f"DELETE FROM {table} WHERE runs = 0 AND period IN ({touched})"


def maintenance(
    dialect: str, sources: Sequence[tuple[str, int]], tokens: Tokens = "counted"
) -> list[str]:
    """The statements applying the rows of ``sources`` (table or subquery, sign) to the
    rollup, set-based: the statement triggers' body, and a batched delete's own upkeep."""
    body = []
    for grain in GRAINS:
        body += [upsert_totals(dialect, grain, sources, tokens)]
        body += [upsert_histogram(dialect, grain, sources, tokens)]
        for source, sign in sources:
            if sign < 0:
                body.append(delete_emptied(dialect, grain, False, source))
                body.append(delete_emptied(dialect, grain, True, source))
    return body


def subtract(dialect: str, source: str, tokens: Tokens = "counted") -> list[str]:
    """Take the rows of ``source`` (as they are before being deleted) out of the rollup."""
    return maintenance(dialect, [(source, -1)], tokens)
