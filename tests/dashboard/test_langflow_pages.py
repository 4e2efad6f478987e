"""The dashboard over runs synced from what a real Langflow 1.13.0 wrote: the run
detail's step timeline, step picker and "where the time went", the Flows page's tokens,
models, components and prices, tokens on Overview and History, and the source badge.
Expected values come from plain SQL over the synced rows, computed apart from the app."""

from __future__ import annotations

import shutil
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from dashworld import app, assert_clean, texts
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from data.db import build_engine
from data.langflow.source import open_source
from data.langflow.sync import sync_once

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "langflow"))
from langflow_fixture import CURRENT


@pytest.fixture
def synced_url(db_url: str, tmp_path: Path) -> str:
    copy = tmp_path / "langflow.sqlite"
    shutil.copy(CURRENT / "langflow.sqlite", copy)
    ours = build_engine(db_url)
    sync_once(ours, open_source(f"sqlite:///{copy}", ours))
    ours.dispose()
    return db_url


def frame(url: str, sql: str) -> pd.DataFrame:
    engine = build_engine(url)
    try:
        with engine.connect() as conn:
            return pd.DataFrame(conn.execute(text(sql)).mappings().all())
    finally:
        engine.dispose()


def _run_detail(monkeypatch: pytest.MonkeyPatch, url: str, run_id: str) -> AppTest:
    at = app(monkeypatch, url, {"range": "all", "run": run_id})
    at.switch_page("views/history.py").run()
    assert_clean(at)
    return at


def _steps_of(url: str, run_id: str) -> pd.DataFrame:
    steps = frame(url, "SELECT * FROM flowrun_step")
    steps["run_id"] = steps["run_id"].map(lambda v: str(uuid.UUID(str(v))))
    return steps[steps["run_id"] == run_id].sort_values("position")


def _plain(markdown: str) -> str:
    return markdown.replace("\\", "").replace("\u2060", "")


def _fields(at: AppTest, first: str) -> pd.DataFrame:
    """The field/value table whose first field is ``first``."""
    return next(
        d.value
        for d in at.dataframe
        if "field" in d.value.columns and next(iter(d.value["field"])) == first
    )


def _failed_run(url: str) -> str:
    runs = frame(url, "SELECT id, status, trigger_type FROM flow_run")
    failed = runs[(runs["status"] == "failure") & (runs["trigger_type"] == "api")]
    return str(uuid.UUID(str(failed["id"].iloc[0])))


def test_run_detail_shows_the_steps_and_where_the_time_went(
    monkeypatch: pytest.MonkeyPatch, synced_url: str
) -> None:
    run_id = _failed_run(synced_url)
    steps = _steps_of(synced_url, run_id)
    at = _run_detail(monkeypatch, synced_url, run_id)
    assert f"Steps ({len(steps)})" in [h.value for h in at.subheader]
    slowest = steps.loc[steps["latency_ms"].idxmax()]
    lines = texts(at.text)
    assert any(
        line.startswith(f"Slowest step: {int(slowest['position']) + 1}. {slowest['name']}")
        for line in lines
    ), lines
    assert any(line.startswith("Outside every step:") for line in lines)
    picker = at.selectbox(key="rd_step")
    assert picker.options == [
        f"{p + 1}. {n}" for p, n in zip(steps["position"], steps["name"], strict=True)
    ]
    failing = steps[steps["status"] == "failure"].iloc[0]
    picker.set_value(int(failing["position"])).run()
    assert_clean(at)
    assert failing["error"] in texts(at.code)  # the span's exception text, as code
    fields = _fields(at, "Step")
    assert fields.set_index("field").loc["Status", "value"] == "● failure"


def test_an_llm_steps_model_tokens_and_cost(
    monkeypatch: pytest.MonkeyPatch, synced_url: str
) -> None:
    steps = frame(synced_url, "SELECT * FROM flowrun_step WHERE model IS NOT NULL")
    step = steps.iloc[0]
    run_id = str(uuid.UUID(str(step["run_id"])))
    engine = build_engine(synced_url)
    from data.steps.pricing import set_price

    set_price(engine, str(step["model"]), "0.15", "0.6", by="test")
    engine.dispose()
    at = _run_detail(monkeypatch, synced_url, run_id)
    at.selectbox(key="rd_step").set_value(int(step["position"])).run()
    fields = _fields(at, "Step")
    shown = fields.set_index("field")["value"]
    assert shown["Model"] == step["model"]
    assert shown["Input tokens"] == f"{int(step['input_tokens']):,}"
    cost = (
        Decimal(int(step["input_tokens"])) * Decimal("0.15")
        + Decimal(int(step["output_tokens"])) * Decimal("0.6")
    ) / Decimal(1_000_000)
    assert shown["Cost"] == f"{cost:,.6f} USD"
    run = frame(synced_url, "SELECT id, total_tokens FROM flow_run")
    run["id"] = run["id"].map(lambda v: str(uuid.UUID(str(v))))
    total = int(run.set_index("id").loc[run_id, "total_tokens"])
    detail = _fields(at, "Status")
    assert detail.set_index("field").loc["Tokens", "value"] == f"{total:,}"


