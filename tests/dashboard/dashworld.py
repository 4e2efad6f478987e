"""Shared helpers for the dashboard tests: seeding, an independent pandas view of the
rows, and an AppTest bound to a database URL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from sqlalchemy import Engine, select, update
from streamlit.testing.v1 import AppTest

from data.db import build_engine
from data.demo import generate_demo
from data.models import FlowRun
from data.settings import get_settings

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
# Seed "now": a fixed past moment (start of this UTC hour) so data never lies in the future.
SEED_NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
FINISHED = ("success", "failure", "cancelled")


def seed(url: str, runs: int = 300, days: int = 20) -> None:
    engine = build_engine(url)
    try:
        generate_demo(engine, runs, days=days, now=SEED_NOW, seed=7)
    finally:
        engine.dispose()


def all_rows(url: str) -> pd.DataFrame:
    """Every run, read straight from the table (no data-layer aggregation)."""
    engine: Engine = build_engine(url)
    columns = (
        FlowRun.id,
        FlowRun.flow_id,
        FlowRun.status,
        FlowRun.trigger_type,
        FlowRun.started_at,
        FlowRun.duration_ms,
        FlowRun.error_type,
        FlowRun.error_message,
    )
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(*columns)).mappings().all()
    finally:
        engine.dispose()
    frame = pd.DataFrame(rows, columns=[c.key for c in columns])
    frame["started_at"] = pd.to_datetime(frame["started_at"], utc=True)
    frame["id"] = frame["id"].astype(str)
    return frame


def app(
    monkeypatch: pytest.MonkeyPatch,
    url: str | None,
    params: dict[str, str | list[str]] | None = None,
    **env: str,
) -> AppTest:
    """An AppTest of the entry point against ``url``, already run once."""
    if url is not None:
        monkeypatch.setenv("FLOWRUNS_DATABASE_URL", url)
    for name, value in env.items():
        monkeypatch.setenv(f"FLOWRUNS_{name.upper()}", value)
    get_settings.cache_clear()
    st.cache_data.clear()  # results are keyed on the URL, and PG tests reuse one database
    at = AppTest.from_file(str(APP), default_timeout=60)
    if params:
        at.query_params.update(params)
    return at.run()


def texts(elements: object) -> list[str]:
    return [str(e.value) for e in elements]  # type: ignore[attr-defined]


def assert_clean(at: AppTest) -> None:
    assert not at.exception, texts(at.exception)
    assert not at.error, texts(at.error)


def metric(at: AppTest, label: str) -> tuple[str, str]:
    for m in at.metric:
        if m.label == label:
            return m.value, m.delta
    raise AssertionError(f"no metric {label!r}: {[m.label for m in at.metric]}")


def matched_total(at: AppTest) -> int:
    """The History page's "**N runs** match" line."""
    for md in at.markdown:
        if " runs** match" in md.value:
            return int(md.value.split("**")[1].split()[0].replace(",", ""))
    raise AssertionError("no run total on the page")


def legacy_statuses(url: str) -> pd.DataFrame:
    """Seed runs, rewrite some as another engine would (``weird``, ``SUCCESS``); all rows."""
    seed(url, runs=80)
    rows = all_rows(url)
    weird, rest = rows["id"].iloc[:5], rows.iloc[5:]
    upper = rest[rest["status"] == "success"]["id"].head(7)
    engine = build_engine(url)
    with engine.begin() as conn:
        for ids, value in ((weird, "weird"), (upper, "SUCCESS")):
            chosen = FlowRun.id.in_([uuid.UUID(i) for i in ids])
            conn.execute(update(FlowRun).where(chosen).values(status=value))
    engine.dispose()
    return all_rows(url)
