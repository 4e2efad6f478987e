"""The ``flowruns`` console script as a real process: what only a real process shows
(stdout on a full disk or a closed pipe, undecodable argv bytes, the environment)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from data.db import build_engine
from data.demo import generate_demo

SCRIPT = Path(sys.executable).with_name("flowruns")


def flowruns(
    *args: str | bytes, env: dict[str, str] | None = None, stdout: int | None = None
) -> subprocess.CompletedProcess[bytes]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FLOWRUNS_")}
    return subprocess.run(
        [str(SCRIPT), *args],
        env={**environment, **(env or {})},
        stdout=stdout if stdout is not None else subprocess.PIPE,
        stderr=subprocess.PIPE,
        check=False,
        timeout=60,
    )


def one_line(stderr: bytes) -> str:
    text = stderr.decode()
    assert "Traceback" not in text and "Exception ignored" not in text, text
    assert text.endswith("\n") and text.count("\n") == 1, text
    return text


@pytest.mark.parametrize(
    ("args", "env", "code", "needle"),
    [
        (("stats", "--since", "0001-01-01T00:00:00+14:00"), {}, 2, "--since: out of range"),
        (("stats",), {"FLOWRUNS_READ_ONLY": "maybe"}, 2, "FLOWRUNS_READ_ONLY"),
        (("stats",), {"FLOWRUNS_DATABASE_URL": "mysql://u@h/db"}, 2, "'mysql' is not supported"),
        (("stats", "--session", b"caf\xe9"), {}, 2, "not valid UTF-8"),
    ],
)
def test_bad_input_as_a_process(
    sqlite_url: str, args: tuple[str | bytes, ...], env: dict[str, str], code: int, needle: str
) -> None:
    url = [] if "FLOWRUNS_DATABASE_URL" in env else ["--database-url", sqlite_url]
    result = flowruns(*url, *args, env=env)
    assert result.returncode == code
    assert needle in one_line(result.stderr)
    assert result.stdout == b""


@pytest.fixture
def exported(sqlite_url: str) -> str:
    """SQLite only: what is tested is the process's stdout, not the database."""
    engine = build_engine(sqlite_url)
    generate_demo(engine, 2000, days=5, seed=11)
    engine.dispose()
    return sqlite_url


def test_export_to_a_full_disk_is_one_line(exported: str) -> None:
    with open("/dev/full", "wb") as full:
        result = flowruns("--database-url", exported, "export", stdout=full.fileno())
    assert result.returncode == 2
    assert "cannot write to standard output: No space left on device" in one_line(result.stderr)


def test_export_into_a_closed_pipe_stops_quietly(exported: str) -> None:
    """``flowruns export | head -c 100``: the reader leaves early; that is not an error."""
    process = subprocess.Popen(
        [str(SCRIPT), "--database-url", exported, "export"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if not k.startswith("FLOWRUNS_")},
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.read(100).startswith(b"id,")
    process.stdout.close()
    assert process.wait(timeout=60) == 0
    assert process.stderr.read() == b""
