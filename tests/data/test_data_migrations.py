"""Migrations on a fresh database per backend: upgrade -> downgrade -> upgrade, no drift
between the models and the migrated schema, a clean downgrade, and upgrading a database
that already holds Langflow's tables."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from runfactory import at, make_world, temporary_pg_database
from sqlalchemy import Engine, inspect, text

from data import migrate, ownership
from data import queries as q
from data.accounts import authenticate, create_api_key
from data.db import build_engine
from data.deletion import delete_where
from data.demo import generate_demo
from data.export import iter_csv
from data.filters import FlowRunFilter
from data.models import Base, FlowRun
from data.rollup.maintain import check as check_rollup
from data.rollup.maintain import pausable
from data.rollup.schema import PAUSE

VERSION_TABLE = "flowruns_alembic_version"
APP_TABLES = {
    "user",
    "flow",
    "flow_run",
    "flowrun_api_key",
    "flowrun_audit",
    "flowrun_retention_policy",
    "flowrun_rollup_bound",
    "flowrun_rollup_hour",
    "flowrun_rollup_hour_hist",
    "flowrun_rollup_day",
    "flowrun_rollup_day_hist",
    "flowrun_rollup_pause",
    "flowrun_rollup_hour_pending",
    "flowrun_rollup_hour_hist_pending",
    "flowrun_rollup_day_pending",
    "flowrun_rollup_day_hist_pending",
    "flowrun_rollup_replaced",
    "flowrun_foreign_table",
    "flowrun_step",
    "flowrun_model_price",
    "flowrun_sync_state",
    "flowrun_login_failure",
}
EXPECTED_FLOW_RUN_INDEXES = {
    "ix_flow_run_flow_id",
    "ix_flow_run_user_id",
    "ix_flow_run_status",
    "ix_flow_run_trigger_type",
    "ix_flow_run_session_id",
    "ix_flow_run_started_at",
    "ix_flow_run_status_started_at",
    "ix_flow_run_flow_id_started_at",
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own (a new file, or a new PostgreSQL database)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    request.getfixturevalue("pg_database_url")  # skips (or fails in CI) without PostgreSQL
    with temporary_pg_database("flowruns_migr") as url:
        yield url


def drift(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "version_table": VERSION_TABLE}
        )
        return list(compare_metadata(context, Base.metadata))


def index_names(engine: Engine) -> set[str]:
    inspector = inspect(engine)
    return {
        index["name"]
        for table in inspector.get_table_names()
        for index in inspector.get_indexes(table)
        if index["name"]
    }


def duration_type(engine: Engine) -> str:
    [column] = [c for c in inspect(engine).get_columns("flow_run") if c["name"] == "duration_ms"]
    return str(column["type"])


def assert_migrated(engine: Engine) -> None:
    inspector = inspect(engine)
    assert set(inspector.get_table_names()) == APP_TABLES | {VERSION_TABLE}
    flow_run_indexes = {i["name"] for i in inspector.get_indexes("flow_run")}
    assert flow_run_indexes >= EXPECTED_FLOW_RUN_INDEXES
    assert drift(engine) == []


def test_upgrade_downgrade_upgrade(fresh_url: str) -> None:
    migrate.upgrade(fresh_url)
    engine = build_engine(fresh_url)
    try:
        assert_migrated(engine)
        migrate.downgrade(fresh_url)
        inspector = inspect(engine)
        assert inspector.get_table_names() == [VERSION_TABLE]
        assert index_names(engine) == set()
        with engine.connect() as conn:
            assert conn.execute(text(f"SELECT count(*) FROM {VERSION_TABLE}")).scalar_one() == 0
        migrate.upgrade(fresh_url)
        assert_migrated(engine)
        # Idempotent: upgrading a database at head changes nothing.
        migrate.upgrade(fresh_url)
        assert_migrated(engine)
    finally:
        engine.dispose()


def test_drift_check_can_fail(fresh_url: str) -> None:
    """The no-drift assertion is not vacuous: a missing index is reported."""
    migrate.upgrade(fresh_url)
    engine = build_engine(fresh_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP INDEX ix_flow_run_status_started_at"))
        found = drift(engine)
        assert [d[0] for d in found] == ["add_index"]  # type: ignore[index]
    finally:
        engine.dispose()


LANGFLOW_DDL = (
    'CREATE TABLE "user" (id ID_T PRIMARY KEY, username VARCHAR NOT NULL UNIQUE,'
    " password VARCHAR NOT NULL, is_active BOOLEAN NOT NULL, is_superuser BOOLEAN NOT NULL,"
    " create_at TS_T NOT NULL, updated_at TS_T NOT NULL, profile_image VARCHAR,"
    " last_login_at TS_T)",
    "CREATE TABLE flow (id ID_T PRIMARY KEY, name VARCHAR NOT NULL, description TEXT,"
    ' data JSON, user_id ID_T REFERENCES "user" (id), folder_id ID_T,'
    " updated_at TS_T, endpoint_name VARCHAR, UNIQUE (user_id, name))",
    "CREATE TABLE flow_run (id ID_T PRIMARY KEY,"
    " flow_id ID_T NOT NULL REFERENCES flow (id) ON DELETE CASCADE,"
    ' user_id ID_T REFERENCES "user" (id) ON DELETE SET NULL, session_id VARCHAR,'
    " status VARCHAR NOT NULL DEFAULT 'pending', started_at TS_T NOT NULL,"
    " ended_at TS_T, duration_ms INTEGER, inputs JSON, outputs JSON, error_message TEXT,"
    " error_type VARCHAR, trigger_type VARCHAR NOT NULL DEFAULT 'manual',"
    " components_executed INTEGER NOT NULL DEFAULT 0, metadata JSON)",
    "CREATE INDEX ix_flow_run_flow_id ON flow_run (flow_id)",
    "CREATE INDEX ix_flow_run_status ON flow_run (status)",
    "CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)",
    "INSERT INTO alembic_version VALUES ('langflow_head')",
)


def test_upgrading_a_langflow_database_keeps_its_tables_and_rows(fresh_url: str) -> None:
    postgres = fresh_url.startswith("postgresql")
    id_type = "UUID" if postgres else "CHAR(32)"
    ts_type = "TIMESTAMPTZ" if postgres else "TIMESTAMP"
    user_id, flow_id, run_id = (uuid.uuid4() for _ in range(3))
    ident = (lambda u: str(u)) if postgres else (lambda u: u.hex)
    engine = build_engine(fresh_url)
    try:
        with engine.begin() as conn:
            for statement in LANGFLOW_DDL:
                conn.execute(text(statement.replace("ID_T", id_type).replace("TS_T", ts_type)))
            conn.execute(
                text(
                    'INSERT INTO "user" (id, username, password, is_active, is_superuser,'
                    " create_at, updated_at) VALUES (:id, 'lf', '', TRUE, FALSE,"
                    " '2024-01-01 00:00:00', '2024-01-01 00:00:00')"
                ),
                {"id": ident(user_id)},
            )
            conn.execute(
                text("INSERT INTO flow (id, name, user_id) VALUES (:id, 'Langflow flow', :user)"),
                {"id": ident(flow_id), "user": ident(user_id)},
            )
            conn.execute(
                text(
                    "INSERT INTO flow_run (id, flow_id, user_id, status, started_at)"
                    " VALUES (:id, :flow, :user, 'success', '2024-01-02 03:04:05')"
                ),
                {"id": ident(run_id), "flow": ident(flow_id), "user": ident(user_id)},
            )
        migrate.upgrade(fresh_url)
        inspector = inspect(engine)
        tables = set(inspector.get_table_names())
        assert tables == APP_TABLES | {VERSION_TABLE, "alembic_version"}
        # flow_run is Langflow's here: its columns are kept as they are (issue 17).
        assert duration_type(engine) == "INTEGER"
        assert "total_tokens" not in {c["name"] for c in inspector.get_columns("flow_run")}
        with engine.connect() as conn:
            assert set(ownership.foreign_tables(conn)) == {"user", "flow", "flow_run"}
            assert ownership.kept_as_they_are(conn)[0].startswith("flow_run belongs to another")
        assert {i["name"] for i in inspector.get_indexes("flow_run")} >= EXPECTED_FLOW_RUN_INDEXES
        # Langflow's own columns and migration history are untouched.
        assert "folder_id" in {c["name"] for c in inspector.get_columns("flow")}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == (
                "langflow_head"
            )
            assert conn.execute(text("SELECT count(*) FROM flow_run")).scalar_one() == 1
        [run] = q.list_runs(engine, FlowRunFilter()).runs
        assert (run.id, run.flow_name, run.username) == (run_id, "Langflow flow", "lf")
        # No total_tokens column here: the export's token column is empty, not an error.
        exported = "".join(iter_csv(engine, FlowRunFilter(), columns=["id", "total_tokens"]))
        assert exported.splitlines() == ["id,total_tokens", f"{run_id},"]
        # The rollup is built from the runs already there (docs/rollup.md).
        assert check_rollup(engine).consistent
        assert q.run_stats(engine, FlowRunFilter(), exact=False).status_counts == {"success": 1}
        assert run.started_at.utcoffset() is not None
        plain, _ = create_api_key(engine, "lf")
        principal = authenticate(engine, plain)
        assert principal is not None and principal.user_id == user_id
        # Downgrading removes only what we added: Langflow's tables, rows, own indexes
        # and migration history stay.
        migrate.downgrade(fresh_url)
        inspector = inspect(engine)
        assert set(inspector.get_table_names()) == {
            "user",
            "flow",
            "flow_run",
            "alembic_version",
            VERSION_TABLE,
        }
        assert duration_type(engine) == "INTEGER"  # Langflow's own type again
        assert {i["name"] for i in inspector.get_indexes("flow_run")} == {
            "ix_flow_run_flow_id",
            "ix_flow_run_status",
            # added by the upgrade; harmless to keep, and Langflow itself has them
            "ix_flow_run_user_id",
            "ix_flow_run_trigger_type",
            "ix_flow_run_session_id",
        }
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM flow_run")).scalar_one() == 1
        migrate.upgrade(fresh_url)
        assert {i["name"] for i in inspect(engine).get_indexes("flow_run")} >= (
            EXPECTED_FLOW_RUN_INDEXES
        )
        # Asked for: the owner's table gets our columns, and the rollup counts tokens.
        migrate.downgrade(fresh_url, "0001")
        migrate.upgrade(fresh_url, alter_owner_tables=True)
        assert duration_type(engine) == ("BIGINT" if postgres else "INTEGER")
        assert "total_tokens" in {c["name"] for c in inspect(engine).get_columns("flow_run")}
        with engine.begin() as conn:
            conn.execute(text("UPDATE flow_run SET total_tokens = 42"))
        assert q.run_stats(engine, FlowRunFilter(), exact=False).total == 1
        assert check_rollup(engine).consistent
        with engine.connect() as conn:
            assert ownership.kept_as_they_are(conn) == []
    finally:
        engine.dispose()


FORTY_DAYS_MS = 40 * 86_400_000  # past the 32-bit limit (about 24.8 days)


def _insert_long_run(engine: Engine, duration_ms: int) -> uuid.UUID:
    user_id, flow_id, run_id = (uuid.uuid4() for _ in range(3))
    ident = str if engine.dialect.name == "postgresql" else (lambda u: u.hex)
    with engine.begin() as conn:
        conn.execute(
            text(
                'INSERT INTO "user" (id, username, password, is_active, is_superuser,'
                " create_at, updated_at) VALUES (:id, :name, '', TRUE, FALSE,"
                " '2024-01-01 00:00:00', '2024-01-01 00:00:00')"
            ),
            {"id": ident(user_id), "name": f"u{run_id.hex[:6]}"},
        )
        conn.execute(
            text("INSERT INTO flow (id, name, user_id, updated_at) VALUES (:id, 'f', :u, :t)"),
            {"id": ident(flow_id), "u": ident(user_id), "t": "2024-01-01 00:00:00"},
        )
        conn.execute(
            text(
                "INSERT INTO flow_run (id, flow_id, status, started_at, duration_ms)"
                " VALUES (:id, :flow, 'failure', '2024-01-02 03:04:05', :ms)"
            ),
            {"id": ident(run_id), "flow": ident(flow_id), "ms": duration_ms},
        )
    return run_id


def _durations(engine: Engine) -> list[int | None]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT duration_ms FROM flow_run")).scalars())


def test_long_durations_are_stored_and_a_lossy_downgrade_is_refused(fresh_url: str) -> None:
    postgres = fresh_url.startswith("postgresql")
    migrate.upgrade(fresh_url)
    engine = build_engine(fresh_url)
    try:
        assert duration_type(engine) == ("BIGINT" if postgres else "INTEGER")
        _insert_long_run(engine, FORTY_DAYS_MS)
        assert _durations(engine) == [FORTY_DAYS_MS]
        if postgres:
            with pytest.raises(RuntimeError, match=r"refusing to downgrade: 1 flow_run row"):
                migrate.downgrade(fresh_url, "0001")
            # Refused before any change: still at 0002, column and value intact.
            assert duration_type(engine) == "BIGINT"
            assert "flowrun_audit" in inspect(engine).get_table_names()
            assert _durations(engine) == [FORTY_DAYS_MS]
            with engine.begin() as conn:
                conn.execute(text("UPDATE flow_run SET duration_ms = 2147483647"))
        migrate.downgrade(fresh_url, "0001")
        assert duration_type(engine) == "INTEGER"
        tables = set(inspect(engine).get_table_names())
        assert not tables & {"flowrun_audit", "flowrun_retention_policy"}
        assert _durations(engine) == [2147483647 if postgres else FORTY_DAYS_MS]
        with engine.connect() as conn:
            version = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar_one()
        assert version == "0001"
        migrate.upgrade(fresh_url)
        assert_migrated(engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_int4_flow_run_cannot_hold_forty_days(pg_database_url: str) -> None:
    """Why 0002 exists: at 0001 (kozmoai's int4) the same value is out of range."""
    with temporary_pg_database("flowruns_int4") as url:
        migrate.upgrade(url, "0001")
        engine = build_engine(url)
        try:
            with pytest.raises(Exception, match="out of range"):
                _insert_long_run(engine, FORTY_DAYS_MS)
        finally:
            engine.dispose()


def _histogram_key(engine: Engine, grain: str) -> list[str]:
    columns: list[str] = inspect(engine).get_pk_constraint(f"flowrun_rollup_{grain}_hist")[
        "constrained_columns"
    ]
    return columns


def test_histogram_rekey_keeps_the_rollup_equal_to_the_runs(fresh_url: str) -> None:
    """0004 re-keys the histograms (period, bucket, ...) on a database holding runs, and
    back: rows kept, triggers still keeping them after each step."""
    migrate.upgrade(fresh_url, "0003")
    engine = build_engine(fresh_url)
    try:
        generate_demo(engine, 400, days=3, seed=11)
        old_key = ["period", "flow_id", "status", "bucket"]
        assert _histogram_key(engine, "day") == old_key
        migrate.upgrade(fresh_url, "0004")
        engine.dispose()
        for grain in ("hour", "day"):
            assert _histogram_key(engine, grain) == ["period", "bucket", "flow_id", "status"]
        assert check_rollup(engine).consistent
        generate_demo(engine, 50, days=1, seed=12)  # the triggers are back: new runs counted
        stats = q.run_stats(engine, FlowRunFilter(), exact=False)
        assert stats.total == 450
        assert check_rollup(engine).consistent
        migrate.downgrade(fresh_url, "0003")
        engine.dispose()
        assert _histogram_key(engine, "hour") == old_key
        assert check_rollup(engine).consistent
    finally:
        engine.dispose()


def rollup_day_runs(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT sum(runs) FROM flowrun_rollup_day")).scalar_one())


def delete_trigger_text(engine: Engine) -> str:
    query = (
        "SELECT sql FROM sqlite_master WHERE name = 'flowrun_rollup_delete'"
        if engine.dialect.name == "sqlite"
        else "SELECT prosrc FROM pg_proc WHERE proname = 'flowrun_rollup_delete'"
    )
    with engine.connect() as conn:
        return str(conn.execute(text(query)).scalar_one())


def test_migration_0005_swaps_the_delete_trigger_and_back(fresh_url: str) -> None:
    """Each step leaves a working rollup: deletes at 0004 (triggers), 0005 (set-based),
    back at 0004 (triggers again) all keep it equal to the runs."""
    migrate.upgrade(fresh_url, "0004")
    engine = build_engine(fresh_url)
    try:
        world = make_world(engine)
        world.add(world.run(started_at=at(minutes=37 * i)) for i in range(90))
        assert PAUSE not in delete_trigger_text(engine)
        assert delete_where(engine, FlowRun.started_at < at(minutes=37 * 10), batch_size=4) == 10
        assert check_rollup(engine).consistent
        migrate.upgrade(fresh_url, "0005")
        engine.dispose()
        with engine.connect() as conn:
            assert pausable(conn)
        assert PAUSE in delete_trigger_text(engine)
        assert delete_where(engine, FlowRun.started_at < at(minutes=37 * 30), batch_size=4) == 20
        assert check_rollup(engine).consistent and rollup_day_runs(engine) == 60
        migrate.downgrade(fresh_url, "0004")
        engine.dispose()
        with engine.connect() as conn:
            assert not pausable(conn)
        assert PAUSE not in delete_trigger_text(engine)
        assert delete_where(engine, FlowRun.started_at < at(minutes=37 * 50), batch_size=4) == 20
        assert check_rollup(engine).consistent and rollup_day_runs(engine) == 40
    finally:
        engine.dispose()


def test_a_forks_narrow_flow_run_takes_long_runs_and_tokens(fresh_url: str) -> None:
    """Kept as it is (int4 duration_ms on PostgreSQL, no total_tokens): finishing a run
    of 40 days and sweeping one stuck for 40 days both work; the duration that does not
    fit is NULL (start and end still say it), and the tokens go into the metadata."""
    from datetime import UTC, datetime, timedelta

    from data.recorder import finish_run, start_run
    from data.sweep import sweep_stuck

    postgres = fresh_url.startswith("postgresql")
    engine = build_engine(fresh_url)
    try:
        with engine.begin() as conn:
            for statement in LANGFLOW_DDL:
                conn.execute(
                    text(
                        statement.replace("ID_T", "UUID" if postgres else "CHAR(32)").replace(
                            "TS_T", "TIMESTAMPTZ" if postgres else "TIMESTAMP"
                        )
                    )
                )
        migrate.upgrade(fresh_url)
        flow_id = uuid.uuid4()
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO flow (id, name) VALUES (:id, 'f')"),
                {"id": str(flow_id) if postgres else flow_id.hex},
            )
        now = datetime.now(UTC)
        long_ago = now - timedelta(days=40)
        finished = start_run(engine, flow_id, started_at=long_ago, metadata={"k": 1})
        stuck = start_run(engine, flow_id, started_at=long_ago)
        short = start_run(engine, flow_id, started_at=now - timedelta(seconds=3))
        finish_run(engine, finished, "success", total_tokens=77)
        finish_run(engine, short, "success")
        assert sweep_stuck(engine, timedelta(days=1)) == 1
        runs = {r.id: r for r in q.list_runs(engine, FlowRunFilter(), include_payloads=True).runs}
        forty_days = 40 * 86_400_000
        for run_id in (finished, stuck):
            run = runs[run_id]
            assert run.status == ("success" if run_id == finished else "failure")
            assert run.ended_at is not None
            if postgres:  # int4: NULL, the run is still closed
                assert run.duration_ms is None
            else:  # SQLite's INTEGER is 64-bit
                assert run.duration_ms is not None and run.duration_ms >= forty_days
        assert runs[short].duration_ms is not None and 2_000 < runs[short].duration_ms < 60_000
        assert runs[finished].metadata == {"k": 1, "flowruns": {"total_tokens": 77}}
        assert check_rollup(engine).consistent
    finally:
        engine.dispose()
