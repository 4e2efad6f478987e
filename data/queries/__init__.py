"""Read queries. Each takes an engine and a ``FlowRunFilter`` and aggregates in SQL."""

from data.queries.breakdowns import error_breakdown, flow_breakdown
from data.queries.compare import last_successful_run
from data.queries.flags import (
    DEFAULT_RULE,
    FlowFlagRule,
    earlier_filter,
    error_groups_with_new,
    flag_flows,
    flow_flags,
    mark_new_groups,
)
from data.queries.listing import (
    SORT_KEYS,
    FlowChoice,
    RunPage,
    count_runs,
    get_run,
    iter_runs,
    list_flow_choices,
    list_flows,
    list_runs,
    list_users,
)
from data.queries.records import RunRecord
from data.queries.stats import RunStats, run_stats
from data.queries.timeseries import choose_bucket, count_timeseries, run_timeseries

__all__ = [
    "DEFAULT_RULE",
    "SORT_KEYS",
    "FlowChoice",
    "FlowFlagRule",
    "RunPage",
    "RunRecord",
    "RunStats",
    "choose_bucket",
    "count_runs",
    "count_timeseries",
    "earlier_filter",
    "error_breakdown",
    "error_groups_with_new",
    "flag_flows",
    "flow_breakdown",
    "flow_flags",
    "get_run",
    "iter_runs",
    "last_successful_run",
    "list_flow_choices",
    "list_flows",
    "list_runs",
    "list_users",
    "mark_new_groups",
    "run_stats",
    "run_timeseries",
]
