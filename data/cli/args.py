"""Filter options shared by every CLI command that selects runs."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from data.errors import InvalidQuery
from data.filters import FlowRunFilter
from data.models import utcnow
from data.statuses import KNOWN_STATUSES, check_statuses

MAX_DAYS = 36_500


def bounded(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number in [low, high], else a message saying which."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low:,} and {high:,}")
        return value

    parse.__name__ = "whole number"  # argparse names the type in its messages
    return parse


def seconds(low: float, high: float) -> Callable[[str], float]:
    """An argparse type: a number of seconds in [low, high], else a message saying which."""

    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a number") from None
        if not low <= value <= high:  # NaN fails both
            raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g} seconds")
        return value

    parse.__name__ = "number of seconds"
    return parse


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("filters")
    group.add_argument(
        "--flow", action="append", default=[], metavar="FLOW_ID", help="flow id (repeatable)"
    )
    group.add_argument(
        "--status",
        action="append",
        default=[],
        help=f"{', '.join(KNOWN_STATUSES)} (any case), or another status present in the "
        "data (repeatable)",
    )
    group.add_argument(
        "--trigger",
        action="append",
        default=[],
        help="trigger type, e.g. api, webhook, manual, schedule (repeatable)",
    )
    group.add_argument("--user-id", help="only runs of this user id")
    group.add_argument("--session", help="only runs of this session id")
    group.add_argument("--since", help="started at or after (ISO date or datetime; UTC if no zone)")
    group.add_argument("--until", help="started before (ISO date or datetime; UTC if no zone)")
    group.add_argument(
        "--days",
        type=bounded(1, MAX_DAYS),
        help="the last N days (instead of --since/--until)",
    )
    group.add_argument("--error-contains", help="text in the error message (case-insensitive)")
    group.add_argument("--error-type", action="append", default=[], help="error type (repeatable)")


def filter_from_args(args: argparse.Namespace, engine: Engine) -> FlowRunFilter:
    """Raises InvalidQuery (one line, naming the option) for bad values; a status must be
    known or present in the data (``data.statuses``)."""
    try:
        statuses = check_statuses(engine, args.status)
    except InvalidQuery as exc:
        raise InvalidQuery(f"--{exc}") from None  # "status: ..." -> "--status: ..."
    values: dict[str, Any] = {
        "flow_ids": tuple(args.flow),
        "statuses": statuses,
        "trigger_types": tuple(args.trigger),
        "user_id": args.user_id,
        "session_id": args.session,
        "started_after": args.since,
        "started_before": args.until,
        "error_contains": args.error_contains,
        "error_types": tuple(args.error_type),
    }
    if args.days is not None:
        if args.since or args.until:
            raise InvalidQuery("--days: use either --days or --since/--until")
        values["started_after"] = _days_ago(args.days)
        values["started_before"] = utcnow() + timedelta(seconds=1)
    try:
        return FlowRunFilter.build(**values)
    except InvalidQuery as exc:
        raise InvalidQuery(_option_names(str(exc))) from None


# Field names in validation messages, as the options the user typed.
OPTION_FOR_FIELD = {
    "flow_ids": "--flow",
    "statuses": "--status",
    "trigger_types": "--trigger",
    "user_id": "--user-id",
    "session_id": "--session",
    "started_after": "--since",
    "started_before": "--until",
    "error_contains": "--error-contains",
    "error_types": "--error-type",
}

FIELD_NAMES = re.compile(r"\b(" + "|".join(OPTION_FOR_FIELD) + r")\b")


def _option_names(message: str) -> str:
    """Field names in a validation message, as the options the user typed."""
    return FIELD_NAMES.sub(lambda found: OPTION_FOR_FIELD[found.group(0)], message)


def _days_ago(days: int) -> datetime:
    return utcnow() - timedelta(days=days)
