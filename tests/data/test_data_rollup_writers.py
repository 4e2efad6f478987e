"""What other writers do to flow_run, and the rollup staying equal to the runs (issue 16,
cases 1, 3, 8 and 9): SQLite's REPLACE family, times in other ISO forms, durations near
2^62, and runs written by another process while a migration swaps the triggers.

Each expected figure is computed here from the rows as stored (plain SQL reads and
Python), never by the code under test."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from runfactory import World
from sqlalchemy import Engine, text

from data import migrate
from data import queries as q
from data.canonical_time import CANONICAL_GLOB
from data.cli.main import main
from data.db import build_engine
from data.filters import FlowRunFilter
from data.rollup import maintain
from data.rollup.maintain import check

INSERT = (
    "INSERT {verb} flow_run (id, flow_id, status, started_at, duration_ms, trigger_type,"
    " components_executed) VALUES (:id, :flow, :status, :started, :duration, 'api', 0)"
)


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    engine = build_engine(sqlite_url)
    yield engine
    engine.dispose()


def _flow(engine: Engine) -> str:
    flow = uuid.uuid4().hex
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO flow (id, name, updated_at) VALUES (:f, 'f', '2024-01-01')"),
            {"f": flow},
        )
    return flow


def _stored_counts(engine: Engine) -> dict[str, int]:
    """Runs per status as stored, counted in Python."""
    with engine.connect() as conn:
        statuses = conn.execute(text("SELECT status FROM flow_run")).scalars().all()
    counts: dict[str, int] = {}
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    return counts


def _assert_rollup_equals_rows(engine: Engine) -> None:
    assert check(engine).consistent
    stats = q.run_stats(engine, FlowRunFilter(), compare=False, exact=False)
    assert stats.status_counts == _stored_counts(engine)


@pytest.mark.parametrize(
    "statement",
    [
        INSERT.replace("{verb}", "OR REPLACE INTO"),
        INSERT.replace("INSERT {verb}", "REPLACE INTO"),
    ],
    ids=["insert-or-replace", "replace-into"],
)
def test_sqlite_replace_takes_the_replaced_run_out(sqlite_engine: Engine, statement: str) -> None:
    """Case 1: a run inserted as running, then replaced as success, counted once."""
    flow = _flow(sqlite_engine)
    row = {"id": "r1", "flow": flow, "started": "2024-01-02 03:04:05.000000"}
    with sqlite_engine.begin() as conn:
        conn.execute(
            text(INSERT.replace("{verb}", "INTO")), row | {"status": "running", "duration": None}
        )
        conn.execute(text(statement), row | {"status": "success", "duration": 1200})
    _assert_rollup_equals_rows(sqlite_engine)
    stats = q.run_stats(sqlite_engine, FlowRunFilter(), compare=False, exact=False)
    assert (stats.total, stats.status_counts) == (1, {"success": 1})


def test_sqlite_update_or_replace_onto_another_id(sqlite_engine: Engine) -> None:
    """UPDATE OR REPLACE moving a run onto another run's id removes that run silently."""
    flow = _flow(sqlite_engine)
    with sqlite_engine.begin() as conn:
        for i, status in enumerate(("failure", "success", "cancelled")):
            conn.execute(
                text(INSERT.replace("{verb}", "INTO")),
                {"id": f"r{i}", "flow": flow, "status": status, "duration": 10 * i,
                 "started": f"2024-01-0{i + 1} 03:04:05.000000"},
            )  # fmt: skip
        conn.execute(text("UPDATE OR REPLACE flow_run SET id = 'r1' WHERE id = 'r0'"))
    _assert_rollup_equals_rows(sqlite_engine)
    assert _stored_counts(sqlite_engine) == {"failure": 1, "cancelled": 1}


def test_sqlite_replace_with_recursive_triggers_and_ignored_inserts(sqlite_url: str) -> None:
    """A writer with recursive triggers on (the delete trigger fires for the replaced row)
    is not subtracted twice; an INSERT OR IGNORE that inserts nothing leaves no trace."""
    path = sqlite_url.removeprefix("sqlite:///")
    engine = build_engine(sqlite_url)
    flow = _flow(engine)
    with closing(sqlite3.connect(path)) as other:
        other.execute("PRAGMA recursive_triggers = ON")
        values = ("r1", flow, "2024-01-02 03:04:05.000000", 100)
        sql = (
            "INSERT {} INTO flow_run (id, flow_id, status, started_at, duration_ms,"
            " trigger_type, components_executed) VALUES (?, ?, ?, ?, ?, 'api', 0)"
        )
        other.execute(sql.format(""), (values[0], values[1], "running", *values[2:]))
        other.execute(sql.format("OR REPLACE"), (values[0], values[1], "success", *values[2:]))
        other.execute(sql.format("OR IGNORE"), (values[0], values[1], "failure", *values[2:]))
        other.commit()
    with closing(sqlite3.connect(path)) as plain:  # recursive triggers off, as by default
        plain.execute("DELETE FROM flow_run WHERE id = 'r1'")
        plain.execute(sql.format(""), (values[0], values[1], "cancelled", *values[2:]))
        plain.commit()
    try:
        _assert_rollup_equals_rows(engine)
        assert _stored_counts(engine) == {"cancelled": 1}
    finally:
        engine.dispose()


