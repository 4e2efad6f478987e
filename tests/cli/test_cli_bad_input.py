"""Issue 8 item 4: every bad invocation of every command and flag answers one line on stderr
with the documented exit code (2 bad input, 3 database, 4 not found, 5 conflict), never a
traceback, and leaves the database exactly as it was. Both backends where a database is
reached; run in-process for speed (a few through a real process in test_cli_process.py).
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cli_cases import ACCOUNT_CASES, COMMAND_CASES, ENV_CASES, FILTER_CASES, URL_CASES, Case
from sqlalchemy import Engine, select, text

from data import accounts
from data.cli.main import main
from data.db import build_engine
from data.demo import generate_demo
from data.models import Base

NOW = datetime.now(UTC)


def fingerprint(engine: Engine) -> str:
    """A digest of every row of every table: equal digests, unchanged database."""
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(select(table).order_by(*table.primary_key.columns)):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def seed(engine: Engine) -> None:
    """Demo runs, a user with a key, and runs in statuses other engines write."""
    generate_demo(engine, 120, days=10, now=NOW, seed=3)
    accounts.create_user(engine, "alice")
    accounts.create_api_key(engine, "alice")
    with engine.begin() as conn:
        flow_id = conn.execute(text("SELECT id FROM flow LIMIT 1")).scalar_one()
        for status in ("weird", "SUCCESS"):
            conn.execute(
                text(
                    "INSERT INTO flow_run (id, flow_id, status, started_at, trigger_type,"
                    " components_executed) VALUES (:id, :flow, :status, :at, 'api', 0)"
                ),
                {
                    "id": uuid.uuid4().hex if engine.dialect.name == "sqlite" else uuid.uuid4(),
                    "flow": flow_id,
                    "status": status,
                    "at": (NOW - timedelta(hours=1)).replace(tzinfo=None),
                },
            )


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def matrix_url(
    request: pytest.FixtureRequest,
    sqlite_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """One seeded database per backend for the whole matrix (every case leaves it as is)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("cli_matrix") / "matrix.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
    else:
        url = str(request.getfixturevalue("pg_database_url"))
        engine = build_engine(url)
        with engine.begin() as conn:
            conn.execute(text('TRUNCATE flowrun_api_key, flow_run, flow, "user" CASCADE'))
        engine.dispose()
    engine = build_engine(url)
    seed(engine)
    engine.dispose()
    yield url


@pytest.fixture(scope="module")
def matrix_engine(matrix_url: str) -> Iterator[Engine]:
    engine = build_engine(matrix_url)
    yield engine
    engine.dispose()


def invoke(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own rejections
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def check(case: Case, code: int, out: str, err: str) -> None:
    assert "Traceback" not in err + out
    assert code == case.code, f"exit {code}, expected {case.code}: {err!r}"
    assert err.endswith("\n") and err.count("\n") == 1, f"not one line: {err!r}"
    assert case.needle in err, f"{case.needle!r} not in {err!r}"
    assert out == ""


@pytest.mark.parametrize("case", [*FILTER_CASES, *COMMAND_CASES, *ACCOUNT_CASES], ids=str)
def test_bad_invocation_against_a_database(
    case: Case,
    matrix_url: str,
    matrix_engine: Engine,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # relative output paths land in the test's folder
    before = fingerprint(matrix_engine)
    code, out, err = invoke(capsys, ["--database-url", matrix_url, *case.args(tmp_path)])
    check(case, code, out, err)
    assert fingerprint(matrix_engine) == before


@pytest.mark.parametrize("case", URL_CASES, ids=str)
def test_bad_database_url(case: Case, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = invoke(capsys, case.args(tmp_path))
    check(case, code, out, err)
    assert not (tmp_path / "created").exists()


@pytest.mark.parametrize("case", ENV_CASES, ids=str)
def test_bad_setting(
    case: Case,
    sqlite_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    assert case.env is not None
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    engine = build_engine(sqlite_url)
    before = fingerprint(engine)
    # A bad FLOWRUNS_DATABASE_URL must be the URL in use: then no --database-url.
    # (and a read replica is used only when no --database-url is given)
    from_env = {"FLOWRUNS_DATABASE_URL", "FLOWRUNS_READ_DATABASE_URL"} & set(case.env)
    url_option = [] if from_env else ["--database-url", sqlite_url]
    code, out, err = invoke(capsys, [*url_option, *case.args(tmp_path)])
    check(case, code, out, err)
    assert fingerprint(engine) == before
    engine.dispose()


def test_the_matrix_is_big_enough() -> None:
    database_cases = len(FILTER_CASES) + len(COMMAND_CASES) + len(ACCOUNT_CASES)
    assert database_cases * 2 + len(URL_CASES) + len(ENV_CASES) >= 300
