"""`flowruns sync langflow` against databases a real Langflow 1.13.0 wrote (SQLite and
PostgreSQL), into our database on either backend or into the Langflow database itself.

Every expected value is read from Langflow's own tables here, with plain SQL: the
comparison shares no code with the sync."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langflow_fixture import CURRENT, LEGACY, replay_dump, rows
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from data import migrate
from data import queries as q
from data.cli.main import main
from data.db import build_engine
from data.export import iter_csv
from data.filters import FlowRunFilter
from data.langflow.source import open_source
from data.langflow.sync import sync_once
from data.rollup.maintain import check

STATUS = {"ok": "success", "error": "failure"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def source_url(
    request: pytest.FixtureRequest, tmp_path: Path, pg_scratch_database: Callable[[], str]
) -> str:
    """A fresh copy of what Langflow wrote, on each backend."""
    if request.param == "sqlite":
        copy = tmp_path / "langflow.sqlite"
        shutil.copy(CURRENT / "langflow.sqlite", copy)
        return f"sqlite:///{copy}"
    url = pg_scratch_database()
    replay_dump(CURRENT / "langflow.postgresql.sql", url)
    return url


@pytest.fixture
def source(source_url: str) -> Iterator[Engine]:
    engine = create_engine(source_url)
    yield engine
    engine.dispose()


def expected_runs(source: Engine) -> dict[uuid.UUID, dict[str, Any]]:
    """Each trace as the sync must copy it, computed from Langflow's tables."""
    owners = {uuid.UUID(str(f.id)): f.user_id for f in rows(source, "SELECT id, user_id FROM flow")}
    jobs = {uuid.UUID(str(j.job_id)) for j in rows(source, "SELECT job_id FROM job")}
    spans: dict[uuid.UUID, list[Any]] = {}
    for span in rows(source, "SELECT trace_id, parent_span_id, status, error FROM span"):
        spans.setdefault(uuid.UUID(str(span.trace_id)), []).append(span)
    expected = {}
    for trace in rows(
        source,
        "SELECT id, status, total_latency_ms, total_tokens, session_id, flow_id FROM trace",
    ):
        run_id = uuid.UUID(str(trace.id))
        mine = spans.get(run_id, [])
        roots = [s for s in mine if s.parent_span_id is None]
        failing = [s.error for s in roots if str(s.status).lower() == "error"]
        owner = owners[uuid.UUID(str(trace.flow_id))]
        expected[run_id] = {
            "status": STATUS[str(trace.status).lower()],
            "duration_ms": trace.total_latency_ms,
            "total_tokens": trace.total_tokens,
            "session_id": trace.session_id,
            "flow_id": uuid.UUID(str(trace.flow_id)),
            "user_id": None if owner is None else uuid.UUID(str(owner)),
            "trigger_type": "api" if run_id in jobs else "manual",
            "components_executed": len(roots),
            "steps": len(mine),
            "error_message": failing[0] if failing else None,
        }
    return expected


def synced_runs(ours: Engine) -> dict[uuid.UUID, dict[str, Any]]:
    steps: dict[uuid.UUID, int] = {}
    for step in rows(ours, "SELECT run_id FROM flowrun_step"):
        steps[uuid.UUID(str(step.run_id))] = steps.get(uuid.UUID(str(step.run_id)), 0) + 1
    found = {}
    for run in rows(
        ours,
        "SELECT id, status, duration_ms, total_tokens, session_id, flow_id, user_id,"
        " trigger_type, components_executed, error_message FROM flow_run"
        " WHERE status <> 'running'",
    ):
        run_id = uuid.UUID(str(run.id))
        found[run_id] = {
            "status": run.status,
            "duration_ms": run.duration_ms,
            "total_tokens": run.total_tokens,
            "session_id": run.session_id,
            "flow_id": uuid.UUID(str(run.flow_id)),
            "user_id": None if run.user_id is None else uuid.UUID(str(run.user_id)),
            "trigger_type": run.trigger_type,
            "components_executed": run.components_executed,
            "steps": steps.get(run_id, 0),
            "error_message": run.error_message,
        }
    return found


