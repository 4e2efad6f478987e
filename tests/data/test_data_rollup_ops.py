"""Rollup operations: routing by filter and zone, `check` finds an injected inconsistency
and `rebuild` repairs it, the migration builds the rollup from existing rows and the
downgrade removes it, and the planner reads the rollup for a 90-day overview."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from runfactory import World, at
from sqlalchemy import Engine, event, text

from data import migrate
from data import queries as q
from data.cli.main import main
from data.db import build_engine
from data.filters import FlowRunFilter
from data.rollup import reader
from data.rollup.maintain import check, rebuild
from data.rollup.routing import rollup_grain
from data.rollup.schema import all_tables

DAYS = FlowRunFilter(started_after=at(), started_before=at(days=3))


def seed(world: World, count: int = 60) -> None:
    world.add(
        world.run(
            flow=i % 3,
            status=("success", "failure", "running")[i % 3],
            started_at=at(hours=i),
            duration_ms=None if i % 3 == 2 else 100 + 37 * i,
        )
        for i in range(count)
    )


def test_compatibility_rule() -> None:
    assert rollup_grain(DAYS) == "day"
    assert rollup_grain(DAYS.replace(started_after=at(hours=5))) == "hour"
    assert rollup_grain(DAYS.replace(started_after=at(minutes=30))) is None
    for field, value in (
        ("error_contains", "boom"),
        ("session_id", "s"),
        ("min_duration_ms", 5),
        ("trigger_types", ("api",)),
        ("error_types", ("ValueError",)),
    ):
        assert rollup_grain(DAYS.replace(**{field: value})) is None, field
    assert rollup_grain(DAYS, bucket="hour") == "hour"
    span = (at(), at(days=3))
    berlin, kolkata = q.buckets.zone("Europe/Berlin"), q.buckets.zone("Asia/Kolkata")
    assert rollup_grain(DAYS, bucket="day", zone=berlin, span=span) == "hour"
    assert rollup_grain(DAYS, bucket="day", zone=kolkata, span=span) is None


def test_zones_route_and_match_raw_rows(engine: Engine, world: World) -> None:
    seed(world)
    for tz, approximate in (("Europe/Berlin", True), ("Asia/Kolkata", False)):
        approx = q.run_timeseries(engine, DAYS, bucket="day", tz=tz, exact=False)
        exact = q.run_timeseries(engine, DAYS, bucket="day", tz=tz, exact=True)
        assert approx.attrs["approximate"] is approximate
        assert exact.attrs["approximate"] is False
        assert approx["bucket"].tolist() == exact["bucket"].tolist()
        assert approx["runs"].tolist() == exact["runs"].tolist()
        assert approx["failure"].tolist() == exact["failure"].tolist()


def test_default_routing_uses_raw_rows_below_the_limit(
    engine: Engine, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(world)
    assert q.run_stats(engine, DAYS).approximate is False
    monkeypatch.setattr(reader, "RAW_LIMIT", 10)
    assert q.run_stats(engine, DAYS).approximate is True
    assert q.run_stats(engine, DAYS, exact=True).approximate is False
    assert q.flow_breakdown(engine, DAYS).attrs["approximate"] is True


def test_check_finds_an_injected_inconsistency_and_rebuild_repairs_it(
    engine: Engine, world: World
) -> None:
    seed(world)
    assert check(engine).consistent
    with engine.begin() as conn:
        conn.execute(text("UPDATE flowrun_rollup_day SET runs = runs + 1 WHERE status = 'success'"))
        conn.execute(text("DELETE FROM flowrun_rollup_hour_hist WHERE bucket > 0"))
    found = check(engine)
    assert found.differences["flowrun_rollup_day"] > 0
    assert found.differences["flowrun_rollup_hour_hist"] > 0
    assert found.differences["flowrun_rollup_hour"] == 0
    rebuild(engine)
    assert check(engine).consistent
    assert q.run_stats(engine, DAYS, exact=False).total == 60


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def remember(*args: Any) -> None:
        seen.append((args[2], args[3]))

    event.listen(engine, "before_cursor_execute", remember)
    yield seen
    event.remove(engine, "before_cursor_execute", remember)


def test_a_90_day_overview_reads_only_the_rollup(
    engine: Engine, world: World, statements: list[tuple[str, Any]]
) -> None:
    seed(world)
    ninety = FlowRunFilter(started_after=at(days=-87), started_before=at(days=3))
    q.run_stats(engine, ninety, exact=False)
    q.run_timeseries(engine, ninety, exact=False)
    aggregates = [(s, p) for s, p in statements if "sum(" in s.lower()]
    assert aggregates and all("flow_run " not in s for s, _ in aggregates)
    explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as conn:
        for statement, parameters in aggregates:
            if "flowrun_rollup_day" not in statement:
                continue
            plan = " ".join(str(r) for r in conn.exec_driver_sql(explain + statement, parameters))
            assert "flowrun_rollup_day" in plan and "flow_run " not in plan


def test_migration_builds_the_rollup_from_existing_rows_and_downgrade_drops_it(
    engine: Engine, world: World, db_url: str
) -> None:
    seed(world)
    migrate.downgrade(db_url, "0002")
    with engine.connect() as conn:
        tables = set(engine.dialect.get_table_names(conn))
    assert not tables & set(all_tables())
    # Without triggers, a write is not followed; the upgrade rebuilds from the rows.
    world.add([world.run(started_at=at(days=1, hours=2), duration_ms=5)])
    migrate.upgrade(db_url)
    assert check(engine).consistent
    stats = q.run_stats(engine, DAYS, exact=False)
    assert stats.total == 61 and stats.approximate


def test_retention_delete_and_flow_cascade_follow(engine: Engine, world: World) -> None:
    seed(world)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM flow WHERE name = 'alpha'"))
    assert check(engine).consistent
    assert q.run_stats(engine, DAYS, exact=False).total == 40


def run_cli(capsys: pytest.CaptureFixture[str], url: str, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(["--database-url", url, *argv])
    except SystemExit as exc:  # argparse rejects bad options itself
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_rollup_check_and_rebuild(
    engine: Engine, world: World, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(world)
    assert run_cli(capsys, db_url, "rollup", "check") == (
        0,
        "rollup consistent with the runs\n",
        "",
    )
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM flowrun_rollup_hour WHERE status = 'failure'"))
    code, out, err = run_cli(capsys, db_url, "rollup", "check")
    assert (code, out) == (5, "")
    assert err.count("\n") == 1 and "flowrun_rollup_hour 20" in err and "rebuild" in err
    code, out, _ = run_cli(capsys, db_url, "rollup", "rebuild")
    assert code == 0 and out.startswith("rollup rebuilt: ")
    assert run_cli(capsys, db_url, "rollup", "check")[0] == 0
    code, _, err = run_cli(capsys, db_url, "rollup")
    assert code == 2 and "rollup_command" in err


def test_cli_stats_says_approximate(
    engine: Engine,
    world: World,
    db_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed(world)
    monkeypatch.setattr(reader, "RAW_LIMIT", 10)
    code, out, _ = run_cli(capsys, db_url, "stats", "--json")
    assert code == 0 and json.loads(out)["approximate"] is True
    code, out, _ = run_cli(capsys, db_url, "stats", "--json", "--exact")
    assert code == 0 and json.loads(out)["approximate"] is False
    code, out, _ = run_cli(capsys, db_url, "stats")
    assert "(approximate, within 2.0%)" in out


def test_cli_rollup_on_a_database_without_it(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url, "0002")
    code, _, err = run_cli(capsys, url, "rollup", "check")
    assert code == 3 and "run `flowruns init-db`" in err


def test_another_engines_odd_sqlite_values_are_written_and_followed(tmp_path: Any) -> None:
    """Unparsable timestamps, text durations, BLOB statuses: the write succeeds (the trigger
    must never refuse another program's row) and check stays clean."""
    url = f"sqlite:///{tmp_path / 'odd.db'}"
    migrate.upgrade(url)
    engine = build_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO flow (id, name, updated_at) VALUES ('f', 'f', 'x')"))
            for i, (started, duration, status) in enumerate(
                [
                    ("garbage", 5, "success"),
                    ("2024-01-01T05:00:00+02:00", "12ms", b"\xff"),
                    (None, None, "failure"),
                    (20240103, 7, "success"),  # a number: stored with the period's affinity
                ]
            ):
                conn.execute(
                    text(
                        "INSERT INTO flow_run (id, flow_id, status, started_at, duration_ms,"
                        " trigger_type, components_executed) VALUES (:i, 'f', :s, :t, :d, 'api', 0)"
                    ),
                    {"i": str(i), "s": status, "t": started or "2024-01-02", "d": duration},
                )
        assert check(engine).consistent
        assert q.run_stats(engine, FlowRunFilter(), exact=False).total == 4
        with engine.begin() as conn:  # the row trigger takes the numeric period off again
            conn.execute(text("DELETE FROM flow_run WHERE id = '3'"))
        assert check(engine).consistent
        assert q.run_stats(engine, FlowRunFilter(), exact=False).total == 3
    finally:
        engine.dispose()


def test_statement_triggers_find_emptied_rollup_rows_by_key(engine: Engine) -> None:
    """Without statistics on transition tables the planner joined the touched keys
    against a full histogram scan once per row (7 s per 5,000-row batch at 100k runs);
    the trigger functions must look rows up by key."""
    if engine.dialect.name != "postgresql":
        pytest.skip("statement triggers with transition tables are PostgreSQL's")
    with engine.connect() as conn:
        settings = dict(
            conn.execute(
                text(
                    "SELECT proname, array_to_string(proconfig, ',') FROM pg_proc"
                    " WHERE proname LIKE 'flowrun_rollup_%' AND prorettype = 'trigger'::regtype"
                )
            ).all()
        )
    removing = [name for name in settings if not name.endswith(("insert", "truncate"))]
    assert removing, settings
    assert all("enable_seqscan=off" in (settings[name] or "") for name in removing), settings
