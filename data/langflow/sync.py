"""`flowruns sync langflow`: copy new runs (and their steps) from a Langflow database into
ours, as often as asked. Idempotent and resumable: each batch of runs is written in one
transaction together with the position it reached, so a sync killed at any point and run
again writes the same rows once. Langflow's tables are only read.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, Engine, Table, select
from sqlalchemy.exc import DBAPIError

from data.langflow import jobs
from data.langflow.mapping import Mapped, map_trace
from data.langflow.reader import (
    Trace,
    all_flows,
    as_uuid,
    end_of_pass,
    flows_of,
    jobs_of,
    spans_of,
    start_of_pass,
    traces_after,
    users_of,
)
from data.langflow.source import Source
from data.langflow.tables import SyncState
from data.langflow.writer import (
    copy_flows,
    copy_users,
    replace_steps,
    synced_already,
    upsert_runs,
)
from data.models import utcnow

BATCH = 1000
FULL_EVERY = timedelta(hours=1)
NAMES_EVERY = timedelta(minutes=1)


@dataclass
class SyncReport:
    runs: int = 0
    steps: int = 0
    in_flight: int = 0
    closed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    full_pass: bool = False


STATE: Table = SyncState.__table__  # type: ignore[assignment]


def _state(conn: Connection, source: Source) -> SimpleNamespace:
    """The source's row (a fresh one the first time), as attributes."""
    found = conn.execute(select(STATE).where(STATE.c.source_key == source.key)).mappings().first()
    if found is not None:
        return SimpleNamespace(**found)
    fresh = {c.key: None for c in STATE.columns} | {
        "source_key": source.key,
        "source": source.display,
        "kind": "langflow",
        "position": {},
        "runs": 0,
        "steps": 0,
        "skipped": {},
    }
    return SimpleNamespace(**fresh)


def _save(conn: Connection, state: SimpleNamespace) -> None:
    values = {c.key: getattr(state, c.key) for c in STATE.columns}
    key = STATE.c.source_key == state.source_key
    if conn.execute(select(STATE.c.source_key).where(key)).first() is None:
        conn.execute(STATE.insert().values(**values))
    else:
        conn.execute(STATE.update().where(key).values(**values))


def _user_ids(flows: Iterable[Any]) -> set[uuid.UUID]:
    return {owner for owner in (as_uuid(f.user_id) for f in flows) if owner is not None}


def _owners(
    ours: Connection, src: Connection, source: Source, flow_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID | None]:
    """flow id -> owner for the flows Langflow still has; copied into ours when ours is
    another database."""
    flows = flows_of(src, source, set(flow_ids))
    if not source.same_database:
        copy_users(ours, users_of(src, source, _user_ids(flows)))
        copy_flows(ours, flows)
    return {uuid.UUID(str(f.id)): as_uuid(f.user_id) for f in flows}


def _write_batch(
    ours: Connection, src: Connection, source: Source, traces: list[Trace], report: SyncReport
) -> None:
    held = synced_already(ours, [t.id for t in traces])  # once per batch, not per trace
    todo = [t for t in traces if t.id not in held]
    if not todo:
        return
    owners = _owners(ours, src, source, {t.flow_id for t in todo if t.flow_id})
    spans: dict[uuid.UUID, list[Any]] = {t.id: [] for t in todo}
    for span in spans_of(src, source, [t.id for t in todo]):
        trace_id = as_uuid(span.trace_id)
        if trace_id in spans:
            spans[trace_id].append(span)
    with_jobs = jobs_of(src, source, [t.id for t in todo])
    mapped: list[Mapped] = []
    for trace in todo:
        if trace.flow_id not in owners:
            report.skipped["its flow is gone from Langflow, or was never there"] += 1
            continue
        if trace.start_time is None:
            report.skipped["no readable start_time"] += 1
            continue
        owner = owners[trace.flow_id]
        mapped.append(map_trace(trace, spans[trace.id], owner, trace.id in with_jobs))
    _store(ours, mapped, report)


