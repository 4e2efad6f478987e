"""PostgreSQL's triggers on ``flow_run``: statement-level, reading transition tables, so a
COPY block or a 5,000-run delete batch costs a few set-based statements, not one per run.

From migration 0006 they never update the rollup's shared rows themselves. Two writers
that each inserted a success and a failure of one flow and hour, in opposite orders,
each held one rollup row and waited for the other's: a deadlock that failed a writer's
transaction, Langflow's included (issue 16, case 5: 35 in 575 transactions). Ordering
the upserts inside a statement cannot help across statements. Instead each statement
appends its signed changes to the ``*_pending`` tables (an append takes no lock another
writer waits for) and then, if no other transaction holds the compaction lock
(``pg_try_advisory_xact_lock``: it never waits), folds every pending change it can see
into the rollup and deletes the rows that reached zero. Only the lock's holder takes row
locks on the rollup, so no two writers ever wait for each other there. Readers add the
pending rows to the rollup's (data.rollup.pending).
"""

from __future__ import annotations

from collections.abc import Sequence

from data.rollup.schema import (
    GRAINS,
    HIST_KEY,
    PAUSE,
    PG_TRUNCATE_TRIGGER,
    TOTALS_KEY,
    TRIGGER_NAMES,
    Grain,
    Tokens,
    _changes,
    _columns,
    all_tables,
    histogram_table,
    maintenance,
    sums,
    totals,
    totals_table,
)

PAUSED = f"EXISTS (SELECT 1 FROM {PAUSE})"
COMPACT = "flowrun_rollup_compact"
# The compaction lock's key (an arbitrary constant of this application's).
COMPACT_LOCK = 7_466_853_214
# plpgsql variables holding the keys an upsert brought to 0, one array per key column.
_ZERO_KEYS = {
    "period": "timestamptz",
    "flow_id": "uuid",
    "status": "varchar",
    "trigger_type": "varchar",
    "bucket": "integer",
}


def pending_table(table: str) -> str:
    return f"{table}_pending"


def _append_pending(
    grain: Grain, hist: bool, sources: Sequence[tuple[str, int]], tokens: Tokens
) -> str:
    """The statement's signed changes, grouped by key, appended to a pending table."""
    if hist:
        key = _columns(HIST_KEY)
        into = pending_table(histogram_table(grain))
        select = (
            f"SELECT {key}, sum(sign) FROM changes WHERE duration_ms IS NOT NULL"
            f" GROUP BY {key} HAVING sum(sign) <> 0"
        )
        columns = f"{key}, runs"
    else:
        key = _columns(TOTALS_KEY)
        into = pending_table(totals_table(grain))
        select = f"SELECT {key}, {totals(tokens)} FROM changes GROUP BY {key}"
        columns = f"{key}, {_columns(sums(tokens))}"
    changes = _changes("postgresql", grain, sources, tokens)
    return f"{changes} INSERT INTO {into} ({columns}) {select}"


def _fold(grain: Grain, hist: bool, tokens: Tokens) -> list[str]:
    """Move a pending table's rows into the rollup (one upsert per key, in key order),
    then delete exactly the keys that upsert brought to 0 (a statement cannot delete the
    rows it updates itself)."""
    table, key = (histogram_table(grain), HIST_KEY) if hist else (totals_table(grain), TOTALS_KEY)
    held = ("runs",) if hist else sums(tokens)
    columns = _columns(key)
    upsert = (
        f"INSERT INTO {table} AS r ({columns}, {', '.join(held)})"
        f" SELECT {columns}, {', '.join(f'sum({c})' for c in held)} FROM moved"
        f" GROUP BY {columns} HAVING {' OR '.join(f'sum({c}) <> 0' for c in held)}"
        f" ORDER BY {columns} ON CONFLICT ({columns}) DO UPDATE SET"
        f" {', '.join(f'{c} = r.{c} + excluded.{c}' for c in held)}"
    )
    returned = ", ".join(f"r.{c}" for c in key)
    arrays = ", ".join(f"array_agg({c})" for c in key)
    into = ", ".join(f"zero_{c}" for c in key)
    match = " AND ".join(f"t.{c} = z.{c}" for c in key)
    return [
        f"WITH moved AS (DELETE FROM {pending_table(table)} RETURNING *),"
        f" up AS ({upsert} RETURNING {returned}, r.runs)"
        f" SELECT {arrays} INTO {into} FROM up WHERE runs = 0",
        f"DELETE FROM {table} AS t USING unnest({into}) AS z ({columns})"
        f" WHERE {match} AND t.runs = 0",
    ]


