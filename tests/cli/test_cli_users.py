"""``flowruns user create --password|--password-stdin`` and ``user set-password``: the
account then signs in to the dashboard (data.signin); bad input is one line and exit 2."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from data import passwords, signin
from data.cli.main import main
from data.models import User

LIMITS = signin.Limits(per_account=50, per_client=50, window=timedelta(minutes=15))
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "ROUNDS", 4)


def run_cli(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    db_url: str,
    *argv: str,
    stdin: str = "",
    tty: bool = False,
) -> tuple[int, str, str]:
    fake = io.StringIO(stdin)
    fake.isatty = lambda: tty  # type: ignore[method-assign]
    monkeypatch.setattr(sys, "stdin", fake)
    try:
        code = main(["--database-url", db_url, *argv])
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def signs_in(engine: Engine, name: str, password: str) -> bool:
    try:
        signin.sign_in(engine, name, password, "cli-test", LIMITS)
    except signin.SignInRefused:
        return False
    return True


def test_create_with_a_password_from_stdin_then_change_it(
    db_url: str, engine: Engine, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ("user", "create", "alice", "--password-stdin")
    code, out, err = run_cli(capsys, monkeypatch, db_url, *args, stdin="first passphrase\n")
    assert (code, err) == (0, "") and "created user alice" in out and "can sign in" in out
    assert "first passphrase" not in out
    assert signs_in(engine, "alice", "first passphrase")
    code, out, _ = run_cli(
        capsys,
        monkeypatch,
        db_url,
        "user",
        "set-password",
        "alice",
        "--password-stdin",
        stdin="second passphrase\r\n",
    )
    assert code == 0 and out.strip() == "password set for alice"
    assert signs_in(engine, "alice", "second passphrase")
    assert not signs_in(engine, "alice", "first passphrase")


def test_create_prompts_twice_on_a_terminal(
    db_url: str, engine: Engine, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = iter(["typed passphrase", "typed passphrase"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    code, out, _ = run_cli(
        capsys,
        monkeypatch,
        db_url,
        "user",
        "create",
        "root",
        "--superuser",
        "--password",
        tty=True,
    )
    assert code == 0 and "created superuser root" in out
    assert signs_in(engine, "root", "typed passphrase")
    answers = iter(["typed passphrase", "a different one"])
    code, _, err = run_cli(capsys, monkeypatch, db_url, "user", "set-password", "root", tty=True)
    assert code == 2 and err == "flowruns: error: password: the two entries differ\n"


def test_create_without_a_password_has_keys_only(
    db_url: str, engine: Engine, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run_cli(capsys, monkeypatch, db_url, "user", "create", "bot")
    assert code == 0 and "API keys only" in out
    with engine.connect() as conn:
        assert conn.execute(select(User.password).where(User.username == "bot")).scalar() == ""
    assert not signs_in(engine, "bot", "")


@pytest.mark.parametrize(
    ("argv", "stdin", "code", "says"),
    [
        (
            ("user", "set-password", "ghost", "--password-stdin"),
            "long enough\n",
            4,
            "user 'ghost' does not exist",
        ),
        (
            ("user", "set-password", "alice", "--password-stdin"),
            "short\n",
            2,
            "password: must be at least 8 characters",
        ),
        (
            ("user", "set-password", "alice", "--password-stdin"),
            "x" * 73 + "\n",
            2,
            "password: must be at most 72 bytes (UTF-8)",
        ),
        (
            ("user", "set-password", "alice"),
            "",
            2,
            "password: no terminal to prompt on; use --password-stdin",
        ),
        (
            ("user", "create", "carol", "--password"),
            "",
            2,
            "password: no terminal to prompt on; use --password-stdin",
        ),
        (
            ("user", "create", "alice", "--password-stdin"),
            "long enough\n",
            5,
            "user 'alice' already exists",
        ),
        (
            ("user", "create", "dave", "--password", "--password-stdin"),
            "",
            2,
            "not allowed with argument",
        ),
    ],
    ids=["unknown-user", "short", "too-long", "no-tty", "create-no-tty", "exists", "both"],
)
def test_bad_input_is_one_line(
    db_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: tuple[str, ...],
    stdin: str,
    code: int,
    says: str,
) -> None:
    run_cli(capsys, monkeypatch, db_url, "user", "create", "alice")
    got, out, err = run_cli(capsys, monkeypatch, db_url, *argv, stdin=stdin)
    assert got == code and says in err and err.count("\n") == 1 and out == ""


def test_password_stdin_in_a_real_process(sqlite_url: str) -> None:
    """The scripted path end to end: a pipe into the installed entry point."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "data.cli.main",
            "--database-url",
            sqlite_url,
            "user",
            "create",
            "piped",
            "--password-stdin",
        ],
        input="piped passphrase\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "piped passphrase" not in done.stdout + done.stderr
