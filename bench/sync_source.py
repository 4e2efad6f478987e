"""A Langflow 1.13 source for bench/sync_bench.py: the real fixture's schema (the SQLite file
copied, or the PostgreSQL dump replayed into a scratch database), filled in SQL with
generated traces of three spans each (Chat Input, an OpenAI LLM span with Langflow's
``gen_ai.*`` attributes, Chat Output; 1 run in 20 fails at its last span), spread over the
fixture's flows plus generated ones of the fixture's users.

Ids are made from (batch, sequence number) so that every batch of generated traces is
distinct and a trace's spans are found without a lookup: trace = ``%08x`` of batch * 16,
span k = batch * 16 + k, followed by ``%024x`` of the sequence number.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "langflow" / "1.13.0"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
FLOWS = 50
EPOCH_T0 = 1_780_000_000.0  # 2026-05-28: the bulk traces start here, one every 2 s

# Per backend: a trace id and span id from (batch, i), the rows 0..count-1, JSON building,
# a time from epoch seconds, and enum casts (PostgreSQL) or plain text (SQLite).
DIALECT = {
    "sqlite": {
        "id": "printf('%08x%024x', {head}, i)",
        "rows": (
            "WITH RECURSIVE seq(i) AS (SELECT :first UNION ALL SELECT i + 1 FROM seq"
            " WHERE i < :first + :count - 1)"
        ),
        "json": "json_object",
        "time": "strftime('%Y-%m-%d %H:%M:%f', {s}, 'unixepoch') || '000'",
        "dashed": (
            "substr(id, 1, 8) || '-' || substr(id, 9, 4) || '-' || substr(id, 13, 4) || '-'"
            " || substr(id, 17, 4) || '-' || substr(id, 21)"
        ),
        "cast": "{v}",
        "kinds": "(SELECT 1 AS k UNION ALL SELECT 2 UNION ALL SELECT 3)",
        "new_id": "lower(hex(randomblob(16)))",
    },
    "postgresql": {
        "id": "(lpad(to_hex({head}), 8, '0') || lpad(to_hex(i), 24, '0'))::uuid",
        "rows": "WITH seq AS (SELECT i FROM generate_series(:first, :first + :count - 1) i)",
        "json": "json_build_object",
        "time": "to_timestamp({s})",
        "dashed": "id::text",
        "cast": "CAST({v} AS {t})",
        "kinds": "(VALUES (1), (2), (3)) AS kinds(k)",
        "new_id": "gen_random_uuid()",
    },
}


def _sql(backend: str, template: str) -> str:
    d = DIALECT[backend]

    def cast(value: str, kind: str) -> str:
        return d["cast"].format(v=value, t=kind)

    start = "(:epoch + (i - :first) * :step_s)"
    latency = "(100 + i % 900)"
    failed = "(i % 20 = 0)"
    return template.format(
        rows=d["rows"],
        trace_id=d["id"].format(head=":batch * 16"),
        span_id=d["id"].format(head=":batch * 16 + k"),
        json=d["json"],
        start=d["time"].format(s=start),
        end=d["time"].format(s=f"{start} + {latency} / 1000.0"),
        span_start=d["time"].format(
            s=f"{start} + (CASE k WHEN 1 THEN 0 WHEN 2 THEN 5 ELSE {latency} - 10 END) / 1000.0"
        ),
        span_end=d["time"].format(
            s=f"{start} + (CASE k WHEN 1 THEN 5 WHEN 2 THEN {latency} - 10"
            f" ELSE {latency} END) / 1000.0"
        ),
        latency=latency,
        failed=failed,
        status=cast(f"CASE WHEN {failed} THEN 'error' ELSE 'ok' END", "spanstatus"),
        span_status=cast(f"CASE WHEN k = 3 AND {failed} THEN 'error' ELSE 'ok' END", "spanstatus"),
        span_type=cast("CASE k WHEN 2 THEN 'llm' ELSE 'chain' END", "spantype"),
        internal=cast("'INTERNAL'", "spankind"),
        dashed=d["dashed"],
        kinds=d["kinds"],
    )


TRACES = """
INSERT INTO trace (id, name, status, start_time, end_time, total_latency_ms, total_tokens,
                   flow_id, session_id)
{rows}, f AS (SELECT id, name || ' - ' || {dashed} AS label,
                     row_number() OVER (ORDER BY id) - 1 AS n FROM flow)
