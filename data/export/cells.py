"""What one exported CSV cell holds, in Python: the reference the SQL renderings follow.

The stream (``data.export.stream``) has the database render each cell (``data.export.sql``);
these functions define the same cells for Python callers (the audit export) and render
the stored values the SQLite fast path does not recognise (legacy text, wrong types).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from data.types import as_utc

# A spreadsheet evaluates a cell that starts with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Python's csv module (QUOTE_MINIMAL, "\r\n" rows) quotes a cell holding any of these.
QUOTE_TRIGGERS = (",", '"', "\r", "\n")


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


def quote(text: str) -> str:
    """The cell as csv.writer writes it: quoted (quotes doubled) only when needed."""
    if any(trigger in text for trigger in QUOTE_TRIGGERS):
        return '"' + text.replace('"', '""') + '"'
    return text


def _uuid_cell(value: Any) -> str:
    return str(uuid.UUID(str(value)))


def _time_cell(value: Any) -> str:
    # What UTCDateTime reads: ISO text, naive meaning UTC, an offset converted to UTC.
    return as_utc(datetime.fromisoformat(str(value))).isoformat()


def _json_cell(value: Any) -> str:
    return json_text_cell(None if value is None else str(value))


STORED_VALUE_CELLS: dict[str, Callable[[Any], str]] = {
    "uuid": _uuid_cell,
    "time": _time_cell,
    "json": _json_cell,
    "value": cell,
}


def stored_value_cell(kind: str, value: Any) -> str:
    """The finished (quoted) cell for a stored value of column ``kind``. A value that does
    not parse as its kind (another engine wrote something else) is exported as its text,
    neutralised: one bad value never stops an export."""
    if value is None:
        return ""
    if isinstance(value, bytes):  # stored text, passed as bytes: may not be valid UTF-8
        value = value.decode("utf-8", "replace")
    try:
        text = STORED_VALUE_CELLS[kind](value)
    except (ValueError, TypeError, OverflowError):
        text = neutralise(str(value))
    return quote(text)
