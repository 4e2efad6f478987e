"""The SQL that maintains the rollup: triggers per backend, and the set-based statements
that rebuild and check it. Every statement is generated here from one description of
the keys, so the triggers, ``rebuild`` and ``check`` cannot disagree on what a key is.

Two grains, UTC hours and UTC days (the day tables are ~10x smaller and answer the
common whole-day ranges; the hour tables answer whole-hour ranges and zones with
whole-hour offsets). Per grain:

- ``flowrun_rollup_<grain>``: (period, flow_id, status, trigger_type) -> runs, runs with
  a duration, sum of durations;
- ``flowrun_rollup_<grain>_hist``: (period, flow_id, status, bucket) -> runs.

Statuses are kept as stored, not lower-cased: the filter's case rule (data.statuses)
then applies to the rollup exactly as to raw rows (``sUcCeSs`` stays an unknown status).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

Grain = Literal["hour", "day"]
GRAINS: tuple[Grain, ...] = ("hour", "day")
BOUND = "flowrun_rollup_bound"
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


def _bucket(row: str) -> str:
    return (
        f"(SELECT b.bucket FROM {BOUND} b WHERE b.lower_ms <= {row}.duration_ms"
        " ORDER BY b.lower_ms DESC LIMIT 1)"
    )


def _row_values(dialect: str, grain: Grain, row: str) -> dict[str, str]:
    """Each key column's value for one row (``NEW``, ``OLD`` or a table alias)."""
    return {
        "period": _PERIOD[dialect][grain].format(row=row),
        "flow_id": f"{row}.flow_id",
        "status": f"{row}.status",
        "trigger_type": f"{row}.trigger_type",
        "bucket": _bucket(row),
    }


CHANGE_COLUMNS = ("period", "flow_id", "status", "trigger_type", "bucket")


def _changes(dialect: str, grain: Grain, sources: Sequence[tuple[str, int]]) -> str:
    """``WITH changes``: the rows of ``sources`` (table, sign) as signed changes."""
    duration = "CAST(s.duration_ms AS NUMERIC)" if dialect == "postgresql" else "s.duration_ms"
    parts = []
    for table, sign in sources:
        values = _row_values(dialect, grain, "s")
        selected = ", ".join(values[c] for c in CHANGE_COLUMNS)
        parts.append(f"SELECT {selected}, {duration}, {sign} FROM {table} s")
    names = f"{_columns(CHANGE_COLUMNS)}, duration_ms, sign"
    return f"WITH changes ({names}) AS ({' UNION ALL '.join(parts)})"


COUNTED = "CASE WHEN duration_ms IS NULL THEN 0 ELSE sign END"
TOTALS = f"sum(sign), sum({COUNTED}), coalesce(sum(duration_ms * sign), 0)"


def upsert_totals(dialect: str, grain: Grain, sources: Sequence[tuple[str, int]]) -> str:
    """Add the signed changes of ``sources`` to the per-key totals of ``grain``."""
    key = _columns(TOTALS_KEY)
    return (
        f"{_changes(dialect, grain, sources)} "
        f"INSERT INTO {totals_table(grain)} AS r ({key}, runs, duration_count, duration_sum) "
        f"SELECT {key}, {TOTALS} FROM changes WHERE true GROUP BY {key} "
        f"HAVING sum(sign) <> 0 OR sum({COUNTED}) <> 0 "
        f"OR coalesce(sum(duration_ms * sign), 0) <> 0 ORDER BY {key} "
        f"ON CONFLICT ({key}) DO UPDATE SET runs = r.runs + excluded.runs, "
        "duration_count = r.duration_count + excluded.duration_count, "
        "duration_sum = r.duration_sum + excluded.duration_sum"
    )


def upsert_histogram(dialect: str, grain: Grain, sources: Sequence[tuple[str, int]]) -> str:
    """Add the signed changes of ``sources`` to the duration histograms of ``grain``."""
    key = _columns(HIST_KEY)
    return (
        f"{_changes(dialect, grain, sources)} "
        f"INSERT INTO {histogram_table(grain)} AS r ({key}, runs) "
        f"SELECT {key}, sum(sign) FROM changes WHERE duration_ms IS NOT NULL "
        f"GROUP BY {key} HAVING sum(sign) <> 0 ORDER BY {key} "
        f"ON CONFLICT ({key}) DO UPDATE SET runs = r.runs + excluded.runs"
    )


def expected_totals(dialect: str, grain: Grain) -> str:
    """What the totals table of ``grain`` must hold, computed from ``flow_run``."""
    key = _columns(TOTALS_KEY)
    changes = _changes(dialect, grain, [("flow_run", 1)])
    return f"{changes} SELECT {key}, {TOTALS} FROM changes GROUP BY {key}"


def expected_histogram(dialect: str, grain: Grain) -> str:
    key = _columns(HIST_KEY)
    changes = _changes(dialect, grain, [("flow_run", 1)])
    return (
        f"{changes} SELECT {key}, sum(sign) FROM changes"
        f" WHERE duration_ms IS NOT NULL GROUP BY {key}"
    )


def _pg_delete_emptied(table: str, key: Sequence[str], grain: Grain, source: str) -> str:
    """Remove the rows of ``table`` whose count reached 0, among the keys ``source`` touched."""
    values = _row_values("postgresql", grain, "s")
    touched = ", ".join(values[c] for c in key)
    match = " AND ".join(f"t.{c} = k.{c}" for c in key)
    return (
        f"DELETE FROM {table} AS t WHERE t.runs = 0 AND EXISTS (SELECT 1 FROM "
        f"(SELECT DISTINCT {touched} FROM {source} s) AS k ({_columns(key)}) WHERE {match})"
    )