def test_every_run_and_step_is_copied(source: Engine, source_url: str, db_url: str) -> None:
    ours = build_engine(db_url)
    try:
        report = sync_once(ours, open_source(source_url, ours))
        expected = expected_runs(source)
        assert report.runs == len(expected) == 14
        assert synced_runs(ours) == expected
        assert check(ours).consistent
        # Flows and their owners came along (ours is another database): names as Langflow's.
        names = {uuid.UUID(str(f.id)): f.name for f in rows(source, "SELECT id, name FROM flow")}
        listed = q.list_runs(ours, FlowRunFilter(), limit=100).runs
        finished = {run.flow_name for run in listed if run.status != "running"}
        assert finished == {names[e["flow_id"]] for e in expected.values()}
        # The in-flight job is a running run with the job's id.
        [job] = rows(source, "SELECT job_id FROM job WHERE status = 'in_progress'")
        [running] = rows(
            ours, "SELECT id, status, trigger_type FROM flow_run WHERE status = 'running'"
        )
        assert uuid.UUID(str(running.id)) == uuid.UUID(str(job.job_id))
        assert running.trigger_type == "api"
        stats = q.run_stats(ours, FlowRunFilter(), compare=False)
        assert stats.total_tokens == sum(e["total_tokens"] for e in expected.values())
    finally:
        ours.dispose()


def test_a_second_sync_changes_nothing(source_url: str, db_url: str) -> None:
    ours = build_engine(db_url)
    try:
        first = sync_once(ours, open_source(source_url, ours))
        before = synced_runs(ours)
        again = sync_once(ours, open_source(source_url, ours))
        full = sync_once(ours, open_source(source_url, ours), full=True)
        assert first.runs == 14 and again.runs == 0 and full.runs == 0
        assert synced_runs(ours) == before
        assert check(ours).consistent
    finally:
        ours.dispose()


def test_each_batch_asks_once_which_of_its_runs_are_held(source_url: str, db_url: str) -> None:
    """Asked once per trace, the question cost a batch of 1,000 traces 1,000 queries of
    1,000 ids (a first sync of 10k traces ran at ~150 traces/s; bench/sync_bench.py)."""
    ours = build_engine(db_url)
    asked: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        flat = " ".join(statement.split())
        if "flow_run.id IN" in flat and "flow_run.status IN" in flat:
            asked.append(flat)

    event.listen(ours, "before_cursor_execute", count)
    try:
        report = sync_once(ours, open_source(source_url, ours), batch=5)
        assert report.runs == 14
        assert len(asked) == 3  # batches of 5, 5 and 4 traces
    finally:
        ours.dispose()


@pytest.mark.postgres
def test_a_batch_of_runs_is_one_statement(source_url: str, pg_url: str) -> None:
    """psycopg runs an executemany as one statement per row: the rollup's statement-level
    triggers then ran once per run (~5 ms each: ~150 runs/s). Counted by a trigger FOR
    EACH STATEMENT, as the rollup's are. (SQLite's rollup triggers run per row anyway.)"""
    ours = build_engine(pg_url)
    try:
        with ours.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE test_statements (n int)")
            conn.exec_driver_sql(
                "CREATE FUNCTION test_count() RETURNS trigger LANGUAGE plpgsql AS"
                " $$ BEGIN INSERT INTO test_statements VALUES (1); RETURN NULL; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER test_count AFTER INSERT ON flow_run"
                " FOR EACH STATEMENT EXECUTE FUNCTION test_count()"
            )
        report = sync_once(ours, open_source(source_url, ours), batch=5)
        assert report.runs == 14 and report.in_flight == 1
        # Batches of 5, 5 and 4 runs, and the job in flight.
        assert len(rows(ours, "SELECT n FROM test_statements")) == 4
        assert check(ours).consistent
    finally:
        with ours.begin() as conn:  # the session database is shared by the next tests
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS test_count ON flow_run")
            conn.exec_driver_sql("DROP FUNCTION IF EXISTS test_count()")
            conn.exec_driver_sql("DROP TABLE IF EXISTS test_statements")
        ours.dispose()


def test_syncing_into_the_langflow_database_itself(source: Engine, source_url: str) -> None:
    """FLOWRUNS_DATABASE_URL pointed at Langflow's database: init-db adds only our tables,
    and one sync shows Langflow's runs."""
    before = {
        name: rows(source, f"SELECT count(*) AS n FROM {name}")[0].n
        for name in ("trace", "span", "job", "flow")
    }
    migrate.upgrade(source_url)
    ours = build_engine(source_url)
    try:
        sync_once(ours, open_source(source_url, ours))
        assert synced_runs(ours) == expected_runs(source)
        after = {name: rows(source, f"SELECT count(*) AS n FROM {name}")[0].n for name in before}
        assert after == before  # Langflow's tables untouched
        assert check(ours).consistent
        _history_outlives_a_deleted_flow(source, ours)
    finally:
        ours.dispose()


