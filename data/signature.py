"""Error message signatures: the message with its variable parts masked.

The same ordered rules run as Python (SQLite UDF, tests) and as nested
``regexp_replace`` calls on PostgreSQL, so both group failures identically.
"""

from __future__ import annotations

import re

SIGNATURE_MAX_CHARS = 200

# (pattern, replacement), applied in order. Kept to syntax that Python's ``re`` and
# PostgreSQL's regular expressions read the same way.
SIGNATURE_RULES: tuple[tuple[str, str], ...] = (
    ("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "<id>"),
    ("0x[0-9a-fA-F]+", "<hex>"),
    ("'[^']*'", "<str>"),
    ('"[^"]*"', "<str>"),
    ("[0-9]+", "<n>"),
    ("[ \t\r\n]+", " "),
)

_COMPILED = tuple((re.compile(pattern), repl) for pattern, repl in SIGNATURE_RULES)


def message_signature(message: str | None) -> str | None:
    if message is None:
        return None
    for pattern, replacement in _COMPILED:
        message = pattern.sub(replacement, message)
    # Only spaces, like PostgreSQL's btrim(): str.strip() also drops \x0b, \xa0, ...
    # and the two backends grouped such messages differently.
    return message.strip(" ")[:SIGNATURE_MAX_CHARS]
