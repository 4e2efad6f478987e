"""The database renders the exported cells.

Per-row Python (result rows, datetime/UUID objects, the formula guard, csv.writer) was the
export's cost: bench/results/export.md has the profile. Here the database formats the
ids and times and applies the formula guard. The cells equal ``data.export.cells``
(csv.writer with QUOTE_MINIMAL and CRLF rows); tests compare both backends against an
independent csv.writer rendering.

SQLite renders each row as one finished CSV line (quoting and joining too; ``printf``
writes a NULL cell as empty). Values in the canonical stored form take a pure-SQL path;
anything else (legacy text, a wrong type written by another engine) goes to
``stored_value_cell`` through a Python SQL function, so odd rows cost Python time and
never break the export.
PostgreSQL renders cells only: COPY joins and quotes them (``data.export.pgcopy``). The
column types are strict, so SQL alone renders every value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    LargeBinary,
    String,
    Text,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import CTE

from data.export.cells import FORMULA_PREFIXES, QUOTE_TRIGGERS, stored_value_cell
from data.models import Flow, FlowRun, User

Expr = ColumnElement[Any]
FALLBACK_FUNCTION = "flowruns_export_cell"
# SQLite GLOB patterns: a cell needing quotes; a cell a spreadsheet would evaluate (a
# leading "-" in a class is literal); a time as UTCDateTime stores it (naive UTC, µs).
NEEDS_QUOTES_GLOB = "*[" + "".join(QUOTE_TRIGGERS) + "]*"
FORMULA_GLOB = "[-=+@\t\r]*"
STORED_TIME_GLOB = (
    "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]." + ("[0-9]" * 6)
)

ABSENT = "_absent"
# Column name -> (stored column, kind): kind picks the rendering below.
COLUMN_SOURCES: dict[str, tuple[Any, str]] = {
    "id": (FlowRun.id, "uuid"),
    "flow_id": (FlowRun.flow_id, "uuid"),
    "flow_name": (Flow.name, "text"),
    "user_id": (FlowRun.user_id, "uuid"),
    "username": (User.username, "text"),
    "session_id": (FlowRun.session_id, "text"),
    "status": (FlowRun.status, "text"),
    "trigger_type": (FlowRun.trigger_type, "text"),
    "started_at": (FlowRun.started_at, "time"),
    "ended_at": (FlowRun.ended_at, "time"),
    "duration_ms": (FlowRun.duration_ms, "int"),
    "components_executed": (FlowRun.components_executed, "int"),
    "error_type": (FlowRun.error_type, "text"),
    "error_message": (FlowRun.error_message, "text"),
    "inputs": (FlowRun.inputs, "json"),
    "outputs": (FlowRun.outputs, "json"),
    "metadata": (FlowRun.metadata_, "json"),
    "total_tokens": (FlowRun.total_tokens, "int"),
    # total_tokens where flow_run lacks the column (another application's table).
    ABSENT: (null(), "int"),
}


def text(value: str) -> Expr:
    return literal(value, String)


def as_text(column: Any) -> Expr:
    """The stored value, without SQLAlchemy's type processing on either side."""
    return type_coerce(column, String)


def quoted(value: Expr) -> Expr:
    return text('"') + func.replace(value, text('"'), text('""')) + text('"')


# ---- SQLite ---------------------------------------------------------------------------


def _glob(value: Expr, pattern: str) -> Expr:
    return value.op("GLOB", is_comparison=True)(text(pattern))


def _is_text(value: Expr) -> Expr:
    return func.typeof(value) == text("text")


def _fallback(kind: str, value: Expr) -> Expr:
    # Text goes as bytes: the function then also reads text that is not valid UTF-8.
    argument = case((_is_text(value), cast(value, LargeBinary)), else_=value)
    function: Callable[..., Expr] = getattr(func, FALLBACK_FUNCTION)
    return function(text(kind), argument)


def _sqlite_uuid(value: Expr) -> Expr:
    # Not a full hex check (a GLOB over 32 characters costs more than the rest of the
    # row): any 32 characters that cannot break the CSV or start a formula are dashed.
    canonical = and_(
        _is_text(value),
        func.length(value) == 32,
        ~or_(*(func.instr(value, text(c)) > 0 for c in QUOTE_TRIGGERS), _glob(value, FORMULA_GLOB)),
    )
    dashed = func.printf(
        text("%.8s-%.4s-%.4s-%.4s-%s"),
        value,
        *(func.substr(value, start) for start in (9, 13, 17, 21)),
    )
    return case((canonical, dashed), (value.is_(None), null()), else_=_fallback("uuid", value))


def _sqlite_time(value: Expr) -> Expr:
    # "2024-03-04 05:06:07.000000" -> "2024-03-04T05:06:07+00:00": isoformat() leaves out
    # a zero fraction.
    rest = func.substr(value, 12)
    iso = case(
        (
            func.substr(value, 21) == text("000000"),
            func.printf(text("%.10sT%.8s+00:00"), value, rest),
        ),
        else_=func.printf(text("%.10sT%s+00:00"), value, rest),
    )
    return case(
        (_glob(value, STORED_TIME_GLOB), iso),
        (value.is_(None), null()),
        else_=_fallback("time", value),
    )


def _sqlite_int(value: Expr) -> Expr:
    plain = or_(func.typeof(value) == text("integer"), value.is_(None))
    return case((plain, value), else_=_fallback("value", value))


def _sqlite_text(value: Expr) -> Expr:
    plain = and_(_is_text(value), ~or_(_glob(value, NEEDS_QUOTES_GLOB), _glob(value, FORMULA_GLOB)))
    return case((plain, value), (value.is_(None), null()), else_=_fallback("value", value))


