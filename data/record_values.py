"""What the embedded recorder stores: every value made storable, never refused.

The API refuses unstorable JSON at the door (``api.strict``); the recorder cannot refuse
anything (it must never break the work it records), so it degrades the offending value
and logs a warning instead: a lone surrogate (psycopg cannot encode it) becomes U+FFFD, a
NUL in text (PostgreSQL text cannot hold it) too; NaN and Infinity (PostgreSQL's JSON
refuses them) become null; a container nested deeper than ``MAX_JSON_DEPTH``, an integer
too long to write, or a value JSON has no type for becomes a marker string naming the
problem. The result passes ``json_values.find_problem`` and is stored the same way on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from data.json_values import LONE_SURROGATE, MAX_INT_DIGITS, MAX_JSON_DEPTH, printable

log = logging.getLogger("data.recorder")

UNSTORABLE_PREFIX = "<unstorable JSON> "
MAX_ABS_INT = 10**MAX_INT_DIGITS
REPLACEMENT = "\ufffd"


def storable_text(value: str | None, path: str, problems: list[str]) -> str | None:
    """``value`` with lone surrogates and NUL characters replaced by U+FFFD."""
    if value is None or (value.isascii() and "\x00" not in value):
        return value
    cleaned = LONE_SURROGATE.sub(REPLACEMENT, value).replace("\x00", REPLACEMENT)
    if cleaned != value:
        problems.append(f"{path}: a lone surrogate or NUL character, replaced by U+FFFD")
    return cleaned


def storable_json(value: Any, path: str, problems: list[str], depth: int = 0) -> Any:
    """A copy of ``value`` that JSON and both databases accept; each change is appended
    to ``problems`` as ``"<path>: <why>"``. Recursion stops at ``MAX_JSON_DEPTH``, so a
    deep (or self-referencing) value cannot exhaust the stack."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return storable_text(value, path, problems)
    if isinstance(value, int):
        if -MAX_ABS_INT < value < MAX_ABS_INT:
            return value
        return _marker(f"integer with more than {MAX_INT_DIGITS} digits", path, problems)
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        problems.append(f"{path}: {value} is not valid JSON, stored as null")
        return None
    if not isinstance(value, dict | list | tuple):
        return _marker(f"{type(value).__name__} is not a JSON type", path, problems)
    if depth >= MAX_JSON_DEPTH:
        return _marker(f"nested deeper than {MAX_JSON_DEPTH} levels", path, problems)
    if isinstance(value, dict):
        cleaned: dict[Any, Any] = {}
        for key, child in value.items():
            name = _storable_key(key, path, problems)
            where = f"{path}.{printable(str(name))}"
            cleaned[name] = storable_json(child, where, problems, depth + 1)
        return cleaned
    return [
        storable_json(child, f"{path}.{index}", problems, depth + 1)
        for index, child in enumerate(value)
    ]


def _storable_key(key: Any, path: str, problems: list[str]) -> Any:
    if isinstance(key, str):
        return storable_text(key, f"{path} (a key)", problems)
    if key is None or isinstance(key, bool | float):
        return key  # json writes these keys as text itself
    if isinstance(key, int) and -MAX_ABS_INT < key < MAX_ABS_INT:
        return key
    problems.append(f"{path}: a {type(key).__name__} key, stored as text")
    return printable(repr(key))


def _marker(why: str, path: str, problems: list[str]) -> str:
    problems.append(f"{path}: {why}")
    return UNSTORABLE_PREFIX + why


def storable_fields(
    what: str, json_fields: dict[str, Any], text_fields: dict[str, str | None]
) -> dict[str, Any]:
    """Every field made storable; one warning for ``what`` (e.g. "start of run <id>")
    naming each value that was degraded."""
    problems: list[str] = []
    values = {name: storable_json(value, name, problems) for name, value in json_fields.items()}
    values |= {name: storable_text(text, name, problems) for name, text in text_fields.items()}
    if problems:
        shown = "; ".join(problems[:10]) + ("; ..." if len(problems) > 10 else "")
        log.warning("recorded the %s with values degraded to be storable: %s", what, shown)
    return values
