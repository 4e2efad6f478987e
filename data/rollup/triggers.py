"""The rollup's triggers on ``flow_run``, generated from data.rollup.schema's statements:
statement-level with transition tables on PostgreSQL, row-level on SQLite. The delete
triggers can be paused by the deleting transaction itself (see data.rollup.schema)."""

from __future__ import annotations

from collections.abc import Sequence

from data.rollup.schema import (
    GRAINS,
    HIST_KEY,
    PAUSE,
    PG_TRUNCATE_TRIGGER,
    TOTALS_KEY,
    TRIGGER_NAMES,
    WATCHED,
    Grain,
    _changes,
    _columns,
    _insert_histogram,
    _insert_totals,
    _row_values,
    all_tables,
    histogram_table,
    maintenance,
    totals_table,
)

PAUSED = f"EXISTS (SELECT 1 FROM {PAUSE})"


# plpgsql variables holding the keys an upsert brought to 0, one array per key column.
_ZERO_KEYS = {
    "period": "timestamptz",
    "flow_id": "uuid",
    "status": "varchar",
    "trigger_type": "varchar",
    "bucket": "integer",
}


def _pg_upsert_emptying(grain: Grain, hist: bool, sources: Sequence[tuple[str, int]]) -> list[str]:
    """The upsert, then a delete of exactly the keys its RETURNING says reached 0 (a
    statement cannot delete rows it updates itself): no second pass over the batch's
    distinct keys, which cost as much as the histogram upserts."""
    table, key = (histogram_table(grain), HIST_KEY) if hist else (totals_table(grain), TOTALS_KEY)
    insert = _insert_histogram(grain) if hist else _insert_totals(grain)
    returned = ", ".join(f"r.{c}" for c in key)
    arrays = ", ".join(f"array_agg({c})" for c in key)
    into = ", ".join(f"zero_{c}" for c in key)
    match = " AND ".join(f"t.{c} = z.{c}" for c in key)
    return [
        f"{_changes('postgresql', grain, sources)}, up AS ({insert} RETURNING {returned}, r.runs)"
        f" SELECT {arrays} INTO {into} FROM up WHERE runs = 0",
        f"DELETE FROM {table} AS t USING unnest({into}) AS z ({_columns(key)})"
        f" WHERE {match} AND t.runs = 0",
    ]


def _pg_function(name: str, sources: Sequence[tuple[str, int]], pausable: bool) -> str:
    if any(sign < 0 for _, sign in sources):
        body = [
            statement
            for grain in GRAINS
            for hist in (False, True)
            for statement in _pg_upsert_emptying(grain, hist, sources)
        ]
    else:
        body = maintenance("postgresql", sources)
    statements = "".join(f"  {statement};\n" for statement in body)
    declare = "".join(f"  zero_{c} {kind}[];\n" for c, kind in _ZERO_KEYS.items())
    skip = f"  IF {PAUSED} THEN\n    RETURN NULL;\n  END IF;\n" if pausable else ""
    return (
        # The planner has no statistics for transition tables and guesses one row for
        # "runs = 0": it then joined the touched keys against a full scan of the
        # histogram once per row (7 s per 5,000-row delete at 100k runs). Index lookups by
        # key keep a batch at tens of milliseconds whatever the rollup's size.
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql"
        f" SET enable_seqscan = off AS $$\nDECLARE\n{declare}BEGIN\n"
        f"{skip}{statements}  RETURN NULL;\nEND\n$$"
    )


def postgres_triggers(pausable: bool = False) -> list[str]:
    """Statement-level triggers reading transition tables: one set-based upsert per
    statement, so COPY and batched deletes pay per statement, not per row. With
    ``pausable`` the delete trigger skips a transaction holding a pause row."""
    new, old = ("new_rows", 1), ("old_rows", -1)
    events = {
        TRIGGER_NAMES[0]: ("INSERT", "NEW TABLE AS new_rows", [new]),
        TRIGGER_NAMES[1]: ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows", [old, new]),
        TRIGGER_NAMES[2]: ("DELETE", "OLD TABLE AS old_rows", [old]),
    }
    statements = []
    for name, (event, referencing, sources) in events.items():
        statements.append(_pg_function(name, sources, pausable and event == "DELETE"))
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


def sqlite_triggers(pausable: bool = False) -> list[str]:
    """Row triggers (SQLite has no statement triggers), each an upsert per table. With
    ``pausable`` the delete trigger skips a transaction holding a pause row."""
    changed = " OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in WATCHED)
    return [
        _sqlite_trigger(TRIGGER_NAMES[0], "INSERT", _sqlite_row_change("NEW", 1)),
        _sqlite_trigger(
            TRIGGER_NAMES[1],
            f"UPDATE OF {', '.join(WATCHED)}",
            _sqlite_row_change("OLD", -1) + _sqlite_row_change("NEW", 1),
            f" WHEN {changed}",
        ),
        _sqlite_trigger(
            TRIGGER_NAMES[2],
            "DELETE",
            _sqlite_row_change("OLD", -1),
            f" WHEN NOT {PAUSED}" if pausable else "",
        ),
    ]


def create_triggers(dialect: str, pausable: bool = False) -> list[str]:
    if dialect == "postgresql":
        return postgres_triggers(pausable)
    return sqlite_triggers(pausable)


def drop_triggers(dialect: str) -> list[str]:
    if dialect != "postgresql":
        return [f"DROP TRIGGER IF EXISTS {name}" for name in TRIGGER_NAMES]
    names = (*TRIGGER_NAMES, PG_TRUNCATE_TRIGGER)
    return [f"DROP TRIGGER IF EXISTS {name} ON flow_run" for name in names] + [
        f"DROP FUNCTION IF EXISTS {name}()" for name in names
    ]