# (as another engine wrote it, the same instant in UTC)
TIME_FORMS = [
    ("2026-01-02T03:04:05+05:00", datetime(2026, 1, 1, 22, 4, 5, tzinfo=UTC)),
    ("2026-01-02T04:59:59+05:00", datetime(2026, 1, 1, 23, 59, 59, tzinfo=UTC)),
    ("2026-01-01T23:30:00-03:00", datetime(2026, 1, 2, 2, 30, tzinfo=UTC)),
    ("2026-01-01T12:00:00Z", datetime(2026, 1, 1, 12, tzinfo=UTC)),
    ("2026-01-01 12:00:01", datetime(2026, 1, 1, 12, 0, 1, tzinfo=UTC)),
    ("2026-01-01T23:59:59.999999", datetime(2026, 1, 1, 23, 59, 59, 999999, tzinfo=UTC)),
    ("2026-01-02 00:00:00.5", datetime(2026, 1, 2, 0, 0, 0, 500000, tzinfo=UTC)),
]


def run_id(name: str, engine: Engine) -> str:
    """A stable run id for a test's name, as the backend stores ids."""
    value = uuid.uuid5(uuid.NAMESPACE_URL, name)
    return value.hex if engine.dialect.name == "sqlite" else str(value)


# SQLite keeps the microsecond a finer fraction falls in (the day stays the day);
# PostgreSQL rounds it, so 23:59:59.9999996 is the next day there.
FINER_THAN_MICROSECONDS = (
    "2026-01-01T23:59:59.9999996",
    datetime(2026, 1, 1, 23, 59, 59, 999999, tzinfo=UTC),
)


def _insert_forms(
    engine: Engine, flow: str, forms: list[tuple[str, datetime]] = TIME_FORMS
) -> None:
    with engine.begin() as conn:
        for i, (stored, _) in enumerate(forms):
            conn.execute(
                text(INSERT.replace("{verb}", "INTO")),
                {
                    "id": run_id(f"t{i}", engine),
                    "flow": flow,
                    "status": "success",
                    "duration": 5,
                    "started": stored,
                },
            )


def test_sqlite_times_in_other_forms_are_stored_canonically(sqlite_engine: Engine) -> None:
    """Case 3: what another engine writes is rewritten to our form, the same instant."""
    forms = [*TIME_FORMS, FINER_THAN_MICROSECONDS]
    _insert_forms(sqlite_engine, _flow(sqlite_engine), forms)
    with sqlite_engine.connect() as conn:
        stored = dict(conn.execute(text("SELECT id, started_at FROM flow_run")).all())
        canonical = conn.execute(
            text(f"SELECT count(*) FROM flow_run WHERE started_at GLOB '{CANONICAL_GLOB}'")
        ).scalar_one()
    assert canonical == len(forms)
    for i, (_, instant) in enumerate(forms):
        assert stored[run_id(f"t{i}", sqlite_engine)] == instant.strftime("%Y-%m-%d %H:%M:%S.%f")
    _assert_rollup_equals_rows(sqlite_engine)


