"""The dashboard listens on 127.0.0.1 by default, and refuses to serve beyond localhost
without sign-in, whichever way the address is set (Streamlit's config file, the
--server.address flag, STREAMLIT_SERVER_ADDRESS): real `streamlit run` processes on free
ports, and the check `make run` makes before it starts Streamlit."""

from __future__ import annotations

import contextlib
import http.client
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from e2e_server import ROOT, chromium, free_port, wait_healthy

from dashboard.state.exposure import exposure_refusal, is_local_address
from data.settings import Settings

APP = ROOT / "dashboard" / "app.py"
EVERYWHERE = "0.0.0.0"
# The three ways Streamlit takes an address: (name, extra flags, extra env, config file text).
WAYS = {
    "config-file": ((), {}, f'[server]\naddress = "{EVERYWHERE}"\n'),
    "flag": (("--server.address", EVERYWHERE), {}, None),
    "env": ((), {"STREAMLIT_SERVER_ADDRESS": EVERYWHERE}, None),
}


@pytest.mark.parametrize(
    ("address", "local"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("unix:///run/flowruns.sock", True),
        (None, False),  # unset: Streamlit listens on every interface
        ("", False),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("dashboard.example.com", False),  # a name may resolve to anything
    ],
)
def test_which_addresses_are_local(address: str | None, local: bool) -> None:
    assert is_local_address(address) is local


def test_the_refusal_names_the_settings_that_allow_it() -> None:
    refusal = exposure_refusal("0.0.0.0", Settings())
    assert refusal is not None and "\n" not in refusal
    assert "FLOWRUNS_TRUST_PROXY_AUTH=1" in refusal and "FLOWRUNS_DASHBOARD_AUTH=local" in refusal
    assert exposure_refusal("0.0.0.0", Settings(dashboard_auth="local")) is None
    assert exposure_refusal("0.0.0.0", Settings(trust_proxy_auth=True)) is None
    assert exposure_refusal(None, Settings()) == refusal.replace("'0.0.0.0'", "every interface")


def _environment(db_url: str, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWRUNS_", "STREAMLIT_"))}
    env |= {
        "FLOWRUNS_DATABASE_URL": db_url,
        "PYTHONPATH": str(ROOT),  # this checkout's packages, from any working directory
        # /_stcore/script-health-check runs the app's script as a browser's visit would.
        "STREAMLIT_SERVER_SCRIPT_HEALTH_CHECK_ENABLED": "true",
    }
    return env | extra


def _cwd_for(way: str, tmp_path: Path) -> Path:
    config = WAYS[way][2]
    if config is None:
        return ROOT  # the project's .streamlit/config.toml (address = "127.0.0.1")
    (tmp_path / ".streamlit").mkdir(parents=True)
    (tmp_path / ".streamlit" / "config.toml").write_text(config)
    return tmp_path


@contextmanager
def streamlit(
    db_url: str, cwd: Path, flags: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], str, int]]:
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port)]
    command += ["--server.headless", "true", *flags]
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        env=_environment(db_url, env or {}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, proc)  # type: ignore[arg-type]
        yield proc, base, port
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(timeout=20)


def visit(base: str) -> str:
    with urllib.request.urlopen(f"{base}/_stcore/script-health-check", timeout=30) as response:
        return str(response.read().decode())


def listening_on(port: int) -> set[str]:
    """The local addresses listening on ``port``, read from the kernel's table."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


@pytest.mark.parametrize("way", list(WAYS))
def test_exposed_without_sign_in_refuses_at_the_first_visit(
    way: str, sqlite_url: str, tmp_path: Path
) -> None:
    flags, env, _ = WAYS[way]
    with streamlit(sqlite_url, _cwd_for(way, tmp_path), flags, env) as (proc, base, port):
        assert listening_on(port) == {"00000000"}  # 0.0.0.0: the way took effect
        # The process may end before it answers: what counts is that it ends, and why.
        with contextlib.suppress(OSError, http.client.HTTPException):
            visit(base)
        code = proc.wait(timeout=20)
        stderr = proc.stderr.read() if proc.stderr else ""
    ours = [line for line in stderr.splitlines() if line.startswith("flowruns dashboard:")]
    assert code == 2, stderr
    assert len(ours) == 1 and "Refusing to serve the dashboard on '0.0.0.0'" in ours[0]
    assert "FLOWRUNS_TRUST_PROXY_AUTH=1" in ours[0]


@pytest.mark.parametrize("way", list(WAYS))
def test_make_runs_check_refuses_before_streamlit_starts(
    way: str, sqlite_url: str, tmp_path: Path
) -> None:
    flags, env, _ = WAYS[way]
    done = subprocess.run(
        [sys.executable, "-m", "dashboard.state.exposure", *flags],
        cwd=_cwd_for(way, tmp_path),
        env=_environment(sqlite_url, env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "FLOWRUNS_TRUST_PROXY_AUTH=1" in done.stderr
    allowed = subprocess.run(
        [sys.executable, "-m", "dashboard.state.exposure", *flags],
        cwd=_cwd_for(way, tmp_path / "again"),
        env=_environment(sqlite_url, env | {"FLOWRUNS_TRUST_PROXY_AUTH": "1"}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (allowed.returncode, allowed.stderr) == (0, "")


def test_the_default_listens_on_loopback_only(sqlite_url: str) -> None:
    with streamlit(sqlite_url, ROOT) as (proc, base, port):
        assert listening_on(port) == {"0100007F"}  # 127.0.0.1
        assert visit(base) == "ok"
        time.sleep(2)
        assert proc.poll() is None


@pytest.mark.parametrize(
    "allowing", [{"FLOWRUNS_TRUST_PROXY_AUTH": "1"}, {"FLOWRUNS_DASHBOARD_AUTH": "local"}]
)
def test_exposed_with_sign_in_or_a_declared_proxy_serves(
    allowing: dict[str, str], sqlite_url: str
) -> None:
    flags = ("--server.address", EVERYWHERE)
    with streamlit(sqlite_url, ROOT, flags, allowing) as (proc, base, port):
        assert listening_on(port) == {"00000000"}
        assert visit(base) == "ok"
        time.sleep(2)
        assert proc.poll() is None


@pytest.mark.browser
def test_a_browser_gets_the_refusal_and_no_data(sqlite_url: str, tmp_path: Path) -> None:
    from dashworld import seed

    seed(sqlite_url, runs=50)
    flags = ("--server.address", EVERYWHERE)
    with (
        streamlit(sqlite_url, ROOT, flags) as (proc, base, _),
        chromium(tmp_path / "profile") as context,
    ):
        page = context.new_page()
        page.goto(base)
        refusal = page.locator('[data-testid="stAlertContentError"]', has_text="Refusing")
        refusal.wait_for(timeout=30_000)
        assert "FLOWRUNS_TRUST_PROXY_AUTH=1" in refusal.inner_text()
        assert page.locator('[data-testid="stMetric"]').count() == 0
        assert proc.wait(timeout=20) == 2