def _store(ours: Connection, mapped: list[Mapped], report: SyncReport) -> None:
    """All at once; a batch the database refuses is retried run by run, so one run it
    cannot take is skipped with the reason and the others are kept."""
    try:
        with ours.begin_nested():
            upsert_runs(ours, [m.run for m in mapped])
            replace_steps(ours, [m.run["id"] for m in mapped], [s for m in mapped for s in m.steps])
        report.runs += len(mapped)
        report.steps += sum(len(m.steps) for m in mapped)
        return
    except DBAPIError:
        if len(mapped) == 1:
            raise
    for one in mapped:
        try:
            _store(ours, [one], report)
        except DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0][:120]
            report.skipped[f"refused by the database: {reason}"] += 1


def sync_once(
    ours: Engine, source: Source, *, batch: int = BATCH, full: bool = False
) -> SyncReport:
    """One pass: the traces written since the last one (every trace on a full pass), then
    the runs in flight, then (another database than Langflow's) the flows' names."""
    report = SyncReport()
    now = utcnow()
    with ours.begin() as conn:
        state = _state(conn, source)
    position = dict(state.position or {})
    report.full_pass = full or state.last_full_at is None or now - state.last_full_at > FULL_EVERY
    start = start_of_pass(source, None if report.full_pass else position.get("at"))
    after, reached = None, int(position.get("at") or 0)
    with source.engine.connect() as src:
        end = end_of_pass(src, source)
        while True:
            traces, last = traces_after(src, source, after, start, batch)
            if last is None:
                break
            done = SyncReport()
            with ours.begin() as conn:
                _write_batch(conn, src, source, traces, done)
                reached = max(reached, last[0])
                newest = max((t.end_time for t in traces if t.end_time), default=None)
                _advance(conn, source, reached, newest, done)
            report.runs += done.runs
            report.steps += done.steps
            report.skipped += done.skipped
            after = last
            if last[0] >= end:
                break
        with ours.begin() as conn:
            _jobs(conn, src, source, report)
            _names(conn, src, source, now)
            _finish(conn, source, now, report)
    return report


def _advance(
    conn: Connection, source: Source, reached: int, newest: datetime | None, done: SyncReport
) -> None:
    """The batch's position and counts, in the batch's own transaction."""
    state = _state(conn, source)
    state.position = {**(state.position or {}), "at": reached}
    if newest and (state.newest_end is None or newest > state.newest_end):
        state.newest_end = newest
    state.runs, state.steps = (state.runs or 0) + done.runs, (state.steps or 0) + done.steps
    state.skipped = dict(Counter(state.skipped or {}) + done.skipped)
    _save(conn, state)


def _jobs(conn: Connection, src: Connection, source: Source, report: SyncReport) -> None:
    if not source.has_jobs:
        return
    report.in_flight = jobs.add_placeholders(
        conn, source, src, lambda flow_ids: _owners(conn, src, source, flow_ids)
    )
    report.closed = jobs.close_ended(conn, source, src)


def _names(conn: Connection, src: Connection, source: Source, now: datetime) -> None:
    """Another database than Langflow's: its flows' names (and owners) kept current, at
    most once a minute. Flows Langflow deleted stay, with the name they last had."""
    if source.same_database:
        return
    state = _state(conn, source)
    last = (state.position or {}).get("names_at")
    if last and now - datetime.fromisoformat(last) < NAMES_EVERY:
        return
    flows = all_flows(src)
    copy_users(conn, users_of(src, source, _user_ids(flows)))
    copy_flows(conn, flows)
    state.position = {**(state.position or {}), "names_at": now.isoformat()}
    _save(conn, state)


def _finish(conn: Connection, source: Source, now: datetime, report: SyncReport) -> None:
    state = _state(conn, source)
    state.last_sync_at = now
    state.last_error = None
    if report.full_pass:
        state.last_full_at = now
    _save(conn, state)