def run_cli(capsys: pytest.CaptureFixture[str], url: str, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(["--database-url", url, *argv])
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_day_counts_agree_on_every_path_whatever_the_stored_form(
    engine: Engine, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Case 3: `stats --since/--until`, the list's total and its rows, and the rollup
    all count a run on the day of its instant (counted here from TIME_FORMS)."""
    if engine.dialect.name == "postgresql":
        flow = str(uuid.uuid4())
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO flow (id, name, updated_at) VALUES (:f, 'f', now())"), {"f": flow}
            )
    else:
        flow = _flow(engine)
    _insert_forms(engine, flow)
    day = datetime(2026, 1, 1, tzinfo=UTC)
    expected = sum(day <= instant < day + timedelta(days=1) for _, instant in TIME_FORMS)
    window = ("--since", "2026-01-01", "--until", "2026-01-02")
    code, out, _ = run_cli(capsys, db_url, "stats", "--json", "--exact", *window)
    assert code == 0 and json.loads(out)["total_runs"] == expected
    flt = FlowRunFilter(started_after=day, started_before=day + timedelta(days=1))
    page = q.list_runs(engine, flt, limit=50)
    assert q.count_runs(engine, flt) == len(page.runs) == expected  # X-Total-Count and rows
    listed = {str(run.id).replace("-", "") for run in page.runs}
    inside = [
        i for i, (_, instant) in enumerate(TIME_FORMS) if day <= instant < day + timedelta(days=1)
    ]
    assert listed == {run_id(f"t{i}", engine).replace("-", "") for i in inside}
    rolled = q.run_stats(engine, flt, compare=False, exact=False)
    assert rolled.total == expected


@pytest.mark.parametrize("duration", [2**62, 2**40 + 1, -(2**62)])
def test_durations_past_the_usable_range_do_not_overflow(
    engine: Engine, world: World, db_url: str, capsys: pytest.CaptureFixture[str], duration: int
) -> None:
    """Case 8: runs lasting near 2^62 ms are counted as runs without a duration; `stats`
    and `rollup check` answer instead of failing with "integer overflow"."""
    world.add(world.run(started_at=datetime(2026, 1, 1, h, tzinfo=UTC), duration_ms=duration)
              for h in range(3))  # fmt: skip
    world.add([world.run(started_at=datetime(2026, 1, 1, 5, tzinfo=UTC), duration_ms=1000)])
    assert run_cli(capsys, db_url, "rollup", "check")[0] == 0
    for extra in ((), ("--exact",)):
        code, out, err = run_cli(capsys, db_url, "stats", "--json", *extra)
        assert code == 0, err
        found = json.loads(out)
        assert (found["without_duration"], found["avg_duration_ms"]) == (3, 1000.0)


def _insert_blocked(path: str, flow: str, run_id: str) -> bool:
    """Whether another process's insert was refused at once for the write lock."""
    with closing(sqlite3.connect(path, timeout=0.05)) as other:
        try:
            other.execute(
                "INSERT INTO flow_run (id, flow_id, status, started_at, trigger_type,"
                " components_executed) VALUES (?, ?, 'success', '2024-01-05 00:00:00.000000',"
                " 'api', 0)",
                (run_id, flow),
            )
            other.commit()
        except sqlite3.OperationalError as exc:
            assert "locked" in str(exc)
            return True
    return False


def test_sqlite_migration_keeps_other_writers_out_until_it_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Case 9: 0004 takes the triggers off to rebuild the histograms. A run written by
    another process while they were off was missing from the rollup; now the migration
    holds the write lock from its first statement, and the writer waits."""
    path = str(tmp_path / "migrating.db")
    url = f"sqlite:///{path}"
    migrate.upgrade(url, "0003")
    engine = build_engine(url)
    flow = _flow(engine)
    engine.dispose()
    attempts: list[bool] = []
    original = maintain.uninstall

    def uninstall_then_write(conn: Any) -> None:
        original(conn)
        attempts.append(_insert_blocked(path, flow, f"w{len(attempts)}"))

    monkeypatch.setattr(maintain, "uninstall", uninstall_then_write)
    migrate.upgrade(url)
    assert attempts and all(attempts)  # every write attempted mid-migration waited
    assert not _insert_blocked(path, flow, "after")
    engine = build_engine(url)
    try:
        assert check(engine).consistent
        assert q.run_stats(engine, FlowRunFilter(), compare=False, exact=False).total == 1
    finally:
        engine.dispose()


TOKENS = [None, 0, 1, 15_000, 2**40, 2**40 + 1, -5, 7]


def test_tokens_are_summed_alike_by_the_rollup_and_raw_rows(engine: Engine, world: World) -> None:
    """Issue 17: total_tokens is summed in the rollup; a count outside 0..2^40 (another
    engine's) counts as no count, on both paths; updates and deletes follow."""
    world.add(
        world.run(started_at=datetime(2026, 2, 1, h % 24, tzinfo=UTC), total_tokens=tokens)
        for h, tokens in enumerate(TOKENS * 3)
    )
    with engine.begin() as conn:
        conn.execute(text("UPDATE flow_run SET total_tokens = 100 WHERE total_tokens = 7"))
        conn.execute(text("DELETE FROM flow_run WHERE total_tokens = 15000"))
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT total_tokens FROM flow_run")).scalars().all()
    usable = [t for t in stored if t is not None and 0 <= t <= 2**40]
    assert check(engine).consistent
    for exact in (True, False):
        stats = q.run_stats(engine, FlowRunFilter(), compare=False, exact=exact)
        assert (stats.token_runs, stats.total_tokens) == (len(usable), sum(usable))
        flows = q.flow_breakdown(engine, FlowRunFilter(), exact=exact)
        assert int(flows["total_tokens"].sum()) == sum(usable)
        window = FlowRunFilter(
            started_after=datetime(2026, 2, 1, tzinfo=UTC),
            started_before=datetime(2026, 2, 2, tzinfo=UTC),
        )
        series = q.run_timeseries(engine, window, bucket="hour", exact=exact)
        assert int(series["total_tokens"].sum()) == sum(usable)
