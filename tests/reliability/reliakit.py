"""Helpers of the reliability tests: a private PostgreSQL cluster that a test may stop and
start (never the shared server), the uvicorn server and load driver of
bench/load_bench.py, and small seeding helpers."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import streamlit as st
from sqlalchemy import Engine, create_engine, text
from streamlit.testing.v1 import AppTest

from data import migrate
from data.accounts import create_api_key, create_user
from data.db import session_scope
from data.models import Flow

ROOT = Path(__file__).resolve().parents[2]
API = "/api/v1/flow-runs"


def load_bench_module() -> ModuleType:
    """bench/load_bench.py, imported by path (bench/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("load_bench", ROOT / "bench" / "load_bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def env_number(name: str, default: float) -> float:
    """A numeric knob of these tests (e.g. FLOWRUNS_SOAK_SECONDS)."""
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def postgres_required() -> bool:
    return os.environ.get("FLOWRUNS_REQUIRE_POSTGRES") == "1"


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)


class PrivateCluster:
    """A throw-away PostgreSQL cluster of this machine's version, on its own port, with
    trust authentication. Created with pg_createcluster, dropped with pg_dropcluster."""

    def __init__(self, port: int) -> None:
        versions = sorted(os.listdir("/etc/postgresql"), key=lambda v: int(v.split(".")[0]))
        self.version = versions[-1]
        self.port = port
        self.name = f"flowruns_fault_{port}"

    @staticmethod
    def unavailable_reason() -> str | None:
        if not shutil.which("pg_createcluster") or not os.path.isdir("/etc/postgresql"):
            return "pg_createcluster is not installed (postgresql-common)"
        if os.geteuid() != 0:
            return "creating a private PostgreSQL cluster needs root"
        return None

    def create(self) -> None:
        self.drop()  # a cluster left behind by a killed run
        _run("pg_createcluster", self.version, self.name, "--port", str(self.port),
             "--", "--auth=trust")  # fmt: skip
        self.start()

    def is_running(self) -> bool:
        status = subprocess.run(
            ["pg_ctlcluster", self.version, self.name, "status"], capture_output=True, timeout=30
        )
        return status.returncode == 0

    def start(self) -> None:
        """Start (a no-op when running); returns once the server accepts connections."""
        if not self.is_running():
            _run("pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, "start")

    def stop(self) -> None:
        # Fast shutdown: sessions are cut at once, as in a crash or a failover.
        _run("pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, "stop",
             "-m", "fast")  # fmt: skip

    def drop(self) -> None:
        if Path(f"/etc/postgresql/{self.version}/{self.name}").exists():
            _run("pg_dropcluster", self.version, self.name, "--stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A new, migrated database in this cluster; its URL."""
        name = f"flowruns_{uuid.uuid4().hex[:8]}"
        admin = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        migrate.upgrade(self.url(name))
        return self.url(name)


@dataclass(frozen=True)
class Tenant:
    """A superuser with an API key and one flow, enough to record and read runs."""

    key: str
    user_id: uuid.UUID
    flow_id: uuid.UUID

    @property
    def headers(self) -> dict[str, str]:
        return {"x-api-key": self.key}


def make_tenant(engine: Engine, username: str = "ops", *, superuser: bool = True) -> Tenant:
    user_id = create_user(engine, username, superuser=superuser)
    key = create_api_key(engine, username, "reliability")[0]
    flow_id = uuid.uuid4()
    with session_scope(engine) as session:
        session.add(Flow(id=flow_id, name=f"{username} flow", user_id=user_id))
    return Tenant(key=key, user_id=user_id, flow_id=flow_id)


def dashboard(url: str, params: dict[str, str]) -> AppTest:
    """An AppTest of the dashboard's entry point over ``url``, run once. The caller has
    set FLOWRUNS_DATABASE_URL (settings are read from the environment)."""
    st.cache_data.clear()  # results are cached per URL, and PostgreSQL tests reuse one
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=90)
    at.query_params.update(params)
    return at.run()


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False
