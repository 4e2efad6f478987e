"""The benchmark command on a 2,000-run SQLite dataset, so that it cannot rot: every
scenario runs (in-process, to stay fast), its counts agree with pandas over the same
rows, and the report and its chart are written."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd
from sqlalchemy import create_engine

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 1, tzinfo=UTC)  # the demo's fixed "now" (bench/data_bench.py)
SCENARIOS = {"overview", "flows", "errors", "paging", "filtered_depths", "retention"}


def test_bench_harness_on_2000_runs(tmp_path: Path) -> None:
    results, report = tmp_path / "run.json", tmp_path / "RESULTS.md"
    command = [sys.executable, "-m", "bench.run", "--sizes", "2k", "--backends", "sqlite"]
    command += ["--in-process", "--repeats", "1", "--delete-budget", "0.3"]
    command += ["--only", ",".join(sorted(SCENARIOS)), "--cache", str(tmp_path)]
    command += ["--results", str(results), "--report", str(report)]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=120)

    rows = json.loads(results.read_text())["sqlite/2k"]["rows"]
    assert {r["scenario"] for r in rows if r["approach"] == "ours"} == SCENARIOS
    assert {r["approach"] for r in rows} == {
        "ours",
        "exact",
        "orm",
        "pandas",
        "offset",
        "one_by_one",
    }
    assert all(0 < r["min_s"] <= r["median_s"] <= r["max_s"] for r in rows)

    # Independent check: the scenarios' own counts against pandas over the same rows.
    engine = create_engine(f"sqlite:///{tmp_path / 'flowruns_bench_2000.db'}")
    frame = pd.read_sql("SELECT status, started_at FROM flow_run", engine)
    started = pd.to_datetime(frame["started_at"], utc=True, format="mixed")
    assert len(frame) == 2000  # the retention scenario ran on a copy
    delete = next(r for r in rows if r["scenario"] == "retention" and r["approach"] == "ours")
    assert delete["matching"] == delete["rows"] == int((started < NOW - timedelta(days=30)).sum())
    by_status = next(
        r for r in rows if r["scenario"] == "filtered_depths" and r["variant"] == "status filter"
    )
    assert by_status["matching"] == int((frame["status"].str.lower() == "failure").sum())

    text = report.read_text()
    assert "| 90-day overview data, 1M runs |" in text and "### sqlite/2k: 2,000 runs" in text
    svg = ElementTree.parse(tmp_path / "results.svg").getroot()
    assert len(svg.findall("{http://www.w3.org/2000/svg}rect")) == len(rows)
