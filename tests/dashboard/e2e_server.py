"""`streamlit run` of the real dashboard on a free port, and Debian's headless Chromium,
for the browser tests (never a downloaded browser)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(base: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError("streamlit did not become healthy")


@contextmanager
def running_dashboard(url: str, **settings: str) -> Iterator[str]:
    """The dashboard on ``url`` with only the given FLOWRUNS_* ``settings`` (e.g.
    ``dashboard_auth="local"``); yields its base URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWRUNS_")}
    env["FLOWRUNS_DATABASE_URL"] = url
    env |= {f"FLOWRUNS_{name.upper()}": value for name, value in settings.items()}
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", "dashboard/app.py"]
    command += ["--server.port", str(port), "--server.headless", "true"]
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, proc)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@contextmanager
def chromium(profile: Path, height: int = 900, **options: Any) -> Iterator[Any]:
    """A persistent Chromium context (playwright's sync API) on an empty profile; the
    test is skipped where Debian's Chromium or playwright is missing."""
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's /usr/bin/chromium (apt-get install chromium)")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": height},
            **options,
        )
        try:
            yield context
        finally:
            context.close()