def _history_outlives_a_deleted_flow(source: Engine, ours: Engine) -> None:
    """Langflow deletes a flow (its traces go by cascade, foreign keys enforced as Langflow
    runs SQLite): our runs of that flow stay, listed, counted and exported."""
    synced = synced_runs(ours)
    gone = next(iter({run["flow_id"] for run in synced.values()}))
    kept = {run_id for run_id, run in synced.items() if run["flow_id"] == gone}
    with source.begin() as conn:
        if source.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys = ON")
        ident = str(gone) if source.dialect.name == "postgresql" else gone.hex
        conn.execute(text("DELETE FROM trace WHERE flow_id = :f"), {"f": ident})
        conn.execute(text("DELETE FROM flow WHERE id = :f"), {"f": ident})
    assert set(synced_runs(ours)) == set(synced)
    listed = {r.id: r for r in q.list_runs(ours, FlowRunFilter(), limit=500).runs}
    assert kept <= set(listed) and {listed[r].flow_name for r in kept} == {None}
    by_name = q.list_runs(ours, FlowRunFilter(), sort="flow_name", limit=500).runs
    assert {r.id for r in by_name} == set(listed)
    assert q.count_runs(ours, FlowRunFilter(flow_ids=(gone,))) == len(kept)
    exported = "".join(iter_csv(ours, FlowRunFilter(flow_ids=(gone,)), columns=["id"]))
    assert set(exported.split()[1:]) == {str(r) for r in kept}
    sync_once(ours, open_source(str(source.url.render_as_string(False)), ours), full=True)
    assert set(synced_runs(ours)) == set(synced)  # a full pass does not take them away
    assert check(ours).consistent


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("make_source", "code", "says"),
    [
        (lambda tmp: f"sqlite:///{LEGACY / 'langflow.sqlite'}", 2, "from before 1.8"),
        (lambda tmp: f"sqlite:///{tmp / 'absent.db'}", 2, "no SQLite file at"),
        (lambda tmp: "postgresql+psycopg://nobody@127.0.0.1:1/none", 2, "cannot read"),
        (lambda tmp: "mysql://x@y/z", 2, "is not supported"),
        (lambda tmp: f"sqlite:///{_ours_only(tmp)}", 2, "not a Langflow database"),
    ],
    ids=["pre-1.8", "no-file", "unreachable", "not-a-database-we-read", "not-langflow"],
)
def test_sources_that_cannot_be_synced_get_one_line(
    tmp_path: Path,
    sqlite_url: str,
    capsys: pytest.CaptureFixture[str],
    make_source: Callable[[Path], str],
    code: int,
    says: str,
) -> None:
    found, out, err = run_cli(
        capsys, "--database-url", sqlite_url, "sync", "langflow", "--source", make_source(tmp_path)
    )
    assert (found, out) == (code, "")
    assert err.count("\n") == 1 and says in err, err
    assert "Traceback" not in err


def _ours_only(folder: Path) -> Path:
    path = folder / "ours-only.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


def test_status_says_what_was_synced(
    source_url: str, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "--database-url", db_url, "sync", "status")
    assert (code, out) == (0, "no source has been synced (flowruns sync langflow --source URL)\n")
    if source_url.startswith("postgresql"):  # trust auth: any password connects
        source_url = make_url(source_url).set(password="s3cret-pw").render_as_string(False)
    code, out, err = run_cli(
        capsys, "--database-url", db_url, "sync", "langflow", "--source", source_url
    )
    assert code == 0, err
    assert out.startswith("synced 14 run(s) with 43 step(s); 1 new in flight")
    code, out, _ = run_cli(capsys, "--database-url", db_url, "sync", "status")
    assert code == 0
    assert "synced          14 run(s), 43 step(s)" in out and "in flight       1 run(s)" in out
    assert "s3cret-pw" not in out  # the password is never shown
    assert ("***" in out) == source_url.startswith("postgresql")
    # Tokens are a first-class figure of `stats`, equal to the synced runs' sum.
    ours = build_engine(db_url)
    counted = rows(ours, "SELECT count(total_tokens) AS c, sum(total_tokens) AS n FROM flow_run")
    ours.dispose()
    code, out, _ = run_cli(capsys, "--database-url", db_url, "stats", "--days", "36500", "--json")
    assert code == 0
    stats = json.loads(out)
    assert (stats["total_tokens"], stats["runs_with_tokens"]) == (counted[0].n, counted[0].c)
    assert counted[0].n > 0
    code, out, _ = run_cli(capsys, "--database-url", db_url, "stats", "--days", "36500")
    assert f"tokens          {counted[0].n:,} in {counted[0].c:,} run(s) with a count" in out


