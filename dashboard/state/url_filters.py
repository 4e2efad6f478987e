"""The sidebar's filter as a value: URL query parameters <-> ``FilterState`` -> the one
``FlowRunFilter``. Pure functions (no Streamlit), so links and time bounds are tested
without an app; ``dashboard.state.filters`` keeps it in session_state.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dashboard.formatting import is_timezone
from dashboard.state import extra_filters as xf
from dashboard.state import history as history_state
from data.errors import InvalidQuery
from data.filters import FlowRunFilter
from data.local_time import day_start, hour_end, hour_start, wall_start
from data.models import FlowRunStatus, TriggerType
from data.statuses import KNOWN_STATUSES, canonical, check_text

MINUTE_FORMAT = "%Y-%m-%dT%H:%M"
# The dates a link may ask for, as the API's time filters: at the calendar's ends
# (0001-01-01, 9999-12-31) converting a local day to UTC overflows and crashed the page.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2199, 12, 31)
DATE_RANGE_NOTE = f"must be between {FIRST_DAY} and {LAST_DAY}"


# Every parameter a link may carry (Streamlit's own embed options included).
FILTER_PARAMS = ("range", "from", "to", "tz", "flow", "status", "trigger", "q", "error_type", "sig")
KNOWN_PARAMS = frozenset(
    FILTER_PARAMS + xf.PARAMS + history_state.PARAMS + ("embed", "embed_options")
)

PRESETS: dict[str, timedelta | None] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
    "all": None,
    "custom": None,
}
PRESET_LABELS = {
    "24h": "Last 24 hours",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "all": "All time",
    "custom": "Custom dates",
}
DEFAULT_RANGE, DEFAULT_TZ = "7d", "UTC"
STATUSES = tuple(s.value for s in FlowRunStatus)
TRIGGERS = tuple(dict.fromkeys(t.value for t in TriggerType))


@dataclass(frozen=True)
class FilterState:
    """The sidebar's values, in URL-friendly form."""

    range: str = DEFAULT_RANGE
    dates: tuple[date, date] | None = None
    tz: str = DEFAULT_TZ
    flows: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    triggers: tuple[str, ...] = ()
    text: str = ""
    error_types: tuple[str, ...] = ()
    error_sig: str = ""
    # Wall-clock times in ``tz``, [from_ts, to_ts); when set they override ``dates``.
    from_ts: datetime | None = None
    to_ts: datetime | None = None
    # User, session id, run id, duration range.
    extra: xf.ExtraFilters = field(default_factory=xf.ExtraFilters)


def _parse_date(name: str, raw: str, errors: list[str]) -> date | None:
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        errors.append(f"{name}: '{raw}' is not a date (use YYYY-MM-DD)")
        return None
    if not FIRST_DAY <= day <= LAST_DAY:
        errors.append(f"{name}: {raw} {DATE_RANGE_NOTE}")
        return None
    return day


def _parse_moment(name: str, raw: str, errors: list[str]) -> datetime | None:
    try:
        moment = datetime.fromisoformat(raw).replace(second=0, microsecond=0, tzinfo=None)
    except ValueError:
        errors.append(f"{name}: '{raw}' is not a date or time (use YYYY-MM-DD or YYYY-MM-DDTHH:MM)")
        return None
    if not FIRST_DAY <= moment.date() <= LAST_DAY:
        errors.append(f"{name}: {raw} {DATE_RANGE_NOTE}")
        return None
    return moment


def _text(name: str, raw: str, errors: list[str]) -> str:
    """``raw`` if a query can carry it; else reported and dropped (empty)."""
    if xf.unsendable(raw):
        errors.append(f"{name}: must not contain NUL characters or invalid (surrogate) text")
        return ""
    return raw


def _parse_span(
    start_raw: str | None, end_raw: str | None, errors: list[str]
) -> tuple[datetime, datetime] | None:
    """``from``/``to`` with a time of day: a minute-precise range (both ends needed)."""
    start = _parse_moment("from", start_raw, errors) if start_raw else None
    end = _parse_moment("to", end_raw, errors) if end_raw else None
    if start is None or end is None:
        if (start_raw is None) != (end_raw is None):
            errors.append("from: a time range needs both 'from' and 'to'")
        return None
    if start >= end:
        errors.append("from: must be before 'to'")
        return None
    return start, end


def _parse_choices(
    name: str, raw: list[str], allowed: tuple[str, ...] | set[str], errors: list[str]
) -> tuple[str, ...]:
    bad = [value for value in raw if value not in allowed]
    if bad:
        errors.append(f"{name}: unknown value {', '.join(repr(b) for b in bad)}")
    return tuple(value for value in raw if value in allowed)


def _parse_flows(raw: list[str], known: set[str], errors: list[str]) -> tuple[str, ...]:
    flows = []
    for value in raw:
        try:
            flow_id = str(uuid.UUID(value))
        except ValueError:
            errors.append(f"flow: '{value}' is not a flow id (UUID)")
            continue
        if flow_id in known:
            flows.append(flow_id)
        else:
            errors.append(f"flow: no flow with id {flow_id}")
    return tuple(flows)


def known_status(value: str) -> str:
    """The status rule of ``data.statuses`` without a database to ask: only the known
    statuses (in any of their spellings) are valid."""
    name = canonical(check_text(value))
    if name not in KNOWN_STATUSES:
        raise InvalidQuery(f"status: unknown status {name!r} (known: {', '.join(KNOWN_STATUSES)})")
    return name


