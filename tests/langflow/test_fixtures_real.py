"""The Langflow fixtures hold what their manifest says a real Langflow wrote.

The fixtures come from scripts/langflow_fixtures/make_fixtures.py (a real Langflow, not rows
written by hand). A regenerated fixture that lost a run, a span, a job row or a token is caught
here, on the SQLite file as committed and on the PostgreSQL dump replayed into an empty database.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from langflow_fixture import CURRENT, MANIFEST, replay_dump, rows, uuid_text
from sqlalchemy import Engine, create_engine, text


def _key(engine: Engine, run: dict[str, Any]) -> str:
    """A run's trace id as the backend stores it (SQLite: hex without dashes)."""
    trace_id = str(run["trace_id"])
    return trace_id if engine.dialect.name == "postgresql" else trace_id.replace("-", "")


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value  # SQLite returns text


@pytest.fixture(scope="module")
def pg_langflow(pg_scratch_database: Callable[[], str]) -> Iterator[Engine]:
    """The 1.13 PostgreSQL dump replayed into an empty database (once; the tests only read)."""
    url = pg_scratch_database()
    replay_dump(CURRENT / "langflow.postgresql.sql", url)
    engine = create_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def langflow(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, dict[str, Any]]]:
    """The 1.13 fixture on one backend, and that backend's part of the manifest."""
    if request.param == "postgres":
        yield request.getfixturevalue("pg_langflow"), MANIFEST["backends"]["postgresql"]
        return
    # SQLite may write beside a file it opens: never open the committed one.
    copy = tmp_path_factory.mktemp("langflow") / "langflow.sqlite"
    shutil.copy(CURRENT / "langflow.sqlite", copy)
    engine = create_engine(f"sqlite:///{copy}")
    yield engine, MANIFEST["backends"]["sqlite"]
    engine.dispose()


def finished(backend: dict[str, Any]) -> list[dict[str, Any]]:
    return [run for run in backend["runs"] if run["status"] != "in_flight"]


def test_every_finished_run_has_its_trace(langflow: tuple[Engine, dict[str, Any]]) -> None:
    engine, backend = langflow
    traces = {
        uuid_text(r.id): r
        for r in rows(engine, "SELECT id, status, session_id, flow_id, total_tokens FROM trace")
    }
    runs = finished(backend)
    assert len(traces) == len(runs) == backend["row_counts"]["trace"]
    for run in runs:
        trace = traces[run["trace_id"]]
        assert (str(trace.status), trace.session_id, uuid_text(trace.flow_id)) == (
            run["status"],
            run["session_id"],
            run["flow_id"],
        ), run
        assert trace.total_tokens == run["total_tokens"], run


def test_spans_per_run(langflow: tuple[Engine, dict[str, Any]]) -> None:
    """One root span per component that started, plus one child span per LLM call."""
    engine, backend = langflow
    counted = rows(
        engine,
        "SELECT trace_id, sum(CASE WHEN parent_span_id IS NULL THEN 1 ELSE 0 END) AS roots,"
        " sum(CASE WHEN parent_span_id IS NULL THEN 0 ELSE 1 END) AS children"
        " FROM span GROUP BY trace_id",
    )
    got = {uuid_text(r.trace_id): (r.roots, r.children) for r in counted}
    wanted = {r["trace_id"]: (r["component_spans"], r["llm_spans"]) for r in finished(backend)}
    assert got == wanted
    assert sum(sum(pair) for pair in wanted.values()) == backend["row_counts"]["span"]


def test_failed_runs_end_at_the_failing_component(langflow: tuple[Engine, dict[str, Any]]) -> None:
    engine, backend = langflow
    failed = [run for run in finished(backend) if run["status"] == "error"]
    assert failed
    for run in failed:
        spans = rows(
            engine,
            f"SELECT name, status, error, outputs FROM span WHERE trace_id = '{_key(engine, run)}'",
        )
        errors = [s for s in spans if str(s.status) == "error"]
        assert len(errors) == 1, spans
        assert run["error_contains"] in errors[0].error
        assert run["error_contains"] in _json(errors[0].outputs)["error"]
        assert "Chat Output" not in {s.name for s in spans}  # nothing ran after the failure


def test_tokens_and_model(langflow: tuple[Engine, dict[str, Any]]) -> None:
    """Tokens sit on the LLM call (child) span and again, rolled up, on its component span."""
    engine, backend = langflow
    spans = rows(engine, "SELECT parent_span_id, attributes FROM span")
    child, root = {"in": 0, "out": 0}, {"in": 0, "out": 0}
    models = set()
    for span in spans:
        attrs = _json(span.attributes) or {}
        side = root if span.parent_span_id is None else child
        side["in"] += attrs.get("gen_ai.usage.input_tokens", 0)
        side["out"] += attrs.get("gen_ai.usage.output_tokens", 0)
        if "gen_ai.response.model" in attrs:
            models.add(attrs["gen_ai.response.model"])
    runs = finished(backend)
    wanted = {
        "in": sum(r["input_tokens"] for r in runs),
        "out": sum(r["output_tokens"] for r in runs),
    }
    assert wanted["in"] > 0
    assert child == root == wanted
    total = rows(engine, "SELECT sum(total_tokens) AS total FROM trace")[0].total
    assert total == wanted["in"] + wanted["out"] == sum(r["total_tokens"] for r in runs)
    assert models == {MANIFEST["fake_llm"]["model"]}


