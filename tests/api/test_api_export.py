"""CSV export (/export.csv and ?format=csv) parsed back with pandas."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pandas as pd
from apiworld import API, World
from fastapi.testclient import TestClient

from data.export import EXPORT_COLUMNS

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def read_csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


def test_export_contains_every_run_with_all_columns(client: TestClient, world: World) -> None:
    response = client.get(API + "/export.csv", headers=world.headers("admin"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith('attachment; filename="flow-runs-')
    frame = read_csv(response.text)
    assert len(frame) == len(world.truth)
    truth = world.truth.assign(id=world.truth["id"].map(str)).set_index("id")
    exported = frame.set_index("id").loc[truth.index]
    assert (exported["status"] == truth["status"]).all()
    assert (exported["flow_id"] == truth["flow_id"].map(str)).all()
    started = pd.to_datetime(exported["started_at"], utc=True, format="ISO8601")
    assert (started == truth["started_at"]).all()
    assert exported["started_at"].str.endswith("+00:00").all()
    durations = truth["duration_ms"].map(lambda v: "" if pd.isna(v) else str(int(v)))
    assert (exported["duration_ms"] == durations).all()
    inputs = exported["inputs"].map(json.loads)
    assert (inputs == truth["inputs"]).all()


def test_formula_cells_are_neutralised(client: TestClient, world: World) -> None:
    response = client.get(
        API + "/export.csv",
        params={"columns": "id,flow_name,error_message", "status": "failure"},
        headers=world.headers("admin"),
    )
    frame = read_csv(response.text)
    assert list(frame.columns) == ["id", "flow_name", "error_message"]
    truth = world.truth.assign(id=world.truth["id"].map(str)).set_index("id")
    for run_id, row in frame.set_index("id").iterrows():
        original = truth.loc[run_id, "error_message"]
        expected = "'" + original if original.startswith(FORMULA_START) else original
        assert row["error_message"] == expected
        assert not row["flow_name"].startswith(FORMULA_START)
    assert frame["error_message"].str.startswith("'=").any()
    assert (frame["flow_name"] == "'=Gamma").any()


def test_export_applies_filters(client: TestClient, world: World) -> None:
    start = world.now - timedelta(days=3)
    params = {"started_after": start.isoformat(), "trigger_type": "webhook", "columns": "id"}
    frame = read_csv(
        client.get(API + "/export.csv", params=params, headers=world.headers("bob")).text
    )
    bobs = world.runs_of("bob")
    expected = bobs[(bobs["started_at"] >= start) & (bobs["trigger_type"] == "webhook")]
    assert sorted(frame["id"]) == sorted(map(str, expected["id"]))


def test_list_format_csv_streams_the_same_rows(client: TestClient, world: World) -> None:
    params = {"format": "csv", "status": "success", "columns": "id,status", "limit": 3}
    response = client.get(API + "/", params=params, headers=world.headers("admin"))
    assert response.headers["content-type"].startswith("text/csv")
    frame = read_csv(response.text)
    assert len(frame) == (world.truth["status"] == "success").sum()  # limit does not apply
    assert set(frame["status"]) == {"success"}


def test_unknown_columns_are_400(client: TestClient, world: World) -> None:
    response = client.get(
        API + "/export.csv", params={"columns": "id,password"}, headers=world.headers("admin")
    )
    assert response.status_code == 400
    assert "password" in response.json()["detail"]


def test_repeated_columns_are_exported_once(client: TestClient, world: World) -> None:
    response = client.get(
        API + "/export.csv",
        params={"columns": "status,id,status, id,status"},
        headers=world.headers("admin"),
    )
    assert response.status_code == 200
    assert response.text.splitlines()[0] == "status,id"
    limit = 2 * len(EXPORT_COLUMNS)
    too_many = client.get(
        API + "/export.csv",
        params={"columns": ",".join(["id"] * (limit + 1))},
        headers=world.headers("admin"),
    )
    assert too_many.status_code == 400 and f"at most {limit}" in too_many.json()["detail"]
