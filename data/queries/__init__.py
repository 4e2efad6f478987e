"""Read queries. Each takes an engine and a ``FlowRunFilter`` and aggregates in SQL."""

from data.queries.breakdowns import error_breakdown, flow_breakdown
from data.queries.compare import last_successful_run
from data.queries.listing import (
    SORT_KEYS,
    RunPage,
    RunRecord,
    count_runs,
    get_run,
    iter_runs,
    list_flows,
    list_runs,
    list_users,
)
from data.queries.stats import RunStats, run_stats
from data.queries.timeseries import choose_bucket, count_timeseries, run_timeseries

__all__ = [
    "SORT_KEYS",
    "RunPage",
    "RunRecord",
    "RunStats",
    "choose_bucket",
    "count_runs",
    "count_timeseries",
    "error_breakdown",
    "flow_breakdown",
    "get_run",
    "iter_runs",
    "last_successful_run",
    "list_flows",
    "list_runs",
    "list_users",
    "run_stats",
    "run_timeseries",
]
