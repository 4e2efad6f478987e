"""Flags worth an analyst's look: flows whose p95 duration regressed or whose success
rate dropped against the previous period of equal length, and error groups first seen
inside the range.

The numbers come from the SQL aggregates ``flow_breakdown`` and ``error_breakdown``
(one ``GROUP BY`` each, the same ``FlowRunFilter``); the flags compare their few
grouped rows. The pure ``flag_flows``/``mark_new_groups`` let the dashboard reuse
breakdowns it already has cached.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine

from data.filters import FlowRunFilter
from data.models import FlowRunStatus
from data.queries.breakdowns import error_breakdown, flow_breakdown

FINISHED = list(FlowRunStatus.finished())
# Success-rate differences are float subtractions (0.95 - 0.90 = 0.0499...): compare
# them rounded, so a drop of exactly the threshold counts.
_DIGITS = 9


@dataclass(frozen=True)
class FlowFlagRule:
    """When a flow is flagged. Both flags need ``min_runs`` finished runs in each period,
    so a handful of runs never raises one."""

    min_runs: int = 20
    p95_increase: float = 0.25  # p95 at least this much higher (0.25 = +25%)
    rate_drop: float = 0.05  # success rate at least this much lower (0.05 = 5 points)

    def describe(self) -> str:
        return (
            f"**p95 regression**: p95 duration up by {self.p95_increase:.0%} or more; "
            f"**success drop**: success rate down by {self.rate_drop * 100:g} percentage "
            f"points or more. Both compare with the previous period of the same length and "
            f"need at least {self.min_runs} finished runs in each period."
        )


DEFAULT_RULE = FlowFlagRule()


def earlier_filter(flt: FlowRunFilter) -> FlowRunFilter | None:
    """The same filter over everything before the range start (None: no start)."""
    if flt.started_after is None:
        return None
    return flt.replace(started_after=None, started_before=flt.started_after)


def flag_flows(
    current: pd.DataFrame, previous: pd.DataFrame | None, rule: FlowFlagRule = DEFAULT_RULE
) -> pd.DataFrame:
    """``current`` (a ``flow_breakdown`` frame) with the previous period's figures,
    the changes, and the two flags. ``previous`` is None when the range is unbounded:
    then nothing can be compared and nothing is flagged."""
    prev = pd.DataFrame(
        {
            "flow_id": [] if previous is None else previous["flow_id"],
            "prev_finished": [] if previous is None else previous[FINISHED].sum(axis=1),
            "prev_p95_ms": [] if previous is None else previous["p95_ms"],
            "prev_success_rate": [] if previous is None else previous["success_rate"],
        }
    )
    frame = current.merge(prev, on="flow_id", how="left")
    frame["prev_finished"] = frame["prev_finished"].fillna(0).astype("int64")
    for column in ("prev_p95_ms", "prev_success_rate"):
        frame[column] = frame[column].astype("float64")
    enough = (frame[FINISHED].sum(axis=1) >= rule.min_runs) & (
        frame["prev_finished"] >= rule.min_runs
    )
    p95, prev_p95 = frame["p95_ms"].astype("float64"), frame["prev_p95_ms"]
    frame["p95_change"] = (p95 - prev_p95) / prev_p95.where(prev_p95 > 0)
    frame["success_rate_change"] = (frame["success_rate"] - frame["prev_success_rate"]).round(
        _DIGITS
    )
    frame["p95_regression"] = (
        enough & (p95 > prev_p95) & (p95 >= prev_p95 * (1 + rule.p95_increase))
    )
    frame["success_drop"] = enough & (frame["success_rate_change"] <= -rule.rate_drop)
    return frame


def flow_flags(
    engine: Engine, flt: FlowRunFilter, rule: FlowFlagRule = DEFAULT_RULE
) -> pd.DataFrame:
    """Per flow (as ``flow_breakdown``) with previous-period figures and flags."""
    previous = flt.previous_period()
    return flag_flows(
        flow_breakdown(engine, flt),
        None if previous is None else flow_breakdown(engine, previous),
        rule,
    )


def _group_keys(groups: pd.DataFrame) -> list[tuple[str | None, str | None]]:
    """(error type, signature) per row; a missing value (None or NaN) as None."""
    return [
        (None if pd.isna(kind) else str(kind), None if pd.isna(sig) else str(sig))
        for kind, sig in zip(groups["error_type"], groups["signature"], strict=True)
    ]


def mark_new_groups(current: pd.DataFrame, earlier: pd.DataFrame | None) -> pd.DataFrame:
    """``current`` (an ``error_breakdown`` frame) with ``new``: True for a group with no
    failure in ``earlier`` (the breakdown before the range start). Without a range start
    (``earlier`` None) nothing is new."""
    seen = set() if earlier is None else set(_group_keys(earlier))
    new = [earlier is not None and key not in seen for key in _group_keys(current)]
    return current.assign(new=pd.Series(new, index=current.index, dtype="bool"))


def error_groups_with_new(engine: Engine, flt: FlowRunFilter) -> pd.DataFrame:
    """``error_breakdown`` of ``flt`` with ``new``: first seen inside the range, i.e. the
    same filter finds no failure of that group before the range start."""
    before = earlier_filter(flt)
    earlier = None if before is None else error_breakdown(engine, before)
    return mark_new_groups(error_breakdown(engine, flt), earlier)