SELECT {trace_id}, f.label, {status}, {start}, {end}, {latency},
       (21 + i % 50) + (8 + i % 20), f.id, 's-' || (i % 1000)
FROM seq JOIN f ON f.n = i % :flows
"""

SPANS = """
INSERT INTO span (id, trace_id, parent_span_id, name, span_type, status, start_time,
                  end_time, latency_ms, inputs, outputs, error, span_kind, attributes)
{rows}
SELECT {span_id}, {trace_id}, NULL,
       CASE k WHEN 1 THEN 'Chat Input' WHEN 2 THEN 'OpenAI' ELSE 'Chat Output' END,
       {span_type}, {span_status}, {span_start}, {span_end},
       CASE k WHEN 1 THEN 5 WHEN 2 THEN {latency} - 15 ELSE 10 END,
       CASE k WHEN 2 THEN {json}('input_value', 'question ' || i, 'model_name',
                                 'gpt-4o-mini', 'temperature', 0.1, 'stream', false)
              ELSE {json}('input_value', 'question ' || i, 'sender', 'User',
                          'session_id', 's-' || (i % 1000)) END,
       CASE WHEN k = 3 AND {failed} THEN {json}('error', 'ValueError: bench failure ' || i)
            WHEN k = 2 THEN {json}('text_output', {json}('text', 'answer to question ' || i,
                 'usage', {json}('input_tokens', 21 + i % 50, 'output_tokens', 8 + i % 20)))
            ELSE {json}('message', {json}('text', 'question ' || i, 'sender', 'User')) END,
       CASE WHEN k = 3 AND {failed} THEN 'ValueError: bench failure ' || i END,
       {internal},
       CASE k WHEN 2 THEN {json}('gen_ai.request.model', 'gpt-4o-mini',
                                 'gen_ai.provider.name', 'openai',
                                 'gen_ai.usage.input_tokens', 21 + i % 50,
                                 'gen_ai.usage.output_tokens', 8 + i % 20)
              ELSE {json}() END
FROM seq CROSS JOIN {kinds}
"""


def scratch_url(backend: str, name: str, folder: Path) -> str:
    """A new empty database (a SQLite file under ``folder``, or a PostgreSQL database)."""
    if backend == "sqlite":
        return f"sqlite:///{folder / name}.db"
    drop_database(backend, name)
    _admin(f"CREATE DATABASE {name}")
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def drop_database(backend: str, name: str) -> None:
    if backend == "postgresql":
        _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _admin(statement: str) -> None:
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(statement))
    admin.dispose()


def build_source(backend: str, name: str, folder: Path) -> str:
    """Langflow's schema with the fixture's users and flows, plus generated flows of those
    users up to FLOWS; returns its URL."""
    url = scratch_url(backend, name, folder)
    if backend == "sqlite":
        shutil.copy(FIXTURE / "langflow.sqlite", folder / f"{name}.db")
        # As a live Langflow has it: WAL and 4 KiB pages (the fixture's snapshot left WAL
        # and packed 512-byte pages to stay small; scripts/langflow_fixtures/snapshot.py).
        with closing(sqlite3.connect(folder / f"{name}.db", isolation_level=None)) as conn:
            conn.execute("PRAGMA page_size=4096")
            conn.execute("VACUUM")
            conn.execute("PRAGMA journal_mode=WAL")
    else:
        conninfo = make_url(url).set(drivername="postgresql").render_as_string(False)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute((FIXTURE / "langflow.postgresql.sql").read_bytes())  # type: ignore[arg-type]
    engine = writer_engine(url)
    new_id = DIALECT[backend]["new_id"]
    with engine.begin() as conn:
        have = conn.execute(text("SELECT count(*) FROM flow")).scalar_one()
        users = [r[0] for r in conn.execute(text('SELECT id FROM "user" ORDER BY username'))]
        for n in range(have, FLOWS):
            conn.execute(
                text(
                    f"INSERT INTO flow (id, name, user_id, updated_at, access_type, flow_type,"
                    f" data) SELECT {new_id}, :name, user_id, updated_at, access_type,"
                    f" flow_type, data FROM flow WHERE user_id = :user LIMIT 1"
                ),
                {"name": f"Bench flow {n}", "user": users[n % len(users)]},
            )
    engine.dispose()
    return url


def writer_engine(url: str) -> Engine:
    """Langflow's side: a plain engine (no read-only session, no pragmas of ours)."""
    return create_engine(url, connect_args={"timeout": 30} if url.startswith("sqlite") else {})


