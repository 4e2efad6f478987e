"""Errors the data layer raises for bad input; every entry point maps them to a clear message."""


class InvalidQuery(ValueError):
    """A filter, sort key, cursor, size or id the caller supplied is not acceptable."""


class NotFound(LookupError):
    """The requested run (or other object) does not exist or is out of the caller's scope."""


class Conflict(RuntimeError):
    """The request contradicts the current state (e.g. finishing a run that already finished)."""