def test_flows_page_tokens_models_and_components(
    monkeypatch: pytest.MonkeyPatch, synced_url: str
) -> None:
    at = app(monkeypatch, synced_url, {"range": "all"})
    at.switch_page("views/flows.py").run()
    assert_clean(at)
    headers = [h.value for h in at.subheader]
    assert {"Tokens per flow", "Tokens by model", "Components", "Model prices"} <= set(headers)
    runs = frame(synced_url, "SELECT r.flow_id, r.total_tokens FROM flow_run r")
    counted = runs[runs["total_tokens"].notna()]
    expected = counted.groupby(counted["flow_id"].map(str))["total_tokens"].sum()
    shown = next(d.value for d in at.dataframe if "tokens per run" in d.value.columns)
    assert int(shown["tokens"].sum()) == int(expected[expected > 0].sum() + 0)
    assert sorted(shown["tokens"]) == sorted(int(v) for v in expected if True)
    steps = frame(synced_url, "SELECT name, status FROM flowrun_step WHERE parent_id IS NULL")
    components = next(d.value for d in at.dataframe if "first to fail" in d.value.columns)
    by_name = steps.groupby("name")["status"]
    assert (
        dict(zip(components["component"], components["runs"], strict=True))
        == by_name.size().to_dict()
    )
    assert dict(zip(components["component"], components["failures"], strict=True)) == {
        name: int((group == "failure").sum()) for name, group in by_name
    }


def test_an_admin_sets_a_price_and_a_bad_one_is_refused(
    monkeypatch: pytest.MonkeyPatch, synced_url: str
) -> None:
    at = app(monkeypatch, synced_url, {"range": "all"})
    at.switch_page("views/flows.py").run()
    model = str(
        frame(synced_url, "SELECT model FROM flowrun_step WHERE model IS NOT NULL")["model"].iloc[0]
    )
    at.selectbox(key="price_model_pick").set_value(model)
    at.text_input(key="price_in").input("abc")
    at.text_input(key="price_out").input("0.6")
    at.button[[b.label for b in at.button].index("Save price")].click().run()
    assert any("input price" in e for e in texts(at.error))
    assert frame(synced_url, "SELECT * FROM flowrun_model_price").empty
    at.text_input(key="price_in").input("0.15")
    at.button[[b.label for b in at.button].index("Save price")].click().run()
    assert not at.exception
    stored = frame(synced_url, "SELECT model, input_per_million FROM flowrun_model_price")
    assert list(stored["model"]) == [model]
    assert Decimal(str(stored["input_per_million"].iloc[0])) == Decimal("0.15")
    models = next(
        d.value for d in at.dataframe if "cost" in d.value.columns and "model" in d.value.columns
    )
    tokens = models.set_index("model").loc[model]
    expected = (int(tokens["input_tokens"]) * 0.15 + int(tokens["output_tokens"]) * 0.6) / 1e6
    assert tokens["cost"] == pytest.approx(expected)


def test_read_only_hides_the_price_form(monkeypatch: pytest.MonkeyPatch, synced_url: str) -> None:
    at = app(monkeypatch, synced_url, {"range": "all"}, read_only="1")
    at.switch_page("views/flows.py").run()
    assert_clean(at)
    assert "Model prices" in [h.value for h in at.subheader]
    assert not [b for b in at.button if b.label == "Save price"]


def test_source_badge_and_tokens_on_overview_and_history(
    monkeypatch: pytest.MonkeyPatch, synced_url: str
) -> None:
    at = app(monkeypatch, synced_url, {"range": "all"})
    assert_clean(at)
    badge = [_plain(c) for c in texts(at.caption) if "Langflow at" in c]
    assert badge and "synced" in badge[0] and "langflow.sqlite" in badge[0]
    assert "Tokens over time" in [h.value for h in at.subheader]
    total = int(frame(synced_url, "SELECT sum(total_tokens) AS n FROM flow_run")["n"].iloc[0])
    assert any(f"{total:,} tokens in" in c.replace("\\", "") for c in texts(at.caption))
    at.switch_page("views/history.py").run()
    table = next(d.value for d in at.dataframe if "run id" in d.value.columns)
    assert int(table["tokens"].fillna(0).sum()) == total


def test_recorded_runs_badge_without_a_sync(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    from dashworld import seed

    seed(sqlite_url, runs=20)
    at = app(monkeypatch, sqlite_url, {"range": "all"})
    assert_clean(at)
    assert any("Recorded runs" in c for c in texts(at.caption))
    assert "Tokens over time" not in [h.value for h in at.subheader]
