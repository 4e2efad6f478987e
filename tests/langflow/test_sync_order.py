"""The sync against Langflow's write pattern: runs that end late arrive after later-started
ones, syncs interrupted at any point (in process and by SIGKILL) and run again, commits
out of order on PostgreSQL, rowids freed by deleted traces. Each ends equal to one sync
of the same source into a fresh database."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from random import Random
from typing import Any

import pytest
from langflow_fixture import CURRENT, replay_dump, rows
from langflow_writer import LangflowWriter, empty_langflow
from sqlalchemy import Engine, create_engine, text

from data import migrate
from data.db import build_engine
from data.langflow import reader
from data.langflow import sync as sync_module
from data.langflow.source import open_source
from data.langflow.sync import sync_once
from data.rollup.maintain import check

RUN_COLUMNS = (
    "id, status, duration_ms, total_tokens, session_id, components_executed, trigger_type,"
    " error_message"
)


def snapshot(engine: Engine) -> tuple[list[Any], list[Any]]:
    runs = rows(engine, f"SELECT {RUN_COLUMNS} FROM flow_run ORDER BY id")
    steps = rows(engine, "SELECT id, run_id, position, name, status FROM flowrun_step ORDER BY id")
    return [tuple(r) for r in runs], [tuple(s) for s in steps]


def fresh(path: Path) -> Engine:
    migrate.upgrade(f"sqlite:///{path}")
    return build_engine(f"sqlite:///{path}")


def one_sync(source_url: str, folder: Path) -> tuple[list[Any], list[Any]]:
    reference = fresh(folder / "reference.db")
    try:
        sync_once(reference, open_source(source_url, reference))
        return snapshot(reference)
    finally:
        reference.dispose()


class Killed(RuntimeError):
    pass


@pytest.mark.parametrize("seed", range(6))
def test_interleaved_writes_and_interrupted_syncs(
    seed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = Random(seed)
    source_path = empty_langflow(tmp_path / "langflow.sqlite")
    source_url = f"sqlite:///{source_path}"
    writer = LangflowWriter(source_path, rng)
    ours = fresh(tmp_path / "ours.db")
    original = sync_module._write_batch
    try:
        for _ in range(25):
            for _ in range(rng.randint(0, 6)):
                # Some ran long: started up to an hour before later-started short ones.
                writer.run(failed=rng.random() < 0.2, api=rng.random() < 0.7,
                           started_ago_s=rng.choice([0, 0, 5, 3600]))  # fmt: skip
            calls = {"n": 0, "kill_at": rng.randint(1, 4) if rng.random() < 0.4 else None}

            def write(*args: Any, calls: dict[str, Any] = calls) -> None:
                calls["n"] += 1
                if calls["n"] == calls["kill_at"]:
                    raise Killed  # the batch's transaction rolls back, as on a kill
                original(*args)

            monkeypatch.setattr(sync_module, "_write_batch", write)
            with contextlib.suppress(Killed):
                sync_once(ours, open_source(source_url, ours), batch=rng.randint(1, 7))
        monkeypatch.setattr(sync_module, "_write_batch", original)
        sync_once(ours, open_source(source_url, ours))  # incremental: no full pass forced
        assert snapshot(ours) == one_sync(source_url, tmp_path)
        assert len(snapshot(ours)[0]) == len(writer.written)
        assert check(ours).consistent
    finally:
        ours.dispose()


def test_sigkill_at_any_point_then_rerun(tmp_path: Path) -> None:
    """The real thing: the command killed with SIGKILL mid-sync, five times, then run to
    the end: nothing lost, nothing doubled."""
    source_path = empty_langflow(tmp_path / "langflow.sqlite")
    writer = LangflowWriter(source_path, Random(7))
    for i in range(600):
        writer.run(failed=i % 9 == 0, api=i % 3 != 0)
    source_url = f"sqlite:///{source_path}"
    ours_url = f"sqlite:///{tmp_path / 'ours.db'}"
    migrate.upgrade(ours_url)
    command = [sys.executable, "-m", "data.cli.main", "--database-url", ours_url, "sync",
               "langflow", "--source", source_url, "--batch", "7"]  # fmt: skip
    rng = Random(3)
    kills = 0
    for _ in range(5):
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(1.0, 3.0))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            kills += 1
        process.wait(timeout=60)
    assert kills > 0
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr
    ours = build_engine(ours_url)
    try:
        assert snapshot(ours) == one_sync(source_url, tmp_path)
        assert len(snapshot(ours)[0]) == 600
        assert check(ours).consistent
    finally:
        ours.dispose()


def test_rowids_freed_by_deleted_traces_are_found_by_the_full_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Langflow deleting its newest traces frees their rowids; traces written next reuse
    them, below where the last pass ended. A pass starts a little before (the overlap:
    one row here, to show the edge) and the periodic full pass finds the rest."""
    monkeypatch.setattr(reader, "SQLITE_OVERLAP_ROWS", 1)
    source_path = empty_langflow(tmp_path / "langflow.sqlite")
    source_url = f"sqlite:///{source_path}"
    writer = LangflowWriter(source_path, Random(1))
    ours = fresh(tmp_path / "ours.db")
    try:
        for _ in range(10):
            writer.run()
        sync_once(ours, open_source(source_url, ours))
        writer.delete_newest(4)
        for _ in range(5):
            writer.run()
        sync_once(ours, open_source(source_url, ours))
        held = {uuid.UUID(str(r.id)) for r in rows(ours, "SELECT id FROM flow_run")}
        missing = writer.trace_ids() - held
        assert missing  # the incremental pass alone misses some (the edge is real)
        report = sync_once(ours, open_source(source_url, ours), full=True)
        held = {uuid.UUID(str(r.id)) for r in rows(ours, "SELECT id FROM flow_run")}
        assert report.runs == len(missing) and writer.trace_ids() <= held
        assert len(held) == 15  # the 4 Langflow deleted stay in our history
    finally:
        ours.dispose()


