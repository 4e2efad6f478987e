"""Hostile rows written straight into the tables with plain SQL, as another engine (an old
Langflow, a migration script, a hand-made fix) could have written them. Nothing here goes
through our models, so none of our write-side validation applies.

Each row is a base run (success, an hour ago) with some columns overridden. Some values
cannot exist on PostgreSQL (its ``json`` type refuses NaN and invalid text, its
``timestamptz`` has no "text" form): those rows are SQLite-only.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text

HOSTILE_MARKUP = (
    "<script>alert(1)</script> **bold** ![img](http://evil.example/x.png) "
    "[click](javascript:alert(1)) <img src=x onerror=alert(2)> $x^2$ :red[red]"
)
DEEP_LIST = "[" * 300 + "]" * 300
DEEP_OBJECT = '{"a": ' * 300 + "1" + "}" * 300

# label -> (column overrides, backends it can exist on)
BOTH = ("sqlite", "postgresql")
SQLITE = ("sqlite",)
POISON: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "upper-case SUCCESS": ({"status": "SUCCESS"}, BOTH),
    "upper-case FAILURE": ({"status": "FAILURE", "error_type": "ValueError"}, BOTH),
    "unknown status": ({"status": "weird"}, BOTH),
    "empty status": ({"status": ""}, BOTH),
    "mixed-case running": (
        {"status": "Running", "ended_at": None, "duration_ms": None},
        BOTH,
    ),
    "finished, no duration": ({"duration_ms": None}, BOTH),
    "negative duration": ({"duration_ms": -5000}, BOTH),
    "huge duration": ({"duration_ms": 2_147_483_647}, BOTH),
    "ended before started": ({"ended_at": "-2h", "duration_ms": 1000}, BOTH),
    "year 1": ({"started_at": "0001-01-01", "ended_at": None}, BOTH),
    "year 9999": ({"started_at": "9999-12-31", "ended_at": None}, BOTH),
    "lone surrogate in inputs": ({"inputs": '{"a": "\\udc00"}'}, BOTH),
    "lone surrogates elsewhere": (
        {"outputs": '["\\ud800"]', "metadata": '{"k\\udfff": "\\udfff x"}'},
        BOTH,
    ),
    "NUL in JSON": ({"inputs": '{"s": "\\u0000"}'}, BOTH),
    "300-level nesting": ({"inputs": DEEP_LIST, "outputs": DEEP_OBJECT}, BOTH),
    "huge numbers": ({"outputs": '{"n": 1e400, "big": 1234567890123456789012345678901}'}, BOTH),
    "scalar JSON": ({"inputs": '"just text"', "outputs": "42", "metadata": "null"}, BOTH),
    "empty strings": (
        {"session_id": "", "error_type": "", "error_message": "", "trigger_type": ""},
        BOTH,
    ),
    "very long strings": (
        {"error_message": "x" * 200_000, "session_id": "s" * 10_000, "error_type": "E" * 5_000},
        BOTH,
    ),
    "no user": ({"user_id": None}, BOTH),
    "markup in texts": (
        {
            "status": "failure",
            "error_message": HOSTILE_MARKUP,
            "error_type": "<b>Err</b>**x**",
            "session_id": "[s](http://evil.example)",
        },
        BOTH,
    ),
    "unknown trigger": ({"trigger_type": "CRON"}, BOTH),
    "negative components": ({"components_executed": -3}, BOTH),
    "invalid JSON text": (
        {"inputs": '{"a": ', "outputs": "not json", "metadata": "{bad}"},
        SQLITE,
    ),
    "NaN and Infinity": ({"inputs": '{"x": NaN, "y": Infinity, "z": -Infinity}'}, SQLITE),
    "naive text timestamps": (
        {"started_at": "text:2026-01-02 03:04:05", "ended_at": "text:2026-01-02 03:04:06"},
        SQLITE,
    ),
    "offset text timestamps": (
        {
            "started_at": "text:2026-01-02T03:04:05+05:00",
            "ended_at": "text:2026-01-02T03:04:06.5Z",
        },
        SQLITE,
    ),
    "invalid UTF-8": ({"error_message": b"bad \xff\xfe bytes", "status": "failure"}, SQLITE),
    # Times no reader can hold (issue 18.1). PostgreSQL's timestamptz takes 'infinity' (and
    # 'yesterday', which it turns into a real time); SQLite keeps whatever it is given.
    "infinite start": ({"started_at": "text:infinity", "ended_at": "text:infinity"}, BOTH),
    "minus-infinite end": ({"ended_at": "text:-infinity"}, BOTH),
    "text start": ({"started_at": "text:yesterday"}, SQLITE),
    "garbage end": ({"ended_at": "text:garbage"}, SQLITE),
    "integer start": ({"started_at": 1_767_225_600, "ended_at": 12}, SQLITE),
    "empty start": ({"started_at": "text:", "ended_at": "text:"}, SQLITE),
    "blob start": ({"started_at": b"\x00\xff", "ended_at": b"2026"}, SQLITE),
    "text duration": ({"duration_ms": "slow"}, SQLITE),
    "running, bad start": (
        {"status": "running", "started_at": "text:yesterday", "ended_at": None},
        SQLITE,
    ),
    "running, infinite start": (
        {"status": "running", "started_at": "text:-infinity", "ended_at": None},
        BOTH,
    ),
}
# Other tables: (table, column) -> the stored value, per backend.
BAD_TIMES: dict[str, str] = {"sqlite": "yesterday", "postgresql": "infinity"}


@dataclass
class PoisonedDatabase:
    url: str
    dialect: str
    owner_id: uuid.UUID
    flow_ids: list[uuid.UUID]
    runs: dict[str, uuid.UUID] = field(default_factory=dict)
    # API key headers: "admin" (a superuser) and "owner" (the user with markup in the name)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    # The audit entry whose times no reader can hold (poison_times_elsewhere)
    audit_id: uuid.UUID | None = None


def _timestamp(value: str | datetime | None, started: datetime, dialect: str) -> Any:
    """A stored timestamp: datetimes in the column's own format, ``"-2h"`` relative to
    ``started``, ``"text:..."`` exactly as given, ``"YYYY-MM-DD"`` at midnight UTC."""
    if value is None or isinstance(value, int | bytes):
        return value
    if isinstance(value, str) and value.startswith("text:"):
        return value.removeprefix("text:")
    if isinstance(value, str) and value.startswith("-"):
        value = started - timedelta(hours=int(value[1:-1]))
    elif isinstance(value, str):
        value = datetime.fromisoformat(value).replace(tzinfo=UTC)
    if dialect == "sqlite":  # what SQLAlchemy itself writes: naive UTC with microseconds
        naive = value.astimezone(UTC).replace(tzinfo=None)
        return naive.isoformat(sep=" ", timespec="microseconds")
    return value


def _row(overrides: dict[str, Any], flow_id: uuid.UUID, owner: uuid.UUID, dialect: str) -> dict:
    started = datetime.now(UTC) - timedelta(hours=1)
    row: dict[str, Any] = {
        "id": uuid.uuid4(),
        "flow_id": flow_id,
        "user_id": owner,
        "session_id": "s-1",
        "status": "success",
        "started_at": started,
        "ended_at": started + timedelta(seconds=1),
        "duration_ms": 1000,
        "inputs": '{"q": "hi"}',
        "outputs": '{"a": 1}',
        "error_message": None,
        "error_type": None,
        "trigger_type": "api",
        "components_executed": 3,
        "metadata": "{}",
        **overrides,
    }
    base_started = started
    if isinstance(row["started_at"], str) and row["started_at"][:1].isdigit():
        base_started = datetime.fromisoformat(row["started_at"]).replace(tzinfo=UTC)
    row["started_at"] = _timestamp(row["started_at"], base_started, dialect)
    row["ended_at"] = _timestamp(row["ended_at"], base_started, dialect)
    for key in ("id", "flow_id", "user_id"):
        if row[key] is not None:  # Uuid columns: 32 hex digits on SQLite, uuid on PG
            row[key] = row[key].hex if dialect == "sqlite" else str(row[key])
    return row


def _insert_sql(dialect: str, columns: list[str]) -> str:
    if dialect == "sqlite":
        values = ", ".join(f":{c}" for c in columns)
    else:
        casts = {"id": "uuid", "flow_id": "uuid", "user_id": "uuid", "started_at": "timestamptz"}
        casts |= {"ended_at": "timestamptz", "inputs": "json", "outputs": "json"}
        casts |= {"metadata": "json"}
        values = ", ".join(f"CAST(:{c} AS {casts[c]})" if c in casts else f":{c}" for c in columns)
    return f"INSERT INTO flow_run ({', '.join(columns)}) VALUES ({values})"


def _insert_people(conn: Any, dialect: str) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A user with markup in their name, and flows named with markup, empty, very long,
    and one without an owner."""
    owner = uuid.uuid4()
    as_id = (lambda u: u.hex) if dialect == "sqlite" else str
    now = datetime.now(UTC)
    conn.execute(
        text(
            'INSERT INTO "user" (id, username, password, is_active, is_superuser, create_at, '
            "updated_at) VALUES (:id, :name, '', :yes, :no, :now, :now)"
        ),
        {"id": as_id(owner), "name": "**root** <b>x</b>", "yes": True, "no": False, "now": now},
    )
    flows = []
    for name, user in ((HOSTILE_MARKUP, owner), ("", owner), ("F" * 5000, owner), ("orphan", None)):
        flow_id = uuid.uuid4()
        conn.execute(
            text(
                "INSERT INTO flow (id, name, description, user_id, updated_at) "
                "VALUES (:id, :name, :description, :user, :now)"
            ),
            {
                "id": as_id(flow_id),
                "name": name,
                "description": name,
                "user": user and as_id(user),
                "now": now,
            },
        )
        flows.append(flow_id)
    return owner, flows


