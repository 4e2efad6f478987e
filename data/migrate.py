"""Run Alembic programmatically (``flowruns init-db``, tests, the dashboard's first start)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, inspect
from sqlalchemy.engine import make_url

from data.db import DatabaseUnavailable
from data.rollup.sources import forget_layouts

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head", alter_owner_tables: bool = False) -> None:
    """``alter_owner_tables``: change the columns of shared tables another application
    owns too (data.ownership; `flowruns init-db --alter-owner-tables`)."""
    config = alembic_config(database_url)
    config.attributes["alter_owner_tables"] = alter_owner_tables
    command.upgrade(config, revision)
    forget_layouts()


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)
    forget_layouts()


def sqlite_journal_mode(database_url: str) -> str | None:
    """The journal mode of an existing SQLite file, read without our engine (which
    switches every file it opens to WAL); None when not SQLite or no file exists yet."""
    url = make_url(database_url)
    path = url.database
    if url.get_backend_name() != "sqlite" or not path or not Path(path).is_file():
        return None
    uri = f"{Path(path).resolve().as_uri()}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as conn:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()


def schema_present(engine: Engine) -> bool:
    """True when the tables this app reads exist (migrated here, or a Langflow database)."""
    tables = set(inspect(engine).get_table_names())
    return {"flow_run", "flow", "user"} <= tables


AUDIT_TABLES = frozenset({"flowrun_audit", "flowrun_retention_policy"})


def audit_schema_present(engine: Engine) -> bool:
    """True when revision 0002 is applied: deletes need the audit log, and the
    Retention page the stored policy (reading runs needs neither)."""
    return set(inspect(engine).get_table_names()) >= AUDIT_TABLES


def require_schema(engine: Engine) -> None:
    """Raise ``DatabaseUnavailable`` unless the database answers and holds our tables
    (an unreachable server raises SQLAlchemy's OperationalError while connecting)."""
    if not schema_present(engine):
        raise DatabaseUnavailable("Database schema missing: run `flowruns init-db`")
