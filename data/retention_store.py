"""Reading the stored retention policy strictly: a policy is applied only when every
value in the row reads back exactly as the Retention page wrote it.

A loose read once pruned what nobody asked for: ``{"failure": 1.5}`` was taken as 1 day,
a duplicate key ``{"success": 1, "success": 2}`` silently kept the last one, ``true``
counted as 1 and an unknown key was ignored. Here each of those is refused with one line
naming the field and the value, and the caller prunes nothing (``InvalidStoredPolicy``).
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from data.errors import InvalidQuery
from data.models import FlowRunStatus

MAX_DAYS = 36_500  # 100 years: more is a typo, and timedelta overflows past ~2.7 million
MAX_RUNS = 2**31 - 1
STORABLE_STATUSES = FlowRunStatus.finished()
SHOWN_CHARS = 60


class InvalidStoredPolicy(InvalidQuery):
    """The stored policy cannot be read exactly: nothing may be pruned with it."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(
            f"stored retention policy is invalid: {problem}; nothing was pruned (fix it on "
            "the Retention page, or forget it there to use the FLOWRUNS_RETENTION_* settings)"
        )


def _refuse(problem: str) -> NoReturn:
    raise InvalidStoredPolicy(problem)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "..."


def whole_number(name: str, value: Any, high: int) -> int:
    """``value`` if it is an exact integer (never a bool, a float or text) in [1, high]."""
    if type(value) is not int:
        _refuse(f"{name}: {_shown(value)} is not a whole number")
    if not 1 <= value <= high:
        _refuse(f"{name}: {value:,} is not between 1 and {high:,}")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            _refuse(f"status_max_age_days: the key {_shown(key)} appears more than once")
        seen[key] = value
    return seen


def _no_float(text: str) -> NoReturn:
    _refuse(f"status_max_age_days: {_shown(text)} is not a whole number")


def _no_constant(text: str) -> NoReturn:
    _refuse(f"status_max_age_days: {text} is not a number of days")


def _json_object(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, str):
        _refuse(f"status_max_age_days: {_shown(raw)} is not JSON text")
    try:
        value = json.loads(
            raw,
            object_pairs_hook=_no_duplicates,
            parse_float=_no_float,
            parse_constant=_no_constant,
        )
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, huge integers
        if isinstance(exc, InvalidStoredPolicy):
            raise
        _refuse(f"status_max_age_days: not valid JSON ({str(exc)[:SHOWN_CHARS]})")
    if not isinstance(value, dict):
        _refuse(f"status_max_age_days: {_shown(raw)} is not a JSON object")
    return value


def read_status_ages(raw: Any) -> dict[str, int]:
    """The per-status ages from their stored JSON text: an object whose keys are finished
    statuses (as the Retention page writes them) and whose values are whole days."""
    ages = {}
    for status, days in _json_object(raw).items():
        if status not in STORABLE_STATUSES:
            known = ", ".join(STORABLE_STATUSES)
            _refuse(f"status_max_age_days: unknown key {_shown(status)} (allowed: {known})")
        ages[status] = whole_number(f"status_max_age_days.{status}", days, MAX_DAYS)
    return ages


def read_stored_values(
    max_age_days: Any, max_runs_per_flow: Any, status_max_age_days: Any
) -> tuple[int | None, int | None, dict[str, int]]:
    """The stored row's three values, each checked exactly (``InvalidStoredPolicy``)."""
    age = None if max_age_days is None else whole_number("max_age_days", max_age_days, MAX_DAYS)
    runs = (
        None
        if max_runs_per_flow is None
        else whole_number("max_runs_per_flow", max_runs_per_flow, MAX_RUNS)
    )
    return age, runs, read_status_ages(status_max_age_days)