def test_hostile_rows_are_synced_or_skipped_with_a_reason(tmp_path: Path, sqlite_url: str) -> None:
    """Rows Langflow would not write but a database can hold: the sync goes on."""
    copy = tmp_path / "hostile.sqlite"
    shutil.copy(CURRENT / "langflow.sqlite", copy)
    source = create_engine(f"sqlite:///{copy}")
    [flow] = rows(source, "SELECT id FROM flow LIMIT 1")
    insert = text(
        "INSERT INTO trace (id, name, status, start_time, end_time, total_latency_ms,"
        " total_tokens, flow_id, session_id) VALUES (:id, 'n', :status, :start,"
        " '2026-01-01 00:00:01.000000', :latency, :tokens, :flow, 's')"
    )
    hostile = {
        "surrogate": {"start": "2026-01-01 00:00:00.000000", "flow": flow.id},
        "missing-flow": {"start": "2026-01-01 00:00:00.000000", "flow": uuid.uuid4().hex},
        "bad-start": {"start": "yesterday", "flow": flow.id},
        "odd-numbers": {"start": "2026-01-01 00:00:00.000000", "flow": flow.id},
    }
    ids = {name: uuid.uuid4() for name in hostile}
    with source.begin() as conn:
        for name, values in hostile.items():
            odd = name == "odd-numbers"
            conn.execute(
                insert,
                {"id": ids[name].hex, "status": "WEIRD" if odd else "ok",
                 "latency": "slow" if odd else 5, "tokens": 2**62 if odd else 3, **values},
            )  # fmt: skip
        conn.execute(
            text(
                "INSERT INTO span (id, trace_id, name, span_type, status, start_time,"
                " latency_ms, inputs, span_kind, attributes) VALUES (:id, :trace, 'c',"
                " 'chain', 'ok', '2026-01-01 00:00:00.000000', 1, :inputs, 'INTERNAL', '{}')"
            ),
            [
                {"id": uuid.uuid4().hex, "trace": ids["surrogate"].hex,
                 "inputs": '{"text": "\\udc00 lone"}'},
                {"id": uuid.uuid4().hex, "trace": ids["surrogate"].hex,
                 "inputs": '{"deep": ' + "[" * 200 + "]" * 200 + "}"},
                {"id": uuid.uuid4().hex, "trace": uuid.uuid4().hex, "inputs": "{}"},  # orphan
            ],
        )  # fmt: skip
    source.dispose()
    ours = build_engine(sqlite_url)
    try:
        report = sync_once(ours, open_source(f"sqlite:///{copy}", ours))
        assert report.runs == 14 + 2  # the fixture's runs, the surrogate one, the odd one
        assert report.skipped == {
            "its flow is gone from Langflow, or was never there": 1,
            "no readable start_time": 1,
        }
        [odd] = rows(ours, f"SELECT * FROM flow_run WHERE id = '{ids['odd-numbers'].hex}'")
        assert (odd.status, odd.duration_ms, odd.total_tokens) == ("weird", None, None)
        steps = rows(
            ours, f"SELECT inputs FROM flowrun_step WHERE run_id = '{ids['surrogate'].hex}'"
        )
        inputs = sorted(str(step.inputs) for step in steps)
        assert "<unreadable JSON>" in inputs[0]  # too deep: kept as text, marked
        assert json.loads(inputs[1]) == {"text": "\ufffd lone"}  # the lone surrogate replaced
        assert check(ours).consistent
        run = q.get_run(ours, ids["surrogate"])
        assert run is not None and run.flow_name
    finally:
        ours.dispose()
