"""`streamlit run` of the real dashboard on a free port, for the browser tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from test_e2e_browser import _free_port, _wait_healthy

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def running_dashboard(url: str) -> Iterator[str]:
    """The dashboard on ``url`` (no other FLOWRUNS_* settings); yields its base URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWRUNS_")}
    env["FLOWRUNS_DATABASE_URL"] = url
    port = _free_port()
    command = [sys.executable, "-m", "streamlit", "run", "dashboard/app.py"]
    command += ["--server.port", str(port), "--server.headless", "true"]
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, proc)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)
