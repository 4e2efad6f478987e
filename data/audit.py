"""The audit log of deletes: one entry per delete operation (or dry run), on every surface.

An entry is written, and committed, before the work starts; a batched delete updates it
inside each batch's own transaction, so the entry always says exactly how many rows were
deleted, even when the process is killed half-way (it then stays ``running`` and is read
as ``interrupted`` once it has gone quiet for ``STALE_AFTER``). Retention never prunes it.
"""

from __future__ import annotations

import csv
import getpass
import io
import json
import logging
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Select, func, insert, select, update

from data.errors import InvalidQuery
from data.filters import FlowRunFilter
from data.models import AuditEntry, utcnow
from data.stored_time import is_time

log = logging.getLogger(__name__)

SURFACES = ("api", "cli", "dashboard", "library")
ACTIONS = ("delete_run", "bulk_delete", "prune", "sweep")
RUNNING, COMPLETED, FAILED, INTERRUPTED = "running", "completed", "failed", "interrupted"
# A batch takes seconds; an entry still "running" with no update for this long was killed.
STALE_AFTER = timedelta(minutes=10)
MAX_ERROR_CHARS = 500


# A spreadsheet evaluates a cell starting with one of these as a formula (OWASP CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """Times as UTC ISO-8601, None as empty, text that could be a formula quoted."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (e.g. a container with an unnamed uid)
        return "unknown"


@dataclass(frozen=True)
class AuditContext:
    """Who asks for a delete, and through which surface."""

    surface: str
    actor: str
    actor_user_id: uuid.UUID | None = None

    def __post_init__(self) -> None:
        if self.surface not in SURFACES:
            raise InvalidQuery(f"audit surface: {self.surface!r} is not one of {SURFACES}")

    @classmethod
    def cli(cls) -> AuditContext:
        return cls("cli", f"cli:{os_user()}")

    @classmethod
    def dashboard(
        cls, username: str | None = None, user_id: uuid.UUID | None = None
    ) -> AuditContext:
        """The signed-in user; without sign-in, the OS user running it is all we know."""
        if username is None:
            return cls("dashboard", f"dashboard:{os_user()}")
        return cls("dashboard", f"dashboard:{username}", user_id)

    @classmethod
    def library(cls) -> AuditContext:
        """Code that calls the data layer directly without saying who it is."""
        return cls("library", f"library:{os_user()}")

    @classmethod
    def api(cls, user_id: uuid.UUID, username: str) -> AuditContext:
        return cls("api", username, user_id)


class AuditHandle:
    """The entry of one operation in flight. The operation sets ``matched`` and
    ``affected``; batched deletes call ``record_batch`` inside each batch transaction."""

    def __init__(self, engine: Engine, entry_id: uuid.UUID) -> None:
        self.engine = engine
        self.id = entry_id
        self.matched: int | None = None
        self.affected = 0
        self.batches = 0
        self.error: str | None = None

    def record_batch(self, conn: Connection, affected: int) -> None:
        self.affected, self.batches = affected, self.batches + 1
        conn.execute(
            update(AuditEntry)
            .where(AuditEntry.id == self.id)
            .values(
                affected=affected,
                batches=self.batches,
                matched=self.matched,
                updated_at=utcnow(),
            )
        )

    def touch(self) -> None:
        """Record ``matched`` once counted: the entry shows it before the first batch, and
        a long count is not mistaken for a killed operation."""
        with self.engine.begin() as conn:
            conn.execute(
                update(AuditEntry)
                .where(AuditEntry.id == self.id)
                .values(matched=self.matched, updated_at=utcnow())
            )

    def close(self, status: str, error: str | None = None) -> None:
        now = utcnow()
        with self.engine.begin() as conn:
            conn.execute(
                update(AuditEntry)
                .where(AuditEntry.id == self.id)
                .values(
                    status=status,
                    matched=self.matched,
                    affected=self.affected,
                    batches=self.batches,
                    error=(error or self.error or None),
                    updated_at=now,
                    finished_at=now,
                )
            )


def filter_criteria(flt: FlowRunFilter) -> dict[str, object]:
    """A filter as the audit log stores it: only the constraints that were set."""
    return flt.model_dump(mode="json", exclude_defaults=True)