@pytest.mark.postgres
def test_postgres_commits_out_of_order(tmp_path: Path, pg_scratch_database: Any) -> None:
    """Two Langflow workers: the one that wrote first commits last. The first pass sees
    only the later row; the next pass starts a little before and finds the other."""
    url = pg_scratch_database()
    replay_dump(CURRENT / "langflow.postgresql.sql", url)
    source = create_engine(url)
    ours = fresh(tmp_path / "ours.db")
    [flow] = rows(source, "SELECT id FROM flow LIMIT 1")
    insert = text(
        "INSERT INTO trace (id, name, status, start_time, end_time, total_latency_ms,"
        " total_tokens, flow_id, session_id) VALUES (:id, 'x', 'ok', now(), now(), 5, 0,"
        " :flow, 's')"
    )
    first, second = uuid.uuid4(), uuid.uuid4()
    try:
        sync_once(ours, open_source(url, ours))
        with source.connect() as slow:
            slow.execute(insert, {"id": first, "flow": flow.id})  # not committed yet
            with source.begin() as fast:
                fast.execute(insert, {"id": second, "flow": flow.id})
            sync_once(ours, open_source(url, ours))
            slow.commit()
        held = {uuid.UUID(str(r.id)) for r in rows(ours, "SELECT id FROM flow_run")}
        assert second in held and first not in held
        sync_once(ours, open_source(url, ours))
        held = {uuid.UUID(str(r.id)) for r in rows(ours, "SELECT id FROM flow_run")}
        assert first in held
    finally:
        ours.dispose()
        source.dispose()


class EndlessPass(RuntimeError):
    pass


def _cell(value: Any) -> str:
    with contextlib.suppress(ValueError):
        return str(uuid.UUID(str(value)))
    return str(value)


def _comparable(tables: tuple[list[Any], list[Any]]) -> list[list[tuple[str, ...]]]:
    return [sorted(tuple(map(_cell, row)) for row in table) for table in tables]


@pytest.mark.parametrize(
    "ours_backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_pass_ends_while_langflow_keeps_writing(
    ours_backend: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    """Langflow writing without a pause (a run lands between every two reads) used to keep
    one pass reading forever: in-flight jobs, flow names and the last sync time waited
    for a pause. A pass now stops past where Langflow had written when it started."""
    source_path = empty_langflow(tmp_path / "langflow.sqlite")
    source_url = f"sqlite:///{source_path}"
    writer = LangflowWriter(source_path, Random(7))
    for _ in range(12):
        writer.run()
    url = str(request.getfixturevalue("pg_url")) if ours_backend == "postgres" else None
    ours = build_engine(url) if url else fresh(tmp_path / "ours.db")
    original = sync_module.traces_after
    reads = {"n": 0}

    def read_while_langflow_writes(*args: Any) -> Any:
        reads["n"] += 1
        if reads["n"] > 40:
            raise EndlessPass
        found = original(*args)
        writer.run()  # one more run ends before the next read
        return found

    try:
        monkeypatch.setattr(sync_module, "traces_after", read_while_langflow_writes)
        first = sync_once(ours, open_source(source_url, ours), batch=3)
        assert first.runs == 12  # what was there when the pass started: 4 batches of 3
        monkeypatch.setattr(sync_module, "traces_after", original)
        sync_once(ours, open_source(source_url, ours))  # the next pass: the rest
        assert len(snapshot(ours)[0]) == len(writer.written)
        # Ids come back as UUIDs from PostgreSQL, as 32-hex text from SQLite.
        reference = _comparable(one_sync(source_url, tmp_path))
        assert _comparable(snapshot(ours)) == reference
        assert check(ours).consistent
    finally:
        ours.dispose()


@pytest.mark.postgres
def test_a_pass_ends_while_langflow_keeps_writing_to_postgres(
    tmp_path: Path, pg_scratch_database: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same on PostgreSQL, where a pass stops at the first heap page it did not have
    when it started: 100 runs land between every two reads (several pages a read)."""
    url = pg_scratch_database()
    replay_dump(CURRENT / "langflow.postgresql.sql", url)
    source = create_engine(url)
    ours = fresh(tmp_path / "ours.db")
    [flow] = rows(source, "SELECT id FROM flow LIMIT 1")
    more = text(
        "INSERT INTO trace (id, name, status, start_time, end_time, total_latency_ms,"
        " total_tokens, flow_id, session_id) SELECT gen_random_uuid(), 'x', 'ok', now(),"
        " now(), 5, 0, :flow, 's' FROM generate_series(1, 100)"
    )
    original = sync_module.traces_after
    reads = {"n": 0}

    def read_while_langflow_writes(*args: Any) -> Any:
        reads["n"] += 1
        if reads["n"] > 40:
            raise EndlessPass
        found = original(*args)
        with source.begin() as conn:
            conn.execute(more, {"flow": flow.id})
        return found

    try:
        monkeypatch.setattr(sync_module, "traces_after", read_while_langflow_writes)
        first = sync_once(ours, open_source(url, ours), batch=50)
        assert 14 <= first.runs < 14 + 100 * reads["n"]
        monkeypatch.setattr(sync_module, "traces_after", original)
        sync_once(ours, open_source(url, ours))
        [(traces,)] = rows(source, "SELECT count(*) FROM trace")
        [(synced,)] = rows(ours, "SELECT count(*) FROM flow_run WHERE status != 'running'")
        assert synced == traces
    finally:
        ours.dispose()
        source.dispose()
