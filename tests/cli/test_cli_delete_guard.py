"""``flowruns delete`` uses the API's guard: a filter that matches every deletable run
(``--older-than-days 0``, ``--since 1900-01-01``, ...) needs ``--all`` as much as no filter
does; exit 2 with one line naming ``--all``, nothing deleted, no audit entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from data import queries as q
from data.audit import list_entries
from data.cli.main import main
from data.demo import generate_demo
from data.filters import FlowRunFilter
from data.models import FlowRunStatus

NOW = datetime.now(UTC)
FINISHED = FlowRunFilter(statuses=FlowRunStatus.finished())


def run_cli(capsys: pytest.CaptureFixture[str], db_url: str, *argv: str) -> tuple[int, str, str]:
    code = main(["--database-url", db_url, "delete", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    generate_demo(engine, 400, days=10, now=NOW, seed=5)
    return engine


@pytest.mark.parametrize(
    "argv",
    [
        ("--older-than-days", "0"),
        ("--since", "1900-01-01"),
        ("--older-than-days", "0", "--dry-run"),
        ("--status", "success", "--status", "failure", "--status", "cancelled"),
    ],
)
def test_a_filter_matching_every_deletable_run_needs_all(
    db_url: str, seeded: Engine, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    before = q.count_runs(seeded, FlowRunFilter())
    code, out, err = run_cli(capsys, db_url, *argv)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "--all" in err and "all=true" not in err
    assert f"matches every deletable run ({q.count_runs(seeded, FINISHED)})" in err
    assert q.count_runs(seeded, FlowRunFilter()) == before
    assert list_entries(seeded).entries == []


def test_with_all_the_same_filter_deletes_every_finished_run(
    db_url: str, seeded: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    finished = q.count_runs(seeded, FINISHED)
    active = q.count_runs(seeded, FlowRunFilter(statuses=FlowRunStatus.active()))
    code, out, _ = run_cli(capsys, db_url, "--older-than-days", "0", "--all")
    assert code == 0 and f"deleted {finished:,} run(s)" in out
    assert q.count_runs(seeded, FlowRunFilter()) == active


def test_a_filter_that_leaves_some_runs_needs_no_all(
    db_url: str, seeded: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    old = FlowRunFilter(statuses=FlowRunStatus.finished(), started_before=NOW - timedelta(days=5))
    expected = q.count_runs(seeded, old)
    assert 0 < expected < q.count_runs(seeded, FINISHED)
    code, out, _ = run_cli(capsys, db_url, "--until", (NOW - timedelta(days=5)).isoformat())
    assert code == 0 and f"deleted {expected:,} run(s)" in out
    assert q.count_runs(seeded, old) == 0
