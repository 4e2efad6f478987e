"""Filter options shared by every CLI command that selects runs."""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta
from typing import Any

from data.errors import InvalidQuery
from data.filters import FlowRunFilter
from data.models import utcnow


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("filters")
    group.add_argument(
        "--flow", action="append", default=[], metavar="FLOW_ID", help="flow id (repeatable)"
    )
    group.add_argument(
        "--status",
        action="append",
        default=[],
        help="pending, running, success, failure, cancelled (repeatable)",
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
    group.add_argument("--days", type=int, help="the last N days (instead of --since/--until)")
    group.add_argument("--error-contains", help="text in the error message (case-insensitive)")
    group.add_argument("--error-type", action="append", default=[], help="error type (repeatable)")


def filter_from_args(args: argparse.Namespace) -> FlowRunFilter:
    """Raises InvalidQuery (one line, naming the option) for bad values."""
    values: dict[str, Any] = {
        "flow_ids": tuple(args.flow),
        "statuses": tuple(args.status),
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


def _option_names(message: str) -> str:
    for field, option in OPTION_FOR_FIELD.items():
        message = message.replace(field, option)
    return message


def _days_ago(days: int) -> datetime:
    if not 1 <= days <= 36500:
        raise InvalidQuery("--days: must be between 1 and 36500")
    return utcnow() - timedelta(days=days)
