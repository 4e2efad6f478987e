"""What the Langflow fixture tests share: where the fixtures are, and reading them."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "langflow"
CURRENT = FIXTURES / "1.13.0"
LEGACY = FIXTURES / "1.7.3"
MANIFEST = json.loads((CURRENT / "manifest.json").read_text())


def uuid_text(value: Any) -> str:
    return str(uuid.UUID(str(value)))  # SQLite: 32 hex characters; PostgreSQL: uuid


def rows(engine: Engine, sql: str) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql)))


def replay_dump(dump: Path, url: str) -> None:
    """The plain dump in one simple query: psycopg alone, no psql."""
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(dump.read_bytes())