def _sqlite_json(value: Expr) -> Expr:
    return case(
        (or_(value.is_(None), value == text("null")), null()),
        (or_(~_is_text(value), _glob(value, FORMULA_GLOB)), _fallback("json", value)),
        (_glob(value, NEEDS_QUOTES_GLOB), quoted(value)),
        else_=value,
    )


SQLITE_CELLS: dict[str, Callable[[Expr], Expr]] = {
    "uuid": _sqlite_uuid,
    "time": _sqlite_time,
    "int": _sqlite_int,
    "text": _sqlite_text,
    "json": _sqlite_json,
}


def register_sqlite_fallback(dbapi_connection: Any) -> None:
    dbapi_connection.create_function(FALLBACK_FUNCTION, 2, stored_value_cell, deterministic=True)


# ---- PostgreSQL -----------------------------------------------------------------------
# COPY ... (FORMAT csv) writes the cells (``data.export.pgcopy``): it quotes a cell holding
# a comma, a quote, CR or LF and doubles quotes, as csv.writer does, so the SQL only
# renders each value and applies the formula guard. uuid and integer columns go out as
# COPY writes them (lower-case dashed ids, plain digits): what ``cell`` makes of them.


def _pg_formula(value: Expr) -> Expr:
    return func.ascii(value).in_([literal(ord(c)) for c in FORMULA_PREFIXES])


def _pg_text(value: Expr) -> Expr:
    # COPY writes an empty text as "" (to tell it from NULL); csv.writer writes nothing.
    return case((_pg_formula(value), text("'") + value), else_=func.nullif(value, text("")))


def _pg_time(value: Expr) -> Expr:
    # One to_char; isoformat() leaves out a zero fraction, and ".000000+" can only be
    # the end of this text.
    utc = func.timezone(text("UTC"), value)
    iso = func.to_char(utc, text('YYYY-MM-DD"T"HH24:MI:SS.US')) + text("+00:00")
    return func.replace(iso, text(".000000+"), text("+"))


def _pg_as_is(value: Expr) -> Expr:
    return value


def _pg_json(value: Expr) -> Expr:
    # JSON text is never empty; JSON null is an empty cell.
    json_text = cast(value, Text)
    return case(
        (json_text == text("null"), null()),
        (_pg_formula(json_text), text("'") + json_text),
        else_=json_text,
    )


PG_CELLS: dict[str, Callable[[Expr], Expr]] = {
    "uuid": _pg_as_is,
    "time": _pg_time,
    "int": _pg_as_is,
    "text": _pg_text,
    "json": _pg_json,
}


def pg_cells(columns: tuple[str, ...]) -> list[Expr]:
    """The cells of ``columns`` for COPY (FORMAT csv), which joins and quotes them."""
    cells = [PG_CELLS[COLUMN_SOURCES[name][1]](COLUMN_SOURCES[name][0]) for name in columns]
    if len(cells) == 1:
        # csv.writer writes a row of one empty cell as "", as COPY writes an empty text.
        cells = [func.coalesce(cast(cells[0], Text), text(""))]
    return cells


# ---- SQLite lines ---------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    """SQLite: flows and users with their cells rendered once per chunk (materialised)
    instead of once per run: they are few, and their id and name cells cost a fifth of
    a line. LEFT JOINed, so that SQLite's planner never makes them the outer loop (as an
    inner join, with sqlite_stat1 present, it sorted every remaining run per chunk)."""

    flows: CTE
    users: CTE


def rendered_tables() -> Rendered:
    def table(id_column: Any, name_column: Any, label: str) -> CTE:
        query = select(
            id_column.label("id"),
            _sqlite_uuid(as_text(id_column)).label("id_cell"),
            _sqlite_text(as_text(name_column)).label("name_cell"),
        )
        return query.cte(label).prefix_with("MATERIALIZED")

    return Rendered(
        flows=table(Flow.id, Flow.name, "export_flow"),
        users=table(User.id, User.username, "export_user"),
    )


def _joined_cells(rendered: Rendered | None) -> dict[str, Expr]:
    """The flow and user cells: pre-rendered when ``rendered``, else rendered per run
    (from the joined ``flow`` and ``user`` tables)."""
    run_user_id = _sqlite_uuid(as_text(FlowRun.user_id))
    if rendered is None:
        return {
            "flow_id": _sqlite_uuid(as_text(FlowRun.flow_id)),
            "flow_name": _sqlite_text(as_text(Flow.name)),
            "user_id": run_user_id,
            "username": _sqlite_text(as_text(User.username)),
        }
    return {
        "flow_id": rendered.flows.c.id_cell,
        "flow_name": rendered.flows.c.name_cell,
        # A user id whose user row is missing (written by another engine) is still shown.
        "user_id": func.coalesce(rendered.users.c.id_cell, run_user_id),
        "username": rendered.users.c.name_cell,
    }


def csv_line(columns: tuple[str, ...], rendered: Rendered | None = None) -> Expr:
    """SQLite: one expression, the row's cells for ``columns`` joined by commas, ending
    in CRLF."""
    joined = _joined_cells(rendered)
    cells = [
        joined[name]
        if name in joined
        else SQLITE_CELLS[COLUMN_SOURCES[name][1]](as_text(COLUMN_SOURCES[name][0]))
        for name in columns
    ]
    if len(cells) == 1:
        # csv.writer writes a row of one empty cell as "" (a blank line would be no row).
        cells = [func.coalesce(func.nullif(cells[0], text("")), text('""'))]
    template = text(",".join(["%s"] * len(cells)) + "\r\n")
    # printf writes NULL as an empty string.
    return func.printf(template, *cells)
