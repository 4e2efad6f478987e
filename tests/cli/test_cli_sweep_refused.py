"""``flowruns sweep-stuck`` when the database refuses some runs: the others are swept, the
command still exits 0 and says on stderr, in one line, how many were skipped."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text, update

from data import queries as q
from data.audit import list_entries
from data.cli.main import main
from data.demo import generate_demo
from data.filters import FlowRunFilter
from data.models import FlowRun, FlowRunStatus
from data.recorder import start_run

NOW = datetime.now(UTC)
TIMEOUT_MINUTES = 60


@contextmanager
def refusing_updates_of(engine: Engine, run_id: uuid.UUID) -> Iterator[None]:
    """A trigger that makes the database refuse any update of one run, as a constraint
    of another engine's schema would (dropped afterwards: the PostgreSQL database is
    shared by the session)."""
    with engine.begin() as conn:
        # The id as the backend stores it (hex text on SQLite, uuid on PostgreSQL).
        stored = conn.execute(text("SELECT id FROM flow_run")).scalars().all()
        raw = next(value for value in stored if uuid.UUID(str(value)) == run_id)
        if engine.dialect.name == "sqlite":
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_one BEFORE UPDATE ON flow_run "
                    f"WHEN OLD.id = '{raw}' BEGIN SELECT RAISE(ABORT, 'refused by test'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    "RAISE EXCEPTION 'refused by test' USING ERRCODE = 'check_violation'; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_one BEFORE UPDATE ON flow_run FOR EACH ROW "
                    f"WHEN (OLD.id = '{raw}') EXECUTE FUNCTION refuse_one()"
                )
            )
    try:
        yield
    finally:
        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                conn.execute(text("DROP TRIGGER IF EXISTS refuse_one"))
            else:
                conn.execute(text("DROP TRIGGER IF EXISTS refuse_one ON flow_run"))
                conn.execute(text("DROP FUNCTION IF EXISTS refuse_one()"))


def add_stuck(engine: Engine, runs: int) -> None:
    """Demo runs, plus ``runs`` runs left in running/pending for hours (the demo's own
    active runs are recent)."""
    generate_demo(engine, 200, days=5, now=NOW, seed=11)
    flow_id = q.list_runs(engine, FlowRunFilter()).runs[0].flow_id
    for index in range(runs):
        run_id = start_run(engine, flow_id, started_at=NOW - timedelta(hours=2 + index))
        if index % 2:
            with engine.begin() as conn:
                conn.execute(update(FlowRun).where(FlowRun.id == run_id).values(status="pending"))


def stale_filter() -> FlowRunFilter:
    return FlowRunFilter(
        statuses=FlowRunStatus.active(),
        started_before=datetime.now(UTC) - timedelta(minutes=TIMEOUT_MINUTES),
    )


def sweep(db_url: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["--database-url", db_url, "sweep-stuck", "--timeout-minutes", "60"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_refused_runs_are_counted_on_stderr_and_the_rest_swept(
    db_url: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    add_stuck(engine, 4)
    stale = [r["id"] for chunk in q.iter_runs(engine, stale_filter()) for r in chunk]
    assert len(stale) >= 4
    refused = stale[0]
    with refusing_updates_of(engine, refused):
        code, out, err = sweep(db_url, capsys)
    assert code == 0
    assert f"marked {len(stale) - 1:,} run(s)" in out
    assert err == "skipped 1 runs the database refused (see the audit log)\n"
    assert {r["id"] for chunk in q.iter_runs(engine, stale_filter()) for r in chunk} == {refused}
    entry = list_entries(engine).entries[0]
    assert (entry.action, entry.matched, entry.affected) == ("sweep", len(stale), len(stale) - 1)
    assert entry.error is not None and str(refused) in entry.error


def test_a_sweep_with_nothing_refused_prints_nothing_on_stderr(
    db_url: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    add_stuck(engine, 3)
    expected = q.count_runs(engine, stale_filter())
    code, out, err = sweep(db_url, capsys)
    assert (code, err) == (0, "")
    assert f"marked {expected:,} run(s)" in out
