"""JSON payloads (inputs, outputs, metadata): strict checks for what we store, tolerant
decoding for what we read.

Python's ``json`` accepts things the rest of the stack cannot carry: lone surrogates
(``"\\udc00"``) that no UTF-8 encoder (psycopg, pydantic, a response) will write, NaN and
Infinity that PostgreSQL refuses, and nesting deep enough to exhaust a serialiser's
recursion limit. Writes are refused at the door (``find_problem``); reads never fail
because another engine stored such a value (``tolerant_loads`` degrades that one value).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

MAX_JSON_DEPTH = 64
# A lone surrogate can only come from a \\uD800-\\uDFFF escape: text decoded from UTF-8
# never holds one, so documents without such an escape skip the walk entirely.
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
UNREADABLE_PREFIX = "<unreadable JSON> "


MAX_INT_DIGITS = 4000  # below Python's int/str conversion limit (4300 digits)


class Unstorable:
    """Stands in for NaN, Infinity, 1e400 or a huge integer while parsing, so the walk
    can name where it was."""

    def __init__(self, why: str) -> None:
        self.why = why


def strict_loads(raw: bytes | str) -> Any:
    """``json.loads`` that keeps NaN, Infinity, overflowing floats (1e400) and integers
    of more than ``MAX_INT_DIGITS`` digits visible as ``Unstorable`` markers for
    ``find_problem``. Raises ``ValueError`` (not JSON) and ``RecursionError`` (nested far
    beyond any cap)."""
    return json.loads(
        raw, parse_constant=_constant, parse_float=_strict_float, parse_int=_strict_int
    )


def _constant(token: str) -> Unstorable:
    return Unstorable(f"{token} is not valid JSON (use a finite number or null)")


def _strict_float(text: str) -> float | Unstorable:
    value = float(text)
    if math.isfinite(value):
        return value
    return Unstorable(f"{printable(text)} overflows a 64-bit float")


def _strict_int(text: str) -> int | Unstorable:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        return Unstorable(f"integer with more than {MAX_INT_DIGITS} digits")
    return int(text)


def has_lone_surrogate(text: str) -> bool:
    return not text.isascii() and LONE_SURROGATE.search(text) is not None


def printable(text: str) -> str:
    """``text`` safe to put in a message: surrogates as ``\\udc00`` escapes, cut short."""
    return text[:60].encode("utf-8", "backslashreplace").decode("utf-8")


def _children(value: Any, path: str) -> Iterator[tuple[str, Any, str | None]]:
    """(path, child, key) for each child of a container (key: the dict key, if any)."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield f"{path}.{printable(str(key))}", child, key
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield f"{path}.{index}", child, None


def find_problem(value: Any, path: str, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """The first reason ``value`` cannot be stored, as ``"<path>: <why>"``; None if fine.

    Iterative, so a deep document cannot exhaust the interpreter's stack here.
    """
    stack: list[tuple[str, Any, int]] = [(path, value, 0)]
    while stack:
        where, item, depth = stack.pop()
        if isinstance(item, Unstorable):
            return f"{where}: {item.why}"
        if isinstance(item, str) and has_lone_surrogate(item):
            return f"{where}: contains a lone surrogate ({printable(item)!s}); not valid Unicode"
        if isinstance(item, dict | list):
            if depth >= max_depth:
                return f"{where}: nested deeper than {max_depth} levels"
            for child_path, child, key in _children(item, where):
                if isinstance(key, str) and has_lone_surrogate(key):
                    return f"{child_path}: the key contains a lone surrogate; not valid Unicode"
                stack.append((child_path, child, depth + 1))
    return None


def tolerant_loads(raw: bytes | str) -> Any:
    """Decode a stored JSON value without ever failing on it.

    NaN/Infinity become null, lone surrogates U+FFFD; text that is not JSON, or nests
    deeper than ``MAX_JSON_DEPTH``, comes back as a string: ``"<unreadable JSON> ..."``
    followed by the stored text. Used as the engines' JSON deserializer.
    """
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes | bytearray) else str(raw)
    try:
        value = json.loads(text, parse_constant=_null, parse_float=_finite_or_null)
    except (ValueError, RecursionError):
        return UNREADABLE_PREFIX + _replace_surrogates(text)
    if _may_be_deep(text) and _too_deep(value):
        return UNREADABLE_PREFIX + _replace_surrogates(text)
    if SURROGATE_ESCAPE.search(text):
        return _clean_surrogates(value)
    return value


def _null(_: str) -> None:
    return None


def _finite_or_null(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None


def _replace_surrogates(text: str) -> str:
    return LONE_SURROGATE.sub("\ufffd", text) if not text.isascii() else text


def _may_be_deep(text: str) -> bool:
    return text.count("[") + text.count("{") > MAX_JSON_DEPTH


def _too_deep(value: Any) -> bool:
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= MAX_JSON_DEPTH:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def _clean_surrogates(value: Any) -> Any:
    """A copy with every lone surrogate (in values and keys) replaced by U+FFFD. Only
    called on values already known to nest less than ``MAX_JSON_DEPTH`` deep."""
    if isinstance(value, str):
        return _replace_surrogates(value)
    if isinstance(value, list):
        return [_clean_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_replace_surrogates(k): _clean_surrogates(v) for k, v in value.items()}
    return value
