"""Percentiles read from the rollup are labelled approximate (≈) on the Overview tiles,
the duration chart and the Flows page; exact ones are not (AppTest, both backends)."""

from __future__ import annotations

import pytest
from dashworld import app, assert_clean, seed

from dashboard.components.kpis import APPROXIMATE_NOTE
from data.rollup import reader


def _texts(at: object) -> list[str]:
    return [c.value for c in at.caption] + [h.value for h in at.subheader]  # type: ignore[attr-defined]


@pytest.mark.parametrize("limit", [0, 10**9])
def test_approximate_percentiles_are_labelled(
    monkeypatch: pytest.MonkeyPatch, db_url: str, limit: int
) -> None:
    seed(db_url)
    monkeypatch.setattr(reader, "RAW_LIMIT", limit)
    approximate = limit == 0
    at = app(monkeypatch, db_url, {"range": "30d"})
    assert_clean(at)
    values = {m.label: m.value for m in at.metric}
    assert values["p95 duration"].startswith("≈ ") is approximate
    assert values["p50 duration"].startswith("≈ ") is approximate
    assert (APPROXIMATE_NOTE in _texts(at)) is approximate
    assert ("Duration p50 / p95 (≈ approximate)" in _texts(at)) is approximate
    at.switch_page("views/flows.py").run()
    assert_clean(at)
    assert (APPROXIMATE_NOTE in _texts(at)) is approximate