def _pg_function(name: str, sources: Sequence[tuple[str, int]]) -> str:
    body = []
    for grain in GRAINS:
        body += [upsert_totals("postgresql", grain, sources)]
        body += [upsert_histogram("postgresql", grain, sources)]
        for source, sign in sources:
            if sign < 0:
                body.append(_pg_delete_emptied(totals_table(grain), TOTALS_KEY, grain, source))
                body.append(_pg_delete_emptied(histogram_table(grain), HIST_KEY, grain, source))
    statements = "".join(f"  {statement};\n" for statement in body)
    return (
        # The planner has no statistics for transition tables and guesses one row for
        # "runs = 0": it then joined the touched keys against a full scan of the
        # histogram once per row (7 s per 5,000-row delete at 100k runs). Index lookups by
        # key keep a batch at tens of milliseconds whatever the rollup's size.
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql"
        f" SET enable_seqscan = off AS $$\nBEGIN\n"
        f"{statements}  RETURN NULL;\nEND\n$$"
    )


def postgres_triggers() -> list[str]:
    """Statement-level triggers reading transition tables: one set-based upsert per
    statement, so COPY and batched deletes pay per statement, not per row."""
    new, old = ("new_rows", 1), ("old_rows", -1)
    events = {
        TRIGGER_NAMES[0]: ("INSERT", "NEW TABLE AS new_rows", [new]),
        TRIGGER_NAMES[1]: ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows", [old, new]),
        TRIGGER_NAMES[2]: ("DELETE", "OLD TABLE AS old_rows", [old]),
    }
    statements = []
    for name, (event, referencing, sources) in events.items():
        statements.append(_pg_function(name, sources))
        statements.append(
            f"CREATE TRIGGER {name} AFTER {event} ON flow_run REFERENCING {referencing}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )
    statements.append(
        f"CREATE FUNCTION {PG_TRUNCATE_TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n  TRUNCATE {', '.join(all_tables())};\n  RETURN NULL;\nEND\n$$"
    )
    statements.append(
        f"CREATE TRIGGER {PG_TRUNCATE_TRIGGER} AFTER TRUNCATE ON flow_run"
        f" FOR EACH STATEMENT EXECUTE FUNCTION {PG_TRUNCATE_TRIGGER}()"
    )
    return statements


def _sqlite_row_change(row: str, sign: int) -> list[str]:
    """Row-trigger statements applying one row (``NEW``/``OLD``) with ``sign``."""
    statements = []
    for grain in GRAINS:
        values = _row_values("sqlite", grain, row)
        totals_key, hist_key = _columns(TOTALS_KEY), _columns(HIST_KEY)
        totals_values = ", ".join(values[c] for c in TOTALS_KEY)
        hist_values = ", ".join(values[c] for c in HIST_KEY)
        statements += [
            f"INSERT INTO {totals_table(grain)} ({totals_key}, runs, duration_count,"
            f" duration_sum) VALUES ({totals_values}, {sign},"
            f" {sign} * ({row}.duration_ms IS NOT NULL), {sign} * coalesce({row}.duration_ms, 0))"
            f" ON CONFLICT ({totals_key}) DO UPDATE SET runs = runs + excluded.runs,"
            " duration_count = duration_count + excluded.duration_count,"
            " duration_sum = duration_sum + excluded.duration_sum",
            f"INSERT INTO {histogram_table(grain)} ({hist_key}, runs) SELECT {hist_values},"
            f" {sign} WHERE {row}.duration_ms IS NOT NULL"
            f" ON CONFLICT ({hist_key}) DO UPDATE SET runs = runs + excluded.runs",
        ]
        if sign < 0:
            statements += [
                f"DELETE FROM {totals_table(grain)} WHERE runs = 0"
                f" AND ({totals_key}) = ({totals_values})",
                f"DELETE FROM {histogram_table(grain)} WHERE runs = 0"
                f" AND ({hist_key}) = ({hist_values})",
            ]
    return statements


def _sqlite_trigger(name: str, event: str, body: list[str], when: str = "") -> str:
    statements = "".join(f"  {statement};\n" for statement in body)
    head = f"CREATE TRIGGER {name} AFTER {event} ON flow_run FOR EACH ROW{when}"
    return f"{head}\nBEGIN\n{statements}END"


def sqlite_triggers() -> list[str]:
    """Row triggers (SQLite has no statement triggers), each an upsert per table."""
    changed = " OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in WATCHED)
    return [
        _sqlite_trigger(TRIGGER_NAMES[0], "INSERT", _sqlite_row_change("NEW", 1)),
        _sqlite_trigger(
            TRIGGER_NAMES[1],
            f"UPDATE OF {', '.join(WATCHED)}",
            _sqlite_row_change("OLD", -1) + _sqlite_row_change("NEW", 1),
            f" WHEN {changed}",
        ),
        _sqlite_trigger(TRIGGER_NAMES[2], "DELETE", _sqlite_row_change("OLD", -1)),
    ]


def create_triggers(dialect: str) -> list[str]:
    return postgres_triggers() if dialect == "postgresql" else sqlite_triggers()


def drop_triggers(dialect: str) -> list[str]:
    if dialect != "postgresql":
        return [f"DROP TRIGGER IF EXISTS {name}" for name in TRIGGER_NAMES]
    names = (*TRIGGER_NAMES, PG_TRUNCATE_TRIGGER)
    return [f"DROP TRIGGER IF EXISTS {name} ON flow_run" for name in names] + [
        f"DROP FUNCTION IF EXISTS {name}()" for name in names
    ]