def test_job_rows(langflow: tuple[Engine, dict[str, Any]]) -> None:
    engine, backend = langflow
    jobs = {
        uuid_text(r.job_id): str(r.status) for r in rows(engine, "SELECT job_id, status FROM job")
    }
    traces = {uuid_text(r.id) for r in rows(engine, "SELECT id FROM trace")}
    assert len(jobs) == backend["row_counts"]["job"]
    for run in backend["runs"]:
        assert jobs[run["job_id"]] == run["job_status"], run
        # API, v2 and webhook runs share their id with the trace; playground builds do not.
        assert (run["job_id"] in traces) == (
            run["via"] != "playground" and run["trace_id"] is not None
        )
    in_flight = [run for run in backend["runs"] if run["status"] == "in_flight"]
    assert [jobs[run["job_id"]] for run in in_flight] == ["in_progress"]
    flow = in_flight[0]["flow_id"]
    assert not any(uuid_text(r.flow_id) == flow for r in rows(engine, "SELECT flow_id FROM trace"))


def test_deleting_a_flow_deletes_its_traces_but_not_its_jobs(
    langflow: tuple[Engine, dict[str, Any]],
) -> None:
    engine, backend = langflow
    deleted = backend["deleted_flow_run"]
    assert deleted["after_flow_delete"] == {"trace_rows": 0, "job_rows": 1}
    flows = {uuid_text(r.id) for r in rows(engine, "SELECT id FROM flow")}
    jobs = {
        uuid_text(r.job_id): uuid_text(r.flow_id)
        for r in rows(engine, "SELECT job_id, flow_id FROM job")
    }
    assert deleted["flow_id"] not in flows
    assert jobs[deleted["job_id"]] == deleted["flow_id"]  # a job row pointing at no flow
    assert deleted["trace_id"] not in {
        uuid_text(r.id) for r in rows(engine, "SELECT id FROM trace")
    }


def test_same_flow_name_two_owners(langflow: tuple[Engine, dict[str, Any]]) -> None:
    engine, backend = langflow
    owners = rows(
        engine,
        'SELECT f.id, u.username FROM flow f JOIN "user" u ON u.id = f.user_id'
        " WHERE f.name = 'Echo' ORDER BY u.username",
    )
    users = MANIFEST["users"]
    assert [r.username for r in owners] == sorted(
        [users["admin"]["username"], users["second"]["username"]]
    )
    by_user = {r.username: uuid_text(r.id) for r in owners}
    assert by_user[users["admin"]["username"]] == backend["flows"]["echo"]
    assert by_user[users["second"]["username"]] == backend["flows"]["echo_second_user"]


def test_no_credentials_left(langflow: tuple[Engine, dict[str, Any]]) -> None:
    engine, _ = langflow
    for table in MANIFEST["scrubbed_tables"]:
        assert rows(engine, f"SELECT count(*) AS n FROM {table}")[0].n == 0


def test_storage_types(langflow: tuple[Engine, dict[str, Any]]) -> None:
    """What docs/langflow-source.md states about the two backends."""
    engine, _ = langflow
    if engine.dialect.name == "postgresql":
        types = {
            (r.table_name, r.column_name): r.udt_name
            for r in rows(
                engine,
                "SELECT table_name, column_name, udt_name FROM information_schema.columns"
                " WHERE table_name IN ('trace', 'span', 'job')",
            )
        }
        assert types[("trace", "id")] == "uuid"
        assert types[("trace", "start_time")] == "timestamptz"
        assert types[("trace", "status")] == "spanstatus"
        assert types[("span", "attributes")] == "json"
        assert types[("job", "status")] == "job_status_enum"
        assert types[("job", "job_metadata")] == "jsonb"
    else:
        trace = rows(engine, "SELECT id, start_time, flow_id FROM trace LIMIT 1")[0]
        assert re.fullmatch(r"[0-9a-f]{32}", trace.id)
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", str(trace.start_time))


READ_ONLY_GRANTS = """
GRANT CONNECT ON DATABASE "{database}" TO {role};
GRANT USAGE ON SCHEMA public TO {role};
GRANT SELECT ON public.trace, public.span, public.job, public.flow TO {role};
GRANT SELECT (id, username) ON public."user" TO {role};
"""


@pytest.mark.postgres
def test_read_only_role_grants_postgres(pg_langflow: Engine) -> None:
    """The GRANTs docs/langflow-source.md lists are enough to read runs, and nothing more."""
    engine, backend = pg_langflow, MANIFEST["backends"]["postgresql"]
    role = f"flowruns_reader_{uuid.uuid4().hex[:8]}"  # roles are server-wide: unique, dropped
    database = engine.url.database
    with engine.connect() as conn:
        conn.execute(text(f"CREATE ROLE {role} NOLOGIN"))
        conn.execute(text(READ_ONLY_GRANTS.format(database=database, role=role)))
        conn.commit()
        try:
            conn.execute(text(f"SET ROLE {role}"))
            counts = conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM trace) AS traces, (SELECT count(*) FROM span)"
                    ' AS spans, (SELECT count(*) FROM job) AS jobs, (SELECT count(*) FROM "user")'
                    ' AS users, (SELECT count(*) FROM flow f JOIN "user" u ON u.id = f.user_id)'
                    " AS owned"
                )
            ).one()
            assert (counts.traces, counts.spans, counts.jobs) == tuple(
                backend["row_counts"][t] for t in ("trace", "span", "job")
            )
            assert counts.users == backend["row_counts"]["user"] and counts.owned > 0
            for forbidden in ('SELECT password FROM "user"', "DELETE FROM trace"):
                with pytest.raises(Exception, match="permission denied"):
                    conn.execute(text(forbidden))
                conn.rollback()
                conn.execute(text(f"SET ROLE {role}"))
        finally:
            conn.rollback()
            conn.execute(text("RESET ROLE"))
            conn.execute(text(f"DROP OWNED BY {role}"))
            conn.execute(text(f"DROP ROLE {role}"))
            conn.commit()
