"""Cached access to the data layer. Pages call these, never the database directly.

The engine is a ``st.cache_resource`` per URL; query results are ``st.cache_data``
keyed on the URL string and the hashable ``FlowRunFilter``, with the configured TTL.
Reads go to ``FLOWRUNS_READ_DATABASE_URL`` (a replica, through a read-only engine) when
it is set; writes (``call``) and the run detail always go to the primary.

Every filter that reaches a query passes through ``scope`` (data.scope, the API's rule):
a signed-in regular user's filter names only their runs, and since the scoped filter is
the cache key, one user's cached results are never another's.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from dashboard.formatting import flow_labels as flow_labels_for
from data import queries as q
from data.accounts import Principal
from data.audit import AuditContext
from data.db import build_engine
from data.demo import is_demo_database
from data.errors import NotFound
from data.export import iter_csv
from data.filters import FlowRunFilter
from data.langflow.status import SourceStatus, sync_sources
from data.queries.points import recent_run_points
from data.scope import scope_user_id, scoped
from data.settings import get_settings
from data.statuses import check_statuses
from data.statuses import status_values as stored_status_values
from data.steps.pricing import Price, prices, with_cost
from data.steps.queries import StepRecord, component_stats, run_steps, tokens_by_model

T = TypeVar("T")
# The signed-in user (a ``Principal``) in session_state; absent without sign-in.
K_PRINCIPAL = "_principal"


def principal() -> Principal | None:
    return st.session_state.get(K_PRINCIPAL)


def scope(flt: FlowRunFilter) -> FlowRunFilter:
    """``flt`` narrowed to what the signed-in user may see (unchanged for a superuser or
    without sign-in)."""
    return scoped(flt, principal())


def may_administer() -> bool:
    """Settings for everyone (the retention policy, model prices): a superuser's, or
    anyone's without sign-in."""
    who = principal()
    return who is None or who.is_superuser


def audit_context() -> AuditContext:
    """Who the audit log names for a delete from this session."""
    who = principal()
    return AuditContext.dashboard(who.username if who else None, who.user_id if who else None)


@st.cache_resource(show_spinner=False)
def engine_for(url: str) -> Engine:
    return build_engine(url)


def database_url() -> str:
    return get_settings().resolved_database_url


def engine() -> Engine:
    """The primary's engine: writes, and reads that must see the latest write."""
    return engine_for(database_url())


@st.cache_resource(show_spinner=False)
def _replica_engine_for(url: str) -> Engine:
    return build_engine(url, read_only=True)


def read_url() -> str:
    """Where the cached reads go: the replica when one is configured, else the primary."""
    return get_settings().resolved_read_database_url


def _read_engine_for(url: str) -> Engine:
    # Same URL as the primary: share its engine (one pool) instead of a second one.
    return engine_for(url) if url == database_url() else _replica_engine_for(url)


def read_engine() -> Engine:
    """The engine of read-only queries (a replica may lag the primary by a moment)."""
    return _read_engine_for(read_url())


@functools.cache
def _cached(fn: Callable[..., T]) -> Callable[..., T]:
    # Decorated on first use, not at import, so the TTL comes from the settings in force.
    ttl = get_settings().cache_ttl_seconds
    return st.cache_data(ttl=ttl, show_spinner=False, max_entries=200)(fn)  # type: ignore[no-any-return]


def clear_caches() -> None:
    """The Refresh button: drop every cached query result (the engine stays)."""
    st.cache_data.clear()


# Plain functions keyed on the URL string: cache_data hashes the arguments.
def _run_stats(url: str, flt: FlowRunFilter) -> q.RunStats:
    return q.run_stats(_read_engine_for(url), flt)


def _run_timeseries(url: str, flt: FlowRunFilter, tz: str) -> pd.DataFrame:
    return q.run_timeseries(_read_engine_for(url), flt, tz=tz)


def _count_timeseries(url: str, flt: FlowRunFilter, by: str, tz: str) -> pd.DataFrame:
    return q.count_timeseries(_read_engine_for(url), flt, by=by, tz=tz)


def _flow_breakdown(url: str, flt: FlowRunFilter) -> pd.DataFrame:
    return q.flow_breakdown(_read_engine_for(url), flt)


def _error_breakdown(url: str, flt: FlowRunFilter) -> pd.DataFrame:
    return q.error_breakdown(_read_engine_for(url), flt)


def _run_points(url: str, flt: FlowRunFilter, limit: int) -> pd.DataFrame:
    return recent_run_points(_read_engine_for(url), flt, limit)


def _count_runs(url: str, flt: FlowRunFilter) -> int:
    return q.count_runs(_read_engine_for(url), flt)


def _list_flows(url: str, owner: uuid.UUID | None) -> list[tuple[uuid.UUID, str]]:
    return q.list_flows(_read_engine_for(url), owner)


def _list_users(url: str) -> list[tuple[uuid.UUID, str]]:
    return q.list_users(_read_engine_for(url))


def _flow_choices(url: str, owner: uuid.UUID | None) -> list[q.FlowChoice]:
    return q.list_flow_choices(_read_engine_for(url), owner)


def _list_runs(url: str, flt: FlowRunFilter, page: tuple[str, str, int, str | None]) -> q.RunPage:
    sort, direction, limit, cursor = page
    return q.list_runs(
        _read_engine_for(url), flt, sort=sort, direction=direction, limit=limit, cursor=cursor
    )


def run_stats(flt: FlowRunFilter) -> q.RunStats:
    return _cached(_run_stats)(read_url(), scope(flt))


