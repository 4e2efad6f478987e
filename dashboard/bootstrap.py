"""First start: reach the database, create the embedded default's schema and demo
data, or stop with one clear error. Demo data never goes into a configured database."""

from __future__ import annotations

import threading

import streamlit as st
from sqlalchemy.engine import make_url

from dashboard import data_access as da
from data import migrate
from data import queries as q
from data.demo import generate_demo
from data.filters import FlowRunFilter
from data.settings import Settings

# One seeding per process even if two browser sessions open the fresh app at once.
_SEED_LOCK = threading.Lock()
HOW_TO_CONFIGURE = (
    "Set `FLOWRUNS_DATABASE_URL` to a reachable database "
    "(e.g. `postgresql+psycopg://user@host/db`), then run `flowruns init-db` to create the schema."
)


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is itself the problem being reported
        return "(unparsable URL)"


def _fail(message: str) -> None:
    st.error(message, icon=":material/error:")
    st.stop()


def _seed_demo(settings: Settings) -> None:
    engine = da.engine()
    with _SEED_LOCK:
        if q.list_flows(engine) or q.count_runs(engine, FlowRunFilter()):
            return
        bar = st.progress(0.0, text="Creating demo data for the first start…")

        def report(done: int, total: int) -> None:
            bar.progress(done / total, text=f"Creating demo data: {done:,} / {total:,} runs")

        generate_demo(engine, settings.demo_runs, progress=report)
        bar.empty()
    da.clear_caches()


def prepare_database(settings: Settings) -> None:
    """Returns when the schema is there; otherwise shows one ``st.error`` and stops."""
    url = settings.resolved_database_url
    try:
        present = migrate.schema_present(da.engine())
    except Exception as exc:  # driver errors vary by backend; all mean "cannot reach it"
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        _fail(f"Cannot reach the database at `{_safe_url(url)}`: {reason}. {HOW_TO_CONFIGURE}")
        return
    if present:
        return
    if not settings.uses_embedded_default:
        _fail(
            f"The database at `{_safe_url(url)}` has no FlowRun History schema. "
            "Run `flowruns init-db` (with the same `FLOWRUNS_DATABASE_URL`) and reload."
        )
        return
    with st.spinner("Creating the embedded database…"):
        migrate.upgrade(url)
    if settings.demo_runs:
        _seed_demo(settings)


def empty_state() -> None:
    if da.scope(FlowRunFilter()).user_id is not None:  # a signed-in regular user
        st.info(
            "**No runs of yours recorded yet.** Runs you trigger (through your API key or "
            "your flows) appear here; press *Refresh data* to look again.",
            icon=":material/inbox:",
        )
        return
    st.info(
        "**No runs recorded yet.** Load demo data with `flowruns demo --runs 10000`, record runs "
        "from your flows with `data.recorder`, or point the dashboard at an existing database "
        "with `FLOWRUNS_DATABASE_URL`. Then press *Refresh data*.",
        icon=":material/inbox:",
    )
