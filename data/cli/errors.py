"""How the CLI reports a failure: exactly one line on stderr and a documented exit code."""

from __future__ import annotations

import os
import sys

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError

from data.db import DatabaseUnavailable, InvalidDatabaseUrl
from data.errors import Conflict, InvalidQuery, NotFound
from data.settings import SettingsError

EXIT_UNEXPECTED, EXIT_INPUT, EXIT_DATABASE, EXIT_NOT_FOUND, EXIT_CONFLICT = 1, 2, 3, 4, 5
EXIT_INTERRUPTED = 130


class OutputFailed(Exception):
    """Writing the command's output (a file or stdout) failed; the message says where."""


def first_line(text: object, limit: int = 300) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return (lines[0] if lines else "")[:limit]


def _database_detail(exc: SQLAlchemyError) -> str:
    original = getattr(exc, "orig", None)
    return first_line(original if original is not None else exc) or type(exc).__name__


def classify(exc: BaseException, url_source: str) -> tuple[int, str]:
    """(exit code, message) for any exception a command can end with."""
    if isinstance(exc, InvalidDatabaseUrl):
        return EXIT_INPUT, first_line(exc).replace("database URL", url_source, 1)
    if isinstance(exc, SettingsError | InvalidQuery | OutputFailed):
        return EXIT_INPUT, first_line(exc)
    if isinstance(exc, NotFound):
        return EXIT_NOT_FOUND, first_line(exc)
    if isinstance(exc, Conflict | IntegrityError):
        return EXIT_CONFLICT, first_line(exc) if isinstance(exc, Conflict) else (
            f"conflict: {_database_detail(exc)}"
        )
    if isinstance(exc, DataError):
        return EXIT_INPUT, f"the database refused a value: {_database_detail(exc)}"
    if isinstance(exc, DatabaseUnavailable):
        return EXIT_DATABASE, first_line(exc)
    if isinstance(exc, DBAPIError | SQLAlchemyError):
        return EXIT_DATABASE, (
            f"database error: {_database_detail(exc)} (is the URL right? run `flowruns init-db`)"
        )
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED, "interrupted"
    return EXIT_UNEXPECTED, f"unexpected {type(exc).__name__}: {first_line(exc)}"


def report(exc: BaseException, url_source: str) -> int:
    code, message = classify(exc, url_source)
    if isinstance(exc, OutputFailed | BrokenPipeError):
        silence_stdout()
    if isinstance(exc, BrokenPipeError):  # e.g. `flowruns export | head`: not an error
        return 0
    print(f"flowruns: error: {message}", file=sys.stderr)
    sys.stderr.flush()
    return code


def silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush of a dead stdout (closed
    pipe, full disk) does not print a second error at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout without a descriptor (captured)
        pass