def run_timeseries(flt: FlowRunFilter, tz: str) -> pd.DataFrame:
    """Buckets are the hours/days/weeks of the chosen time zone."""
    return _cached(_run_timeseries)(read_url(), scope(flt), tz)


def count_timeseries(flt: FlowRunFilter, by: str, tz: str) -> pd.DataFrame:
    return _cached(_count_timeseries)(read_url(), scope(flt), by, tz)


def flow_breakdown(flt: FlowRunFilter) -> pd.DataFrame:
    return _cached(_flow_breakdown)(read_url(), scope(flt))


def error_breakdown(flt: FlowRunFilter) -> pd.DataFrame:
    return _cached(_error_breakdown)(read_url(), scope(flt))


def run_points(flt: FlowRunFilter, limit: int) -> pd.DataFrame:
    """The newest ``limit`` runs as (id, flow, status, start, duration) points."""
    return _cached(_run_points)(read_url(), scope(flt), limit)


def count_runs(flt: FlowRunFilter) -> int:
    return _cached(_count_runs)(read_url(), scope(flt))


def list_flows() -> list[tuple[uuid.UUID, str]]:
    """Every flow; a signed-in regular user's own flows."""
    return _cached(_list_flows)(read_url(), scope_user_id(principal()))


def list_users() -> list[tuple[uuid.UUID, str]]:
    """(id, username) of every user: the user filter's options (a signed-in regular user
    sees only themselves)."""
    who = principal()
    if scope_user_id(who) is not None and who is not None:
        return [(who.user_id, who.username)]
    return _cached(_list_users)(read_url())


def _status_values(url: str) -> list[str]:
    return stored_status_values(_read_engine_for(url))


def status_values() -> list[str]:
    """The status filter values runs have (known statuses first, then e.g. ``weird``)."""
    return _cached(_status_values)(read_url())


def check_status(value: str) -> str:
    """``value`` as a status filter value by the data layer's rule (the API's and CLI's):
    a known status in any case, or a value runs have; ``InvalidQuery`` otherwise."""
    return check_statuses(read_engine(), (value,))[0]


def flow_labels() -> dict[str, str]:
    """Flow id (str) -> a label unique among all flows: the one source for flow pickers."""
    return flow_labels_for(_cached(_flow_choices)(read_url(), scope_user_id(principal())))


def list_runs(
    flt: FlowRunFilter, *, sort: str, direction: str, limit: int, cursor: str | None
) -> q.RunPage:
    return _cached(_list_runs)(read_url(), scope(flt), (sort, direction, limit, cursor))


def get_run(run_id: uuid.UUID) -> q.RunRecord | None:
    """Uncached: the detail view must show (and delete) what is there now. Another user's
    run is ``None``, exactly like a missing one."""
    return q.get_run(engine(), run_id, scope(FlowRunFilter()))


def csv_builder(flt: FlowRunFilter, columns: tuple[str, ...]) -> Callable[[], str]:
    """A callable for ``st.download_button``: the CSV is streamed from the database
    in chunks only when the user clicks, never on every rerun."""
    bound, flt = read_engine(), scope(flt)

    def build() -> str:
        return "".join(iter_csv(bound, flt, columns=columns))

    return build


def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a data-layer function with the primary's engine (write actions)."""
    return fn(engine(), *args, **kwargs)


def read_call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a read-only data-layer function, uncached, with the read engine."""
    return fn(read_engine(), *args, **kwargs)


def _is_demo(url: str) -> bool:
    return is_demo_database(_read_engine_for(url))


def is_demo() -> bool:
    return _cached(_is_demo)(read_url())


def _run_steps(url: str, run_id: uuid.UUID, flt: FlowRunFilter) -> list[StepRecord]:
    return run_steps(_read_engine_for(url), run_id, flt)


def steps_of(run_id: uuid.UUID) -> list[StepRecord]:
    """A run's steps (empty when it has none, is gone, or is another user's)."""
    try:
        return _cached(_run_steps)(read_url(), run_id, scope(FlowRunFilter()))
    except NotFound:
        return []


def _component_stats(url: str, flt: FlowRunFilter) -> pd.DataFrame:
    return component_stats(_read_engine_for(url), flt)


def component_table(flt: FlowRunFilter) -> pd.DataFrame:
    return _cached(_component_stats)(read_url(), scope(flt))


def _tokens_by_model(url: str, flt: FlowRunFilter) -> pd.DataFrame:
    return with_cost(tokens_by_model(_read_engine_for(url), flt), prices(_read_engine_for(url)))


def model_tokens(flt: FlowRunFilter) -> pd.DataFrame:
    """Tokens (and cost, where an admin set a price) per model, from the steps."""
    return _cached(_tokens_by_model)(read_url(), scope(flt))


def _model_prices(url: str) -> dict[str, Price]:
    return prices(_read_engine_for(url))


def model_prices() -> dict[str, Price]:
    return _cached(_model_prices)(read_url())


def _flow_model_tokens(url: str, flt: FlowRunFilter) -> pd.DataFrame:
    engine = _read_engine_for(url)
    return with_cost(tokens_by_model(engine, flt, by_flow=True), prices(engine))


def flow_model_tokens(flt: FlowRunFilter) -> pd.DataFrame:
    """Tokens and cost per flow and model, from the steps."""
    return _cached(_flow_model_tokens)(read_url(), scope(flt))


def _sources(url: str) -> list[SourceStatus]:
    return sync_sources(_read_engine_for(url))


def synced_sources() -> list[SourceStatus]:
    """The Langflow databases synced into this one (empty: runs are recorded here)."""
    return _cached(_sources)(read_url())
