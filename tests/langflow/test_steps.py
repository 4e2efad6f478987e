"""Steps read back after a sync of what a real Langflow wrote: a run's timeline, where its
time went, per-component aggregates and tokens by model, each against pandas over the
step rows as stored."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from langflow_fixture import CURRENT, rows
from sqlalchemy import Engine

from data.db import build_engine
from data.errors import InvalidQuery, NotFound
from data.filters import FlowRunFilter
from data.langflow.source import open_source
from data.langflow.sync import sync_once
from data.steps.pricing import prices, set_price, with_cost
from data.steps.queries import component_stats, run_steps, tokens_by_model, where_time_went


@pytest.fixture
def synced(db_url: str, tmp_path: Path) -> Iterator[Engine]:
    copy = tmp_path / "langflow.sqlite"
    shutil.copy(CURRENT / "langflow.sqlite", copy)
    ours = build_engine(db_url)
    sync_once(ours, open_source(f"sqlite:///{copy}", ours))
    yield ours
    ours.dispose()


def steps_frame(engine: Engine) -> pd.DataFrame:
    found = rows(
        engine,
        "SELECT s.run_id, s.parent_id, s.position, s.name, s.status, s.latency_ms, s.model,"
        " s.input_tokens, s.output_tokens, r.status AS run_status"
        " FROM flowrun_step s JOIN flow_run r ON r.id = s.run_id",
    )
    frame = pd.DataFrame([tuple(r) for r in found], columns=list(found[0]._fields))
    frame["run_id"] = frame["run_id"].map(lambda v: uuid.UUID(str(v)))
    return frame


def failed_run(engine: Engine) -> uuid.UUID:
    [run] = rows(
        engine, "SELECT id FROM flow_run WHERE status = 'failure' AND trigger_type = 'api'"
    )
    return uuid.UUID(str(run.id))


def test_a_run_timeline_and_where_its_time_went(synced: Engine) -> None:
    run_id = failed_run(synced)
    steps = run_steps(synced, run_id)
    frame = steps_frame(synced)
    mine = frame[frame["run_id"] == run_id].sort_values("position")
    assert [s.name for s in steps] == list(mine["name"])
    assert [s.status for s in steps] == ["success", "failure"]
    [duration] = (
        rows(synced, f"SELECT duration_ms FROM flow_run WHERE id = '{run_id.hex}'")
        if (synced.dialect.name == "sqlite")
        else rows(synced, f"SELECT duration_ms FROM flow_run WHERE id = '{run_id}'")
    )
    spent = where_time_went(duration.duration_ms, steps)
    assert (
        spent.slowest is not None
        and spent.slowest.name == mine.loc[mine["latency_ms"].idxmax(), "name"]
    )
    # Langflow's error handling: most of a failed run's time is outside any component.
    merged: list[list[pd.Timestamp]] = []  # the components' intervals, overlaps merged
    for start, end in sorted((pd.Timestamp(s.started_at), pd.Timestamp(s.ended_at)) for s in steps):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    covered = sum((end - start).total_seconds() * 1000 for start, end in merged)
    assert spent.outside_ms == pytest.approx(duration.duration_ms - covered, abs=1)
    assert spent.outside_share is not None and spent.outside_share > 0.5


def test_steps_are_scoped_like_runs(synced: Engine) -> None:
    run_id = failed_run(synced)
    stranger = FlowRunFilter(user_id=uuid.uuid4())
    with pytest.raises(NotFound, match="not found"):
        run_steps(synced, run_id, stranger)
    with pytest.raises(NotFound, match="not found"):
        run_steps(synced, uuid.uuid4())


def test_component_stats_equal_pandas(synced: Engine) -> None:
    frame = steps_frame(synced)
    roots = frame[frame["parent_id"].isna()]
    found = component_stats(synced, FlowRunFilter()).set_index("component")
    failed = roots[roots["status"] == "failure"]
    first = failed.loc[failed.groupby("run_id")["position"].idxmin()]
    for name, group in roots.groupby("name"):
        row = found.loc[name]
        assert row["runs"] == len(group)
        assert row["failures"] == int((group["status"] == "failure").sum())
        latencies = group["latency_ms"].dropna().to_numpy(dtype=float)
        assert row["p50_ms"] == pytest.approx(np.percentile(latencies, 50))
        assert row["p95_ms"] == pytest.approx(np.percentile(latencies, 95))
        assert row["first_failures"] == int((first["name"] == name).sum())
    assert len(found) == roots["name"].nunique()


def test_tokens_by_model_and_their_cost(synced: Engine) -> None:
    frame = steps_frame(synced)
    priced = frame[frame["model"].notna()]
    found = tokens_by_model(synced, FlowRunFilter())
    expected = priced.groupby("model").agg(
        runs=("run_id", "nunique"),
        input_tokens=("input_tokens", "sum"),
        output_tokens=("output_tokens", "sum"),
    )
    assert list(found["model"]) == list(expected.index) == ["gpt-4o-mini"]
    assert found.set_index("model")[["runs", "input_tokens", "output_tokens"]].to_dict() == {
        k: {m: int(v) for m, v in col.items()} for k, col in expected.to_dict().items()
    }
    # Every run's total_tokens is the sum of its LLM calls (the model-bearing steps).
    run_totals = rows(synced, "SELECT sum(total_tokens) AS n FROM flow_run")[0].n
    assert int(run_totals) == int(expected["input_tokens"].sum() + expected["output_tokens"].sum())
    assert with_cost(found, prices(synced))["cost"].isna().all()  # no price set: no cost
    set_price(synced, "gpt-4o-mini", "0.15", "0.6", by="test")
    costed = with_cost(found, prices(synced))
    tokens_in, tokens_out = (
        int(expected["input_tokens"].iloc[0]),
        int(expected["output_tokens"].iloc[0]),
    )
    assert costed["cost"].iloc[0] == pytest.approx(
        float((Decimal(tokens_in) * Decimal("0.15") + Decimal(tokens_out) * Decimal("0.6")) / 10**6)
    )


@pytest.mark.parametrize(
    ("model", "inp", "out", "says"),
    [
        ("", "1", "1", "model:"),
        ("m", "abc", "1", "input price: 'abc' is not a number"),
        ("m", "1", "-2", "output price: must be between 0"),
        ("m", "NaN", "1", "input price: must be between 0"),
        ("m", "1e9", "1", "input price: must be between 0"),
    ],
)
def test_bad_prices_are_refused(engine: Engine, model: str, inp: str, out: str, says: str) -> None:
    with pytest.raises(InvalidQuery, match=says):
        set_price(engine, model, inp, out, by="test")
    assert prices(engine) == {}