def _parse_statuses(
    raw: list[str], check_status: Callable[[str], str], errors: list[str]
) -> tuple[str, ...]:
    """Each value as its filter value (``SUCCESS`` -> ``success``); invalid ones named."""
    names = []
    for value in raw:
        try:
            names.append(check_status(value))
        except InvalidQuery as exc:
            errors.append(str(exc))
    return tuple(dict.fromkeys(names))


def parse_params(
    params: Mapping[str, list[str]],
    known_flows: set[str],
    today: date,
    known_users: set[str] | None = None,
    check_status: Callable[[str], str] = known_status,
) -> tuple[FilterState, list[str]]:
    """Validate URL parameters. Bad values are dropped (defaults used) and reported.

    ``check_status`` turns a status value into its filter value or raises ``InvalidQuery``
    (the app passes the data layer's check, which also accepts values runs have)."""
    errors: list[str] = []

    def first(name: str) -> str | None:
        values = params.get(name) or []
        return values[-1] if values else None

    range_ = first("range") or DEFAULT_RANGE
    if range_ not in PRESETS:
        errors.append(f"range: unknown preset '{range_}' (use {', '.join(PRESETS)})")
        range_ = DEFAULT_RANGE
    start_raw, end_raw = first("from"), first("to")
    span = None
    if "T" in (start_raw or "") + (end_raw or ""):
        span = _parse_span(start_raw, end_raw, errors)
        start_raw = end_raw = None
    start = _parse_date("from", start_raw, errors) if start_raw else None
    end = _parse_date("to", end_raw, errors) if end_raw else None
    dates = None
    if span:
        dates, range_ = span_dates(*span), "custom"
    elif start or end:
        start, end = start or end, end or start
        assert start is not None and end is not None
        if start > end:
            errors.append("from: must not be after 'to'")
            start, end = end, start
        dates = (start, end)
        range_ = "custom"
    elif range_ == "custom":
        dates = (today - timedelta(days=6), today)
    tz = first("tz") or DEFAULT_TZ
    if not is_timezone(tz):
        errors.append(f"tz: unknown time zone '{tz}'")
        tz = DEFAULT_TZ
    text = _text("q", (first("q") or "")[:500], errors)
    state = FilterState(
        range=range_,
        dates=dates,
        tz=tz,
        flows=_parse_flows(params.get("flow", []), known_flows, errors),
        statuses=_parse_statuses(params.get("status", []), check_status, errors),
        triggers=_parse_choices("trigger", params.get("trigger", []), TRIGGERS, errors),
        text=text,
        error_types=tuple(
            value for value in params.get("error_type", []) if _text("error_type", value, errors)
        ),
        error_sig=_text("sig", first("sig") or "", errors),
        from_ts=span[0] if span else None,
        to_ts=span[1] if span else None,
        extra=xf.parse_extra(first, known_users, errors),
    )
    return state, errors


def span_dates(start: datetime, end: datetime) -> tuple[date, date]:
    """The whole days a [start, end) span touches (what the date picker shows)."""
    return start.date(), (end - timedelta(microseconds=1)).date()


def to_params(state: FilterState) -> dict[str, list[str]]:
    """The canonical URL for ``state``; defaults are left out to keep links short."""
    params: dict[str, list[str]] = {}
    if state.range != DEFAULT_RANGE:
        params["range"] = [state.range]
    if state.range == "custom" and state.from_ts and state.to_ts:
        params["from"] = [state.from_ts.strftime(MINUTE_FORMAT)]
        params["to"] = [state.to_ts.strftime(MINUTE_FORMAT)]
    elif state.range == "custom" and state.dates:
        params["from"], params["to"] = [state.dates[0].isoformat()], [state.dates[1].isoformat()]
    for name, values in (
        ("flow", state.flows),
        ("status", state.statuses),
        ("trigger", state.triggers),
        ("error_type", state.error_types),
    ):
        if values:
            params[name] = list(values)
    if state.text:
        params["q"] = [state.text]
    if state.error_sig:
        params["sig"] = [state.error_sig]
    if state.tz != DEFAULT_TZ:
        params["tz"] = [state.tz]
    return params | xf.extra_to_params(state.extra)


def time_bounds(state: FilterState, now: datetime | None = None) -> tuple[Any, Any]:
    """UTC [after, before) for the chosen range.

    Presets are whole chart buckets of the chosen zone, the current one included (so
    "Last 7 days" is 7 day bars, today in progress): the last 24 local hours up to the
    end of this hour, or the last N local days up to the end of today. The filter (a
    cache key) therefore stays the same for an hour or a day.
    """
    zone = ZoneInfo(state.tz)
    if state.range == "custom" and state.from_ts and state.to_ts:
        return wall_start(state.from_ts, zone), wall_start(state.to_ts, zone)
    if state.range == "custom" and state.dates:
        return day_start(state.dates[0], zone), day_start(state.dates[1] + timedelta(days=1), zone)
    length = PRESETS.get(state.range)
    if length is None:
        return None, None
    moment = now or datetime.now(UTC)
    if length <= timedelta(days=1):
        end = hour_end(hour_start(moment, zone), zone)
        return end - length, end
    today = moment.astimezone(zone).date()
    first = today - (length - timedelta(days=1))
    return day_start(first, zone), day_start(today + timedelta(days=1), zone)


def filter_for(state: FilterState, now: datetime | None = None) -> FlowRunFilter:
    """THE translation of sidebar state into the data layer's filter."""
    after, before = time_bounds(state, now)
    return FlowRunFilter.build(
        flow_ids=state.flows,
        statuses=state.statuses,
        trigger_types=state.triggers,
        error_contains=state.text or None,
        error_types=state.error_types,
        error_signature=state.error_sig or None,
        started_after=after,
        started_before=before,
        **xf.filter_values(state.extra),
    )
