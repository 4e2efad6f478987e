"""Writes rows the way Langflow 1.13 does, into an empty copy of its schema, for tests that
need many runs or odd orders: one trace and its spans per run, inserted when the run ends
(its start time earlier, so runs that ran long arrive after later-started ones), job rows
for API runs. The schema is Langflow's own: the real fixture's tables, emptied."""

from __future__ import annotations

import json
import shutil
import sqlite3
import uuid
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any

from langflow_fixture import CURRENT

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def empty_langflow(path: Path) -> Path:
    """A SQLite file with Langflow 1.13's schema, its flows and users, and no runs."""
    shutil.copy(CURRENT / "langflow.sqlite", path)
    with closing(sqlite3.connect(path)) as conn:
        for table in ("span", "trace", "job"):
            conn.execute(f"DELETE FROM {table}")
        conn.commit()
    return path


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


@dataclass
class LangflowWriter:
    path: Path
    rng: Random
    flows: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)  # trace ids, in insertion order

    def __post_init__(self) -> None:
        with closing(sqlite3.connect(self.path)) as conn:
            self.flows = [row[0] for row in conn.execute("SELECT id FROM flow ORDER BY name")]

    def run(self, *, failed: bool = False, api: bool = True, started_ago_s: float = 0) -> str:
        """One run ending now: its trace, 2-4 spans, and (API runs) its job row."""
        trace_id = uuid.uuid4().hex
        flow = self.rng.choice(self.flows)
        start = T0 + timedelta(seconds=len(self.written) * 2 - started_ago_s)
        latency = self.rng.randint(5, 90_000)
        end = start + timedelta(milliseconds=latency)
        components = self.rng.randint(2, 4)
        with closing(sqlite3.connect(self.path, timeout=30)) as conn:
            conn.execute(
                "INSERT INTO trace (id, name, status, start_time, end_time, total_latency_ms,"
                " total_tokens, flow_id, session_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    trace_id,
                    f"Flow - {flow}",
                    "error" if failed else "ok",
                    _text(start),
                    _text(end),
                    latency,
                    self.rng.randint(0, 500),
                    flow,
                    f"s-{self.rng.randint(1, 5)}",
                ),
            )
            for position in range(components):
                fails = failed and position == components - 1
                conn.execute(
                    "INSERT INTO span (id, trace_id, parent_span_id, name, span_type, status,"
                    " start_time, end_time, latency_ms, inputs, outputs, error, span_kind,"
                    " attributes) VALUES (?, ?, NULL, ?, 'chain', ?, ?, ?, ?, ?, ?, ?,"
                    " 'INTERNAL', '{}')",
                    (
                        uuid.uuid4().hex,
                        trace_id,
                        f"Component {position}",
                        "error" if fails else "ok",
                        _text(start + timedelta(milliseconds=position)),
                        _text(end),
                        latency // components,
                        json.dumps({"i": position}),
                        json.dumps({"error": "boom"} if fails else {"o": 1}),
                        "boom" if fails else None,
                    ),
                )
            if api:
                conn.execute(
                    "INSERT INTO job (job_id, flow_id, status, created_timestamp,"
                    " finished_timestamp, type) VALUES (?, ?, ?, ?, ?, 'workflow')",
                    (trace_id, flow, "failed" if failed else "completed", _text(start), _text(end)),
                )
            conn.commit()
        self.written.append(trace_id)
        return trace_id

    def delete_newest(self, count: int) -> None:
        """Langflow deleting traces (a flow's, or 'clear all'): the newest rowids free."""
        with closing(sqlite3.connect(self.path, timeout=30)) as conn:
            doomed = [r[0] for r in conn.execute(
                "SELECT id FROM trace ORDER BY rowid DESC LIMIT ?", (count,)
            )]  # fmt: skip
            for trace_id in doomed:
                conn.execute("DELETE FROM span WHERE trace_id = ?", (trace_id,))
                conn.execute("DELETE FROM trace WHERE id = ?", (trace_id,))
            conn.commit()

    def trace_ids(self) -> set[uuid.UUID]:
        with closing(sqlite3.connect(self.path)) as conn:
            return {uuid.UUID(r[0]) for r in conn.execute("SELECT id FROM trace")}


def runs_and_steps(rows: list[Any]) -> Any:
    return sorted(map(tuple, rows))
