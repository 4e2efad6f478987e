"""Display helpers: human durations, time zones, status colours, numbers. No Streamlit here."""

from __future__ import annotations

import math
import re
import string
import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo, available_timezones

import pandas as pd

# The one status colour map (colour-blind safe), shared with the charts; tables use it too.
from dashboard.charts.colours import STATUS_COLOURS, status_colour  # noqa: F401
from data.queries.buckets import UNPLACED_RUNS
from data.stored_time import UNREADABLE_ROWS, UnreadableTime

COMMON_TIMEZONES = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
)


def timezone_options() -> list[str]:
    """Common zones first, then every other IANA zone alphabetically."""
    rest = sorted(available_timezones() - set(COMMON_TIMEZONES))
    return [*COMMON_TIMEZONES, *rest]


def is_timezone(name: str) -> bool:
    return name in COMMON_TIMEZONES or name in available_timezones()


def human_duration(ms: float | None) -> str:
    """850 ms, 2.4 s, 3 min 12 s, 1 h 05 min; "-" when unknown."""
    if ms is None or (isinstance(ms, float) and math.isnan(ms)):
        return "-"
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min {rest:02d} s"
    hours, rest = divmod(round(seconds), 3600)
    return f"{hours} h {rest // 60:02d} min"


def percent(rate: float | None, digits: int = 1) -> str:
    return "-" if rate is None else f"{rate * 100:.{digits}f}%"


def count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


UNREADABLE_MARK = "⚠ unreadable"


def unreadable_time(raw: str) -> str:
    """How a stored time no reader can hold is shown (data.stored_time): flagged, with the
    stored value as text."""
    return f"{UNREADABLE_MARK}: {raw!r}"


def stored_time(
    value: datetime | None, raw: str | None, tz: str, fmt: str = "%Y-%m-%d %H:%M:%S"
) -> str:
    """A run's time (``RunRecord``): flagged with the stored text when ``raw`` (its entry
    in ``unreadable``) says the stored value is no time."""
    return unreadable_time(raw) if raw is not None else local_time(value, tz, fmt)


def local_time(value: datetime | None, tz: str, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    if isinstance(value, UnreadableTime):
        return unreadable_time(value.raw)
    if value is None or pd.isna(value):
        return "-"
    return pd.Timestamp(value).tz_convert(ZoneInfo(tz)).strftime(fmt)


def to_local_naive(series: pd.Series, tz: str) -> pd.Series:
    """UTC timestamps as wall-clock times in ``tz`` without offset.

    Vega-Lite reads offset-free times as browser-local and shows them unchanged, so
    charts show the chosen zone whatever the viewer's browser is set to.
    """
    return pd.to_datetime(series, utc=True).dt.tz_convert(ZoneInfo(tz)).dt.tz_localize(None)


def status_label(status: str) -> str:
    # A plain dot: tables colour it per status (emoji fonts are often missing on servers).
    return f"● {status}"


def delta(current: float | None, previous: float | None) -> float | None:
    if current is None or previous is None:
        return None
    return current - previous


# Every ASCII punctuation character may be backslash-escaped in CommonMark; escaping all
# of them also defuses Streamlit's own syntax (:material/x:, :red[..], $math$) and GFM
# autolinks (http\://, www\.), so stored or linked text is shown as typed.
_MD_SPECIAL = re.compile("([" + re.escape(string.punctuation) + "])")
NO_ERROR_TYPE = "(no type)"
SHORT_ID = 8


# GFM links bare URLs and e-mail addresses in the text left after parsing, when escapes
# are already resolved: backslashes cannot stop that, an invisible word joiner can.
_AUTOLINK = re.compile(r"(?<=:)(?=//)|(?<=www)(?=\.)|(?<=@)", re.IGNORECASE)
WORD_JOINER = "\u2060"


def md_escape(text: object) -> str:
    """``text`` as literal text inside a Markdown-rendering element (st.markdown,
    st.caption, st.error, labels...): no links, images, HTML, emphasis or code spans."""
    unlinked = _AUTOLINK.sub(WORD_JOINER, str(text))
    return _MD_SPECIAL.sub(r"\\\1", unlinked)


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 group``, ``2 groups``, ``1,024 runs``."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def without_duration_note(runs: int, figures: str = "the duration figures") -> str | None:
    """Runs without a duration (still active, or another engine did not record one) are
    not in the averages and percentiles: say how many, when there are any."""
    if runs <= 0:
        return None
    verb = "is" if runs == 1 else "are"
    return f"{plural(runs, 'run')} without a duration {verb} left out of {figures}."


def unplaced_note(frame: pd.DataFrame, what: str = "these charts") -> str | None:
    """The note under a time-bucketed chart for the runs it cannot place: another program
    stored their start as no time (data.stored_time). They are still counted elsewhere."""
    runs = int(frame.attrs.get(UNPLACED_RUNS, 0) or frame.attrs.get(UNREADABLE_ROWS, 0) or 0)
    if not runs:
        return None
    return (
        f"{UNREADABLE_MARK}: {plural(runs, 'run')} with an unreadable start time not shown in "
        f"{what} (still counted in the totals; `flowruns doctor` lists them)."
    )


def error_type_label(error_type: object) -> str:
    """Missing types (NULL, read back as None or NaN) get a name instead of "nan"."""
    if error_type is None or (isinstance(error_type, float) and math.isnan(error_type)):
        return NO_ERROR_TYPE
    return str(error_type) if str(error_type).strip() else NO_ERROR_TYPE


def flow_labels(flows: Iterable[tuple[uuid.UUID, str, str | None]]) -> dict[str, str]:
    """A unique label per flow id (str): the name, plus the owner where names repeat,
    plus a short id where name and owner repeat too. Widgets match options by label in
    the browser, so two equal labels would make one flow unselectable."""
    rows = [(str(flow_id), name, owner or "no owner") for flow_id, name, owner in flows]
    names = Counter(name for _, name, _ in rows)
    owned = Counter((name, owner) for _, name, owner in rows)
    labels = {}
    for flow_id, name, owner in rows:
        if names[name] == 1:
            labels[flow_id] = name
        elif owned[(name, owner)] == 1:
            labels[flow_id] = f"{name} ({owner})"
        else:
            labels[flow_id] = f"{name} ({owner}, {flow_id[:SHORT_ID]})"
    # A name may itself look like another flow's label ("x (ann)"): the full id settles it.
    taken = Counter(labels.values())
    for flow_id, name, owner in rows:
        if taken[labels[flow_id]] > 1:
            labels[flow_id] = f"{name} ({owner}, {flow_id})"
    return labels


def cost_text(by_model: pd.DataFrame) -> str:
    """The cost of ``with_cost``'s frame per currency, and the models without a price:
    "Cost: 1.234567 USD. No price set for: gpt-x (12,000 tokens)." ("" without models)."""
    if by_model.empty:
        return ""
    priced = by_model[by_model["cost"].notna()]
    parts = [
        f"{total:,.6f} {currency}"
        for currency, total in priced.groupby("currency")["cost"].sum().items()
    ]
    text = f"Cost: {' + '.join(parts)}." if parts else ""
    unpriced = by_model[by_model["cost"].isna()]
    if not unpriced.empty:
        tokens = unpriced["input_tokens"] + unpriced["output_tokens"]
        pairs = zip(unpriced["model"], tokens, strict=True)
        names = ", ".join(f"{model} ({count:,} tokens)" for model, count in pairs)
        text += f" No price set for: {names}."
    return text.strip()