def poison(engine: Engine, url: str, labels: set[str] | None = None) -> PoisonedDatabase:
    """Write every hostile row this backend can hold (of ``labels``, when given); return
    their ids by label."""
    dialect = engine.dialect.name
    with engine.begin() as conn:
        owner, flows = _insert_people(conn, dialect)
        world = PoisonedDatabase(url=url, dialect=dialect, owner_id=owner, flow_ids=flows)
        for index, (label, (overrides, backends)) in enumerate(POISON.items()):
            if dialect not in backends or (labels is not None and label not in labels):
                continue
            row = _row(overrides, flows[index % len(flows)], owner, dialect)
            conn.execute(text(_insert_sql(dialect, list(row))), row)
            world.runs[label] = uuid.UUID(row["id"])
        if dialect == "sqlite":  # bytes were bound as BLOBs: make them (invalid) TEXT
            conn.execute(
                text(
                    "UPDATE flow_run SET error_message = CAST(error_message AS TEXT) "
                    "WHERE typeof(error_message) = 'blob'"
                )
            )
    return world


def strict_json(text: str) -> Any:
    def refuse(token: str) -> None:
        raise AssertionError(f"{token} in a JSON response")

    return json.loads(text, parse_constant=refuse)


def poison_times_elsewhere(engine: Engine, key_id: uuid.UUID) -> uuid.UUID:
    """A time no reader can hold on API key ``key_id`` (created, last used) and on a new
    audit entry (at, updated, finished), written with plain SQL; returns the entry's id."""
    dialect = engine.dialect.name
    bad = "CAST(:bad AS timestamptz)" if dialect == "postgresql" else ":bad"
    entry = uuid.uuid4()
    keys_times = f"created_at = {bad}, last_used_at = {bad}"
    as_id = (lambda u: u.hex) if dialect == "sqlite" else str
    with engine.begin() as conn:
        conn.execute(
            text(f"UPDATE flowrun_api_key SET {keys_times} WHERE id = :id"),
            {"bad": BAD_TIMES[dialect], "id": as_id(key_id)},
        )
        conn.execute(
            text(
                "INSERT INTO flowrun_audit (id, at, updated_at, finished_at, actor, surface, "
                f"action, criteria, dry_run, matched, affected, batches, status) VALUES (:id, "
                f"{bad}, {bad}, {bad}, 'sql', 'cli', 'delete', '{{}}', :no, 1, 0, 0, 'done')"
            ),
            {"bad": BAD_TIMES[dialect], "id": as_id(entry), "no": False},
        )
    return entry
