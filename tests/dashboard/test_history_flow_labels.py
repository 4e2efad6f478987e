"""History tells same-named flows apart: the table's flow column and the run chooser use
the flows' unique labels (name plus owner or short id), as every flow picker does."""

from __future__ import annotations

from collections import Counter

import pytest
from dashworld import SEED_NOW, app, assert_clean
from flows_errors_world import same_named_flows

from dashboard.formatting import flow_labels


def test_history_table_and_chooser_use_unique_flow_labels(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    world = same_named_flows(sqlite_url, SEED_NOW)
    owners = {"ann": "ann", "bob": "bob", "orphan1": None, "orphan2": None, "other": "ann"}
    names = {key: "other" if key == "other" else "ingest" for key in owners}
    labels = flow_labels(
        (world.flows[key], names[key], owners[key]) for key in owners
    )  # independent of the app's cached labels: built from what the test wrote
    expected = {str(run["id"]): labels[str(run["flow_id"])] for run in world.runs}
    assert len(set(labels.values())) == 5

    at = app(monkeypatch, sqlite_url, {"range": "all"})
    at.switch_page("views/history.py").run()
    assert_clean(at)
    table = at.dataframe[0].value
    shown = dict(zip(table["run id"], table["flow"], strict=True))
    assert shown == expected  # every run of the 22, each under its own flow's label
    chooser = at.selectbox(key="h_selected").options
    per_flow = Counter(label.split(" · ")[1] for label in chooser)
    assert per_flow == Counter(expected.values())
    assert per_flow["ingest (bob)"] == world.count("bob") == 9
