"""What the readers select from: the rollup's tables per grain. On PostgreSQL, each table
together with its pending changes (data.rollup.triggers_pg): readers sum every row
they select, so a key's folded row and its pending changes add up to the same counts,
in the same snapshot. The pending tables hold what at most a few statements appended
since the last fold, so the extra rows cost little."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Engine,
    FromClause,
    Integer,
    Table,
    cast,
    inspect,
    null,
    select,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement

from data.models import FlowRun
from data.rollup.schema import Grain, all_tables
from data.rollup.tables import (
    PENDING,
    RollupDay,
    RollupDayHistogram,
    RollupHour,
    RollupHourHistogram,
)
from data.sql_functions import usable_tokens

INT32_MAX = 2**31 - 1
TABLES: dict[Grain, tuple[Table, Table]] = {
    "hour": (RollupHour.__table__, RollupHourHistogram.__table__),  # type: ignore[dict-item]
    "day": (RollupDay.__table__, RollupDayHistogram.__table__),  # type: ignore[dict-item]
}


@cache
def _with_pending(table: Table) -> FromClause:
    pending = PENDING[table.name]
    merged = union_all(select(*table.c), select(*(pending.c[c.name] for c in table.c)))
    return merged.subquery(table.name)


@dataclass(frozen=True)
class Layout:
    """What a database has: the rollup (0003), its pending tables (0006), a total_tokens
    column on flow_run and token sums in the rollup (0007; the column only where
    flow_run is ours or its owner allowed it)."""

    installed: bool
    pending: bool
    run_tokens: bool = False
    token_sums: bool = False
    # The largest duration_ms flow_run can hold: a fork's int4 column on PostgreSQL,
    # kept as it is (issue 17); None where it is 64-bit.
    duration_limit: int | None = None


# Per database URL: the layout and when it was read. Read again after a few seconds, in
# both directions: `flowruns init-db` is picked up, and so is a downgrade, without a
# restart (a read in those seconds may fail once, like any read during a migration).
_LAYOUTS: dict[str, tuple[Layout, float]] = {}
RECHECK_SECONDS = 5.0


def layout(engine: Engine) -> Layout:
    key = engine.url.render_as_string(hide_password=False)
    known = _LAYOUTS.get(key)
    now = time.monotonic()
    if known and now - known[1] < RECHECK_SECONDS:
        return known[0]
    with engine.connect() as conn:
        inspector = inspect(conn)
        tables = set(inspector.get_table_names())
        installed = set(all_tables()) <= tables
        run_types = (
            {c["name"]: c["type"] for c in inspector.get_columns("flow_run")}
            if ("flow_run" in tables)
            else {}
        )
        rollup_columns = (
            {c["name"] for c in inspector.get_columns(TABLES["hour"][0].name)}
            if (installed)
            else set()
        )
    found = Layout(
        installed=installed,
        pending=engine.dialect.name == "postgresql"
        and {table.name for table in PENDING.values()} <= tables,
        run_tokens="total_tokens" in run_types,
        token_sums="token_sum" in rollup_columns,
        duration_limit=_int32(engine, run_types.get("duration_ms")),
    )
    _LAYOUTS[key] = (found, now)
    return found


def _int32(engine: Engine, column_type: Any) -> int | None:
    narrow = isinstance(column_type, Integer) and not isinstance(column_type, BigInteger)
    return INT32_MAX if engine.dialect.name == "postgresql" and narrow else None


def forget_layouts() -> None:
    """Read every database's layout again (after a migration in this process)."""
    _LAYOUTS.clear()


def run_tokens(engine: Engine) -> ColumnElement[Any]:
    """A run's usable token count as the raw-row queries read it; NULL where flow_run has
    no total_tokens column (another application's table)."""
    if layout(engine).run_tokens:
        return usable_tokens(FlowRun.total_tokens)
    return cast(null(), BigInteger)  # typed: PostgreSQL cannot choose a sum(NULL)


def rollup_tables(engine: Engine, grain: Grain) -> tuple[FromClause, FromClause]:
    """(totals, histogram) of ``grain`` as a reader of ``engine`` selects from them."""
    totals, histogram = TABLES[grain]
    if not layout(engine).pending:
        return totals, histogram
    return _with_pending(totals), _with_pending(histogram)