def _plpgsql(name: str, returns: str, body: list[str], prelude: str = "") -> str:
    statements = "".join(f"  {statement};\n" for statement in body)
    declare = "".join(f"  zero_{c} {kind}[];\n" for c, kind in _ZERO_KEYS.items())
    end = "  RETURN NULL;\n" if returns == "trigger" else ""
    # The planner has no statistics for transition tables and guesses one row for
    # "runs = 0": it then joined the touched keys against a full scan of the
    # histogram once per row (7 s per 5,000-row delete at 100k runs). Index lookups by
    # key keep a batch at tens of milliseconds whatever the rollup's size. Disabled scans
    # cost 1e10 in the planner's units, far above jit_above_cost: where PostgreSQL has JIT,
    # every statement was compiled (about 200 ms each, a second per run written).
    return (
        f"CREATE FUNCTION {name}() RETURNS {returns} LANGUAGE plpgsql"
        f" SET enable_seqscan = off SET jit = off AS $$\nDECLARE\n{declare}BEGIN\n"
        f"{prelude}{statements}{end}END\n$$"
    )


def compact_function(tokens: Tokens = "counted") -> str:
    """``flowrun_rollup_compact()``: fold every visible pending change into the rollup.
    Callers hold the compaction lock (the triggers, a downgrade)."""
    body = [s for grain in GRAINS for hist in (False, True) for s in _fold(grain, hist, tokens)]
    return _plpgsql(COMPACT, "void", body)


def _trigger_function(
    name: str, sources: Sequence[tuple[str, int]], pausable: bool, tokens: Tokens
) -> str:
    body = [_append_pending(g, hist, sources, tokens) for g in GRAINS for hist in (False, True)]
    body.append(f"IF pg_try_advisory_xact_lock({COMPACT_LOCK}) THEN PERFORM {COMPACT}(); END IF")
    skip = f"  IF {PAUSED} THEN\n    RETURN NULL;\n  END IF;\n" if pausable else ""
    return _plpgsql(name, "trigger", body, skip)


def _upserting_function(
    name: str, sources: Sequence[tuple[str, int]], pausable: bool, tokens: Tokens
) -> str:
    """Before 0006 (a downgrade): upserts into the rollup in the writer's statement."""
    body = maintenance("postgresql", sources, tokens)
    skip = f"  IF {PAUSED} THEN\n    RETURN NULL;\n  END IF;\n" if pausable else ""
    return _plpgsql(name, "trigger", body, skip)


def postgres_triggers(
    pausable: bool = False, pending: bool = False, tokens: Tokens = "counted"
) -> list[str]:
    """The statement triggers; ``pausable``: the delete trigger skips a transaction holding
    a pause row (0005); ``pending``: changes go through the pending tables (0006);
    ``tokens``: flow_run has a total_tokens column (0007)."""
    new, old = ("new_rows", 1), ("old_rows", -1)
    events = {
        TRIGGER_NAMES[0]: ("INSERT", "NEW TABLE AS new_rows", [new]),
        TRIGGER_NAMES[1]: ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows", [old, new]),
        TRIGGER_NAMES[2]: ("DELETE", "OLD TABLE AS old_rows", [old]),
    }
    make = _trigger_function if pending else _upserting_function
    statements = [compact_function(tokens)] if pending else []
    for name, (event, referencing, sources) in events.items():
        statements.append(make(name, sources, pausable and event == "DELETE", tokens))
        statements.append(
            f"CREATE TRIGGER {name} AFTER {event} ON flow_run REFERENCING {referencing}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )
    emptied = all_tables() + ([pending_table(t) for t in all_tables()] if pending else [])
    statements.append(
        f"CREATE FUNCTION {PG_TRUNCATE_TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n  TRUNCATE {', '.join(emptied)};\n  RETURN NULL;\nEND\n$$"
    )
    statements.append(
        f"CREATE TRIGGER {PG_TRUNCATE_TRIGGER} AFTER TRUNCATE ON flow_run"
        f" FOR EACH STATEMENT EXECUTE FUNCTION {PG_TRUNCATE_TRIGGER}()"
    )
    return statements


def drop_postgres_triggers() -> list[str]:
    names = (*TRIGGER_NAMES, PG_TRUNCATE_TRIGGER)
    return (
        [f"DROP TRIGGER IF EXISTS {name} ON flow_run" for name in names]
        + [f"DROP FUNCTION IF EXISTS {name}()" for name in names]
        + [f"DROP FUNCTION IF EXISTS {COMPACT}()"]
    )
