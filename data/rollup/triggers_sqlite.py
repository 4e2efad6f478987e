"""SQLite's triggers on ``flow_run``: the rollup's row triggers (SQLite has no statement
triggers), each an upsert per rollup table, and, from migration 0006, two guards against
writes other engines make:

- ``INSERT OR REPLACE`` / ``REPLACE INTO`` / ``UPDATE OR REPLACE`` remove the row they
  replace without firing delete triggers (unless the writer set
  ``PRAGMA recursive_triggers``), so the old run stayed counted (issue 16, case 1). A
  BEFORE trigger copies the row about to be replaced into ``flowrun_rollup_replaced``;
  the AFTER trigger takes that copy out of the rollup. A delete trigger that does fire
  (recursive triggers on) removes the copy first, so it is never taken out twice.
- Times written in another form are rewritten into the canonical one
  (data.canonical_time).

No WITH clause anywhere: SQLite does not allow one inside a trigger.
"""

from __future__ import annotations

from data.canonical_time import TIME_COLUMNS, any_needs_rewrite_sql, rewrite_statement
from data.rollup.schema import (
    GRAINS,
    HIST_KEY,
    PAUSE,
    TOTALS_KEY,
    TRIGGER_NAMES,
    WATCHED,
    Tokens,
    _columns,
    _row_values,
    histogram_table,
    sums,
    totals_table,
    usable,
)

PAUSED = f"EXISTS (SELECT 1 FROM {PAUSE})"
REPLACED = "flowrun_rollup_replaced"
GUARD_TRIGGERS = (
    "flowrun_rollup_replace_before_insert",
    "flowrun_rollup_replace_after_insert",
    "flowrun_rollup_replace_before_update",
    "flowrun_rollup_replace_after_update",
    "flowrun_canonical_time_insert",
    "flowrun_canonical_time_update",
)


def watched(tokens: Tokens) -> tuple[str, ...]:
    """The columns a change of which moves a run in the rollup."""
    return (*WATCHED, "total_tokens") if tokens == "counted" else WATCHED


def _row_change(row: str, sign: int, tokens: Tokens, source: str = "") -> list[str]:
    """Statements applying one row with ``sign``: ``NEW``/``OLD``, or (``source``) the
    row of that table (aliased ``row``) whose id is ``NEW.id``."""
    found = f" FROM {source} AS {row} WHERE {row}.id = NEW.id" if source else " WHERE true"
    statements = []
    for grain in GRAINS:
        values = _row_values("sqlite", grain, row, tokens)
        duration, counted = usable("sqlite", row), values["tokens"]
        totals_key, hist_key = _columns(TOTALS_KEY), _columns(HIST_KEY)
        totals_values = ", ".join(values[c] for c in TOTALS_KEY)
        hist_values = ", ".join(values[c] for c in HIST_KEY)
        values_of_sums = [
            f"{sign}",
            f"{sign} * ({duration} IS NOT NULL)",
            f"{sign} * coalesce({duration}, 0)",
            f"{sign} * ({counted} IS NOT NULL)",
            f"{sign} * coalesce({counted}, 0)",
        ][: len(sums(tokens))]
        statements += [
            # "WHERE" before ON CONFLICT: without it SQLite reads ON as a join's.
            f"INSERT INTO {totals_table(grain)} ({totals_key}, {_columns(sums(tokens))})"
            f" SELECT {totals_values}, {', '.join(values_of_sums)}{found}"
            f" ON CONFLICT ({totals_key}) DO UPDATE SET "
            + ", ".join(f"{c} = {c} + excluded.{c}" for c in sums(tokens)),
            f"INSERT INTO {histogram_table(grain)} ({hist_key}, runs) SELECT {hist_values},"
            f" {sign}{found} AND {duration} IS NOT NULL"
            f" ON CONFLICT ({hist_key}) DO UPDATE SET runs = runs + excluded.runs",
        ]
        if sign < 0:
            for table, key, key_values in (
                (totals_table(grain), totals_key, totals_values),
                (histogram_table(grain), hist_key, hist_values),
            ):
                statements.append(
                    f"DELETE FROM {table} WHERE runs = 0 AND ({key}) IN"
                    f" (SELECT {key_values}{found})"
                )
    return statements


def _trigger(name: str, event: str, body: list[str], when: str = "") -> str:
    statements = "".join(f"  {statement};\n" for statement in body)
    head = f"CREATE TRIGGER {name} {event} ON flow_run FOR EACH ROW{when}"
    return f"{head}\nBEGIN\n{statements}END"


def _replace_guards(tokens: Tokens) -> list[str]:
    columns = _columns(("id", *watched(tokens)))
    keep = [
        f"DELETE FROM {REPLACED} WHERE id = NEW.id",
        f"INSERT INTO {REPLACED} ({columns}) SELECT {columns} FROM flow_run WHERE id = NEW.id",
    ]
    # Every row found here is the replaced one, or left over by an INSERT OR IGNORE that
    # did not insert (its AFTER trigger never ran): either way, gone after this.
    take_out = [*_row_change("r", -1, tokens, REPLACED), f"DELETE FROM {REPLACED}"]
    left = f" WHEN EXISTS (SELECT 1 FROM {REPLACED})"
    return [
        _trigger(
            GUARD_TRIGGERS[0],
            "BEFORE INSERT",
            keep,
            " WHEN EXISTS (SELECT 1 FROM flow_run WHERE id = NEW.id)",
        ),
        _trigger(GUARD_TRIGGERS[1], "AFTER INSERT", take_out, left),
        _trigger(GUARD_TRIGGERS[2], "BEFORE UPDATE OF id", keep, " WHEN NEW.id IS NOT OLD.id"),
        _trigger(GUARD_TRIGGERS[3], "AFTER UPDATE OF id", take_out, left),
    ]


def _time_guards() -> list[str]:
    rewrite = [rewrite_statement("id = NEW.id")]
    when = f" WHEN {any_needs_rewrite_sql('NEW')}"
    return [
        _trigger(GUARD_TRIGGERS[4], "AFTER INSERT", rewrite, when),
        _trigger(GUARD_TRIGGERS[5], f"AFTER UPDATE OF {', '.join(TIME_COLUMNS)}", rewrite, when),
    ]


def sqlite_triggers(
    pausable: bool = False, guarded: bool = False, tokens: Tokens = "counted"
) -> list[str]:
    """The rollup's row triggers. With ``pausable`` the delete trigger skips a transaction
    holding a pause row (0005); with ``guarded``, the guards of 0006 as well; ``tokens``:
    flow_run has a total_tokens column (0007)."""
    columns = watched(tokens)
    changed = " OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in columns)
    on_delete = _row_change("OLD", -1, tokens)
    if guarded:
        on_delete = [f"DELETE FROM {REPLACED} WHERE id = OLD.id", *on_delete]
    triggers = [
        _trigger(TRIGGER_NAMES[0], "AFTER INSERT", _row_change("NEW", 1, tokens)),
        _trigger(
            TRIGGER_NAMES[1],
            f"AFTER UPDATE OF {', '.join(columns)}",
            _row_change("OLD", -1, tokens) + _row_change("NEW", 1, tokens),
            f" WHEN {changed}",
        ),
        _trigger(
            TRIGGER_NAMES[2],
            "AFTER DELETE",
            on_delete,
            f" WHEN NOT {PAUSED}" if pausable else "",
        ),
    ]
    return triggers + (_replace_guards(tokens) + _time_guards() if guarded else [])


def drop_sqlite_triggers() -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {name}" for name in (*TRIGGER_NAMES, *GUARD_TRIGGERS)]