def criteria_json(criteria: Mapping[str, Any]) -> str:
    return json.dumps(criteria, sort_keys=True, default=str)


def start_entry(
    engine: Engine,
    context: AuditContext,
    action: str,
    criteria: Mapping[str, Any],
    *,
    dry_run: bool,
) -> AuditHandle:
    if action not in ACTIONS:
        raise InvalidQuery(f"audit action: {action!r} is not one of {ACTIONS}")
    entry_id, now = uuid.uuid4(), utcnow()
    with engine.begin() as conn:
        conn.execute(
            insert(AuditEntry).values(
                id=entry_id,
                at=now,
                updated_at=now,
                actor=context.actor[:200],
                actor_user_id=context.actor_user_id,
                surface=context.surface,
                action=action,
                criteria=criteria_json(criteria),
                dry_run=dry_run,
                affected=0,
                batches=0,
                status=RUNNING,
            )
        )
    return AuditHandle(engine, entry_id)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:MAX_ERROR_CHARS]


@contextmanager
def audited(
    engine: Engine,
    context: AuditContext | None,
    action: str,
    criteria: Mapping[str, Any],
    *,
    dry_run: bool,
) -> Iterator[AuditHandle]:
    """Write the entry, run the block, then record how it ended (the block's exception
    is re-raised untouched, even when the database cannot take the final update)."""
    handle = start_entry(
        engine, context or AuditContext.library(), action, criteria, dry_run=dry_run
    )
    try:
        yield handle
    except BaseException as exc:
        stopped = isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit)
        try:
            handle.close(INTERRUPTED if stopped else FAILED, _one_line(exc))
        except Exception:  # the database may be what failed; keep the original error
            log.warning("could not close audit entry %s", handle.id, exc_info=True)
        raise
    handle.close(COMPLETED)


@dataclass(frozen=True)
class AuditRecord:
    id: uuid.UUID
    at: datetime
    updated_at: datetime
    finished_at: datetime | None
    actor: str
    actor_user_id: uuid.UUID | None
    surface: str
    action: str
    criteria: str
    dry_run: bool
    matched: int | None
    affected: int
    batches: int
    status: str
    error: str | None


AUDIT_COLUMNS = tuple(f.name for f in fields(AuditRecord))


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditRecord]
    total: int


def _select(user_id: uuid.UUID | None) -> Select[Any]:
    """Every entry for a superuser (``user_id`` None), else only the user's own."""
    query = select(*(getattr(AuditEntry, name) for name in AUDIT_COLUMNS))
    return query if user_id is None else query.where(AuditEntry.actor_user_id == user_id)


def _record(row: Any, now: datetime) -> AuditRecord:
    values = dict(row._mapping)
    # A progress time another program stored unreadable (data.stored_time) says nothing.
    updated = values["updated_at"]
    if values["status"] == RUNNING and is_time(updated) and updated < now - STALE_AFTER:
        values["status"] = INTERRUPTED
    return AuditRecord(**values)


def list_entries(
    engine: Engine,
    *,
    user_id: uuid.UUID | None = None,
    limit: int = 50,
    offset: int = 0,
    now: datetime | None = None,
) -> AuditPage:
    """Newest first. ``user_id`` scopes to that user's entries (None: all of them)."""
    if not 1 <= limit <= 500:
        raise InvalidQuery("limit: must be 1 to 500")
    if offset < 0:
        raise InvalidQuery("offset: must be 0 or more")
    query = _select(user_id)
    ordered = query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = conn.execute(ordered.limit(limit).offset(offset)).all()
    reference = now or utcnow()
    return AuditPage([_record(row, reference) for row in rows], int(total))


def iter_csv(
    engine: Engine,
    *,
    user_id: uuid.UUID | None = None,
    now: datetime | None = None,
    chunk_size: int = 1000,
) -> Iterator[str]:
    """The entries as CSV (header first), streamed in chunks, newest first."""
    reference = now or utcnow()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(AUDIT_COLUMNS)
    query = _select(user_id).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=chunk_size).execute(query)
        for rows in result.partitions():
            for row in rows:
                record = _record(row, reference)
                writer.writerow(csv_cell(getattr(record, name)) for name in AUDIT_COLUMNS)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()
