"""Langflow's own virtualenv and a real `langflow run` server on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from client import LangflowClient, LangflowError

# Throwaway credentials: they exist only inside the fixture databases (see README).
SUPERUSER = "fixture_admin"
SUPERUSER_PASSWORD = "fixture-admin-password"


@dataclass(frozen=True)
class Profile:
    """One Langflow release and the exact packages that make it runnable here."""

    version: str
    packages: tuple[str, ...]
    native_traces: bool
    env: dict[str, str] = field(default_factory=dict)


PROFILES = {
    "1.13.0": Profile(
        version="1.13.0",
        # The [postgresql] extra brings psycopg (3), which 1.13 uses for postgresql:// URLs, and
        # psycopg2-binary. langflow-base ships no OpenAI component since 1.13: it lives in the
        # lfx-openai bundle (the full `langflow` package depends on it). lfx is pinned because the
        # newest lfx-openai pulls a pre-release lfx that langflow-base 1.13.0 refuses.
        packages=("langflow-base[postgresql]==1.13.0", "lfx==1.13.0", "lfx-openai==0.2.0"),
        native_traces=True,
        # The fake OpenAI server is on loopback, which Langflow's SSRF guard blocks by default.
        env={"LANGFLOW_SSRF_ALLOWED_HOSTS": "127.0.0.1", "LANGFLOW_AGENTIC_EXPERIENCE": "false"},
    ),
    # The last release before native traces (langflow 1.7.3 depends on langflow-base ~=0.7.3).
    "1.7.3": Profile(
        version="1.7.3",
        # langflow-base 0.7.3 imports openai at startup without declaring it; the full langflow
        # 1.7.3 package brings it with these bounds.
        packages=("langflow-base==0.7.3", "openai>=1.68.2,<2", "langchain-openai>=0.2.12,<1"),
        native_traces=False,
    ),
}


def ensure_venv(profile: Profile, path: Path) -> Path:
    """Create (or reuse) the virtualenv; the stamp file records exactly what was installed."""
    stamp = path / "fixture-packages.txt"
    wanted = "\n".join(profile.packages) + "\n"
    if stamp.exists() and stamp.read_text() == wanted:
        return path
    print(f"installing Langflow {profile.version} into {path} (several minutes)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(path)], check=True)
    pip = [str(path / "bin" / "python"), "-m", "pip"]
    subprocess.run([*pip, "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", "-q", *profile.packages], check=True)
    stamp.write_text(wanted)
    return path


def installed_versions(venv: Path, names: tuple[str, ...]) -> dict[str, str]:
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    pins = dict(line.split("==", 1) for line in out.splitlines() if "==" in line)
    return {name: pins[name] for name in names if name in pins}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LangflowServer:
    """`langflow run --backend-only` with its config, outbox and logs in `workdir`."""

    def __init__(self, venv: Path, profile: Profile, workdir: Path, database_url: str) -> None:
        self.venv, self.profile, self.workdir = venv, profile, workdir
        self.database_url = database_url
        self.port = free_port()
        self.client = LangflowClient(f"http://127.0.0.1:{self.port}")
        self.log_path = workdir / "langflow.log"
        self._process: subprocess.Popen[bytes] | None = None

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LANGFLOW_", "OPENAI_"))}
        env |= {
            "LANGFLOW_DATABASE_URL": self.database_url,
            "LANGFLOW_CONFIG_DIR": str(self.workdir / "config"),
            "LANGFLOW_AUTO_LOGIN": "false",
            "LANGFLOW_SUPERUSER": SUPERUSER,
            "LANGFLOW_SUPERUSER_PASSWORD": SUPERUSER_PASSWORD,
            "LANGFLOW_NEW_USER_IS_ACTIVE": "true",
            "LANGFLOW_DO_NOT_TRACK": "true",
            "LANGFLOW_CREATE_STARTER_PROJECTS": "false",
            # Its own outbox: the default one in /tmp is shared, and a new server adopts what
            # an earlier one left there.
            "LANGFLOW_TELEMETRY_WRITER_OUTBOX_DIR": str(self.workdir / "outbox"),
            "HOME": str(self.workdir / "home"),
        }
        return env | self.profile.env

    def start(self, timeout: float = 600) -> None:
        (self.workdir / "home").mkdir(parents=True, exist_ok=True)
        # `python -m langflow`: before 1.8 the console script was named `langflow-base`.
        command = [
            str(self.venv / "bin" / "python"),
            "-m",
            "langflow",
            "run",
            "--host",
            "127.0.0.1",
        ]
        command += ["--port", str(self.port), "--backend-only", "--no-open-browser"]
        with self.log_path.open("ab") as log:
            # Its own process group, so stop() ends Langflow and its workers and nothing else.
            self._process = subprocess.Popen(
                command,
                env=self._env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise LangflowError(f"Langflow exited ({self._process.returncode}); see its log")
            try:
                self.client.login(SUPERUSER, SUPERUSER_PASSWORD)
                return
            except (LangflowError, OSError):
                time.sleep(2)
        raise LangflowError(f"Langflow did not answer within {timeout:.0f} s; see its log")

    def stop(self) -> None:
        if self._process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=60)
        # A worker still finishing the in-flight request outlives its master: end the group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait(timeout=30)

    def __enter__(self) -> LangflowServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
