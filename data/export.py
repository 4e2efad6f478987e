"""CSV export of a filtered view, streamed in chunks (constant memory at any size)."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from data.errors import InvalidQuery
from data.filters import FlowRunFilter
from data.queries.listing import RUN_FIELDS, iter_runs
from data.types import as_utc

EXPORT_COLUMNS: tuple[str, ...] = RUN_FIELDS
PAYLOAD_FIELDS = frozenset({"inputs", "outputs", "metadata"})
# A spreadsheet evaluates a cell that starts with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Prefix a quote so spreadsheets show the text instead of evaluating it (OWASP)."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bool | int | float):
        return str(value)
    if isinstance(value, dict | list):
        return json_cell(value)
    return neutralise(str(value))


def json_cell(value: Any) -> str:
    """A JSON column as JSON text, also when it holds a bare string or number."""
    if value is None:
        return ""
    return neutralise(json.dumps(value, ensure_ascii=False, sort_keys=True, default=str))


def json_text_cell(text: str | None) -> str:
    """A JSON column read as the database's JSON text; JSON null is an empty cell."""
    if text is None or text == "null":
        return ""
    return neutralise(text)


def validate_columns(columns: Iterable[str] | None) -> tuple[str, ...]:
    if columns is None:
        return EXPORT_COLUMNS
    chosen = tuple(columns)
    unknown = [c for c in chosen if c not in EXPORT_COLUMNS]
    if unknown:
        raise InvalidQuery(
            f"columns: unknown {', '.join(unknown)}; choose from {', '.join(EXPORT_COLUMNS)}"
        )
    if not chosen:
        raise InvalidQuery("columns: choose at least one column")
    return chosen


def iter_csv(
    engine: Engine,
    flt: FlowRunFilter,
    *,
    columns: Iterable[str] | None = None,
    chunk_size: int = 5000,
) -> Iterator[str]:
    """The header, then one CSV text block per chunk of runs (newest first)."""
    chosen = validate_columns(columns)
    with_payloads = bool(PAYLOAD_FIELDS & set(chosen))
    buffer = io.StringIO()
    # CRLF rows (RFC 4180): with "\n" the csv module left a bare "\r" inside a cell
    # unquoted, and readers split the row there.
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(chosen)
    yield buffer.getvalue()
    converters = [json_text_cell if c in PAYLOAD_FIELDS else cell for c in chosen]
    pairs = list(zip(chosen, converters, strict=True))
    chunks = iter_runs(
        engine,
        flt,
        chunk_size=chunk_size,
        include_payloads=with_payloads,
        payloads_as_text=True,
    )
    for rows in chunks:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows([convert(row[c]) for c, convert in pairs] for row in rows)
        yield buffer.getvalue()
