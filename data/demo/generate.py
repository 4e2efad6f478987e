"""Deterministic, realistic demo runs: named flows, users and sessions, log-normal
durations, daily and weekly seasonality, error bursts, a latency regression, and a few
runs still in progress. Vectorised with numpy and bulk-inserted in chunks (COPY on
PostgreSQL); bench/results/bulk.md has the rates.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, select

from data.db import session_scope
from data.demo import schema_pause
from data.demo.prefetch import ahead
from data.demo.profiles import FLOWS, USERS
from data.demo.rollup_tally import RollupTally
from data.demo.rows import chunk_rows, start_times
from data.demo.schema_pause import (
    indexes_built_after,
    lock_for_load,
    rebuilds_indexes,
)
from data.demo.writers import loading, transaction, writer_for
from data.errors import InvalidQuery
from data.models import Flow, User, utcnow

DEMO_MARKER = "[demo data]"
MAX_DEMO_RUNS = 20_000_000


@dataclass(frozen=True)
class DemoSummary:
    users: int
    flows: int
    runs: int


def _ensure_flows(engine: Engine) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """Create the demo users and flows (or reuse them): (user ids, flow ids by FLOWS)."""
    with session_scope(engine) as session:
        user_ids = []
        for name in USERS:
            user = session.scalar(select(User).where(User.username == name))
            if user is None:
                user = User(id=uuid.uuid4(), username=name, is_superuser=name == "ops.analyst")
                session.add(user)
                session.flush()
            user_ids.append(user.id)
        flow_ids = []
        for index, profile in enumerate(FLOWS):
            owner = user_ids[index % len(user_ids)]
            flow = session.scalar(
                select(Flow).where(Flow.name == profile.name, Flow.user_id == owner)
            )
            if flow is None:
                flow = Flow(
                    id=uuid.uuid4(),
                    name=profile.name,
                    user_id=owner,
                    description=f"{DEMO_MARKER} {profile.name}",
                )
                session.add(flow)
                session.flush()
            flow_ids.append(flow.id)
    return user_ids, flow_ids


def generate_demo(
    engine: Engine,
    runs: int,
    *,
    days: int = 90,
    seed: int = 42,
    now: datetime | None = None,
    chunk_size: int = 50_000,
    progress: Callable[[int, int], None] | None = None,
) -> DemoSummary:
    """Insert ``runs`` demo runs spread over the ``days`` before ``now``."""
    if not 0 <= runs <= MAX_DEMO_RUNS:
        raise InvalidQuery(f"runs: must be between 0 and {MAX_DEMO_RUNS:,}")
    if not 1 <= days <= 3650:
        raise InvalidQuery("days: must be between 1 and 3650")
    now = now or utcnow()
    start = now - timedelta(days=days)
    rng = np.random.default_rng(seed)
    user_ids, flow_ids = _ensure_flows(engine)
    offsets = start_times(rng, runs, start, days)
    write = writer_for(engine)

    def prepared(tally: RollupTally | None) -> Iterator[tuple[int, Any]]:
        """(runs, rows ready to send) per chunk; in the prefetch thread on PostgreSQL."""
        for done in range(0, runs, chunk_size):
            chunk_offsets = offsets[done : done + chunk_size]
            chunk = chunk_rows(rng, chunk_offsets, start, now, days, user_ids, flow_ids)
            if tally is not None:
                tally.add(chunk)
            yield len(chunk_offsets), write.prepare(chunk)

    def load(conn: Connection, commit_each: bool, tally: RollupTally | None = None) -> None:
        done = 0
        in_thread = engine.dialect.name == "postgresql"
        with ahead(prepared(tally), thread=in_thread) as chunks:
            for count, rows in chunks:
                with transaction(conn) if commit_each else nullcontext():
                    write.send(conn, rows)
                done += count
                if progress is not None:
                    progress(done, runs)

    with loading(engine) as conn:
        loaded = False
        # Read from the module: tests lower the threshold to load small datasets this way.
        if runs >= schema_pause.REBUILD_INDEXES_FROM_RUNS:
            # One transaction, so no reader ever sees the table without its indexes. The
            # table is locked before it is found empty: a run committed between the two
            # would be missing from the rollup written from the loaded runs alone
            # (issue 16, case 6).
            tally = RollupTally()
            with transaction(conn, immediate=True):
                lock_for_load(conn)
                if rebuilds_indexes(conn, runs):
                    with indexes_built_after(conn, tally.write):
                        load(conn, commit_each=False, tally=tally)
                    loaded = True
        if not loaded:
            load(conn, commit_each=True)  # readers see whole chunks as they land
    return DemoSummary(users=len(user_ids), flows=len(flow_ids), runs=runs)


def is_demo_database(engine: Engine) -> bool:
    with engine.connect() as conn:
        found = conn.execute(
            select(Flow.id).where(Flow.description.like(f"{DEMO_MARKER}%")).limit(1)
        ).first()
    return found is not None