def add_traces(
    conn: Connection, batch: int, first: int, count: int, epoch: float, step_s: float
) -> None:
    """``count`` traces (sequence numbers first..) with their spans, in the caller's
    transaction; trace j starts at epoch + j * step_s."""
    backend = conn.dialect.name
    flows = conn.execute(text("SELECT count(*) FROM flow")).scalar_one()
    params: dict[str, Any] = {
        "batch": batch,
        "first": first,
        "count": count,
        "epoch": epoch,
        "step_s": step_s,
        "flows": flows,
    }
    conn.execute(text(_sql(backend, TRACES)), params)
    conn.execute(text(_sql(backend, SPANS)), {k: v for k, v in params.items() if k != "flows"})


def fill(url: str, traces: int, batch: int = 0, chunk: int = 200_000) -> float:
    """``traces`` traces in bulk (a transaction per chunk); returns seconds taken."""
    engine = writer_engine(url)
    started = time.perf_counter()
    for first in range(0, traces, chunk):
        with engine.begin() as conn:
            count = min(chunk, traces - first)
            add_traces(conn, batch, first, count, EPOCH_T0 + first * 2, 2.0)
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    seconds = time.perf_counter() - started
    engine.dispose()
    return seconds


def copy_baseline(source_url: str, folder: Path) -> tuple[float, int]:
    """The floor for moving the same rows: ``INSERT ... SELECT`` of every trace and span
    into unindexed tables of the same backend (a scratch SQLite file with the source
    attached; on PostgreSQL, tables in the source database, dropped after). Returns
    (seconds, rows copied)."""
    sqlite = source_url.startswith("sqlite")
    url = f"sqlite:///{folder / 'baseline'}.db" if sqlite else source_url
    engine = writer_engine(url)
    prefix = "src." if sqlite else ""
    with engine.connect() as conn:
        if sqlite:
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
            conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
            conn.exec_driver_sql(f"ATTACH DATABASE '{make_url(source_url).database}' AS src")
        for table in ("trace", "span"):
            conn.exec_driver_sql(
                f"CREATE TABLE bench_copy_{table} AS SELECT * FROM {prefix}{table} WHERE 1 = 0"
            )
        conn.commit()
        started = time.perf_counter()
        rows = 0
        for table in ("trace", "span"):
            result = conn.exec_driver_sql(
                f"INSERT INTO bench_copy_{table} SELECT * FROM {prefix}{table}"
            )
            rows += result.rowcount
        conn.commit()
        seconds = time.perf_counter() - started
        for table in ("trace", "span"):
            conn.exec_driver_sql(f"DROP TABLE bench_copy_{table}")
        conn.commit()
    engine.dispose()
    if sqlite:
        (folder / "baseline.db").unlink()
    return seconds, rows


def write_like_langflow(url: str, rate: float, seconds: float, batch: int, out: Path) -> None:
    """Langflow's write pattern, in its own process: one transaction per run (its trace
    and spans) when the run ends, ``rate`` runs a second; writes each run's id (hex) and
    commit time (time.time()) to ``out``, one per line."""
    engine = writer_engine(url)
    lines = []
    started = time.time()
    total = int(rate * seconds)
    for n in range(total):
        pause = started + n / rate - time.time()
        if pause > 0:
            time.sleep(pause)
        with engine.begin() as conn:  # ends ~now: started 100-999 ms ago
            add_traces(conn, batch, n, 1, time.time() - 1.0, 0.0)
        lines.append(f"{batch * 16:08x}{n:024x} {time.time():.6f}")
    engine.dispose()
    out.write_text("\n".join(lines) + "\n")
