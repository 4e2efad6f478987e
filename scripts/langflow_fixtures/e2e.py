"""End-to-end check: a real Langflow runs two flows through its API, `flowruns sync langflow`
copies them into our database, and our dashboard shows each run with its steps in Chromium.

    .venv/bin/python scripts/langflow_fixtures/e2e.py        # or: make langflow-e2e

Not part of `make test` or CI: the first run installs Langflow into var/ (minutes; the same
virtualenv as make_fixtures.py, reused while its pinned packages are unchanged). Prints a
report; exits 0 when every check passed, 1 when one failed (its logs are then kept).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fake_openai
import scenarios
from e2e_browser import (
    CheckFailed,
    TraceFacts,
    check_dashboard,
    expect,
    read_trace,
)
from probe import Probe
from server import (
    PROFILES,
    SUPERUSER,
    SUPERUSER_PASSWORD,
    LangflowServer,
    ensure_venv,
    free_port,
    installed_versions,
)

REPO = Path(__file__).resolve().parents[2]
VERSION = "1.13.0"
DEFAULT_VENV = REPO / "var" / "langflow-fixtures" / f"venv-{VERSION}"  # make_fixtures.py's
FLOWS = ("llm", "fails")  # scenarios.FLOWS keys: Chat Input -> OpenAI -> Chat Output; a raise
SHOTS = {
    "llm": REPO / "docs" / "img" / "langflow-run-detail.png",
    "failure": REPO / "docs" / "img" / "langflow-run-failure.png",
}
# The sync runs inside the work folder with this relative URL, so the source badge (which
# shows the URL as given) names no path of this machine in the screenshots.
SOURCE_URL = "sqlite:///langflow.db"


@dataclass
class Report:
    versions: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    runs: list[str] = field(default_factory=list)
    synced: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    phase_now: str = ""

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self.phase_now, started = name, time.monotonic()
        try:
            yield
        finally:
            self.timings[name] = time.monotonic() - started

    def print(self, failure: str | None) -> None:
        print("\n== Langflow end-to-end check ==")
        for section, lines in (
            ("versions", [f"{k}: {v}" for k, v in self.versions.items()]),
            ("runs (through Langflow's /api/v1/run)", self.runs),
            ("our CLI", self.synced),
            ("checked", self.checks),
            ("timings", [f"{k}: {v:.1f} s" for k, v in self.timings.items()]),
        ):
            print(f"{section}:")
            for line in lines:
                print(f"  - {line}")
        print(f"FAILED during '{self.phase_now}': {failure}" if failure else "PASSED")


def versions(venv: Path) -> dict[str, str]:
    ours = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    chromium = subprocess.run(
        ["/usr/bin/chromium", "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    found = installed_versions(venv, ("langflow-base", "lfx", "lfx-openai"))
    return {
        "FlowRun History": ours or "unknown",
        **{
            name: found.get(name, "not installed")
            for name in ("langflow-base", "lfx", "lfx-openai")
        },
        "Python (ours)": platform.python_version(),
        "streamlit": importlib.metadata.version("streamlit"),
        "playwright": importlib.metadata.version("playwright"),
        "chromium": chromium or "not found",
    }


def langflow_runs(venv: Path, work: Path, report: Report) -> dict[str, TraceFacts]:
    """Langflow on a fresh SQLite file: the two flows, each run once through the run API."""
    db = work / "langflow.db"
    server = LangflowServer(venv, PROFILES[VERSION], work / "langflow", f"sqlite:///{db}")
    with fake_openai.FakeOpenAI() as fake:
        try:
            with report.phase("Langflow start (migrations included)"):
                server.start()
            with report.phase("Langflow: create the flows, run each once"):
                token = server.client.login(SUPERUSER, SUPERUSER_PASSWORD)
                scenario = scenarios.Scenario(server.client, Probe(sqlite_path=db), token)
                scenario.keys["admin"] = server.client.create_api_key(token, "e2e key")
                scenario.create_flows(fake.base_url, only=FLOWS)
                # run_one checks the trace against scenarios.FLOWS (status, spans, tokens, error)
                runs = {key: scenario.run_one(key, "api", f"e2e-{key}") for key in FLOWS}
        finally:
            with report.phase("Langflow stop"):
                server.stop()
        expect(fake.calls == 1, f"the fake OpenAI server answered {fake.calls} calls, not 1")
    facts = {}
    for key, run in runs.items():
        facts[key] = fact = read_trace(db, run["trace_id"], run["flow_name"])
        report.runs.append(
            f"{fact.flow_name}: trace {fact.trace_id}, status {fact.status}, {len(fact.spans)}"
            f" spans ({', '.join(s.name for s in fact.spans)}), {fact.total_tokens} tokens,"
            f" total_latency_ms {fact.total_latency_ms}, API call {run['wall_seconds']} s"
        )
    return facts


def flowruns(args: list[str], work: Path, database_url: str) -> str:
    """Our CLI from this checkout, in the work folder (where the relative source URL points)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWRUNS_")}
    env["FLOWRUNS_DATABASE_URL"] = database_url
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", "data.cli.main", *args],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    said = (done.stdout + done.stderr).strip()
    expect(done.returncode == 0, f"flowruns {' '.join(args)}: exit {done.returncode}: {said}")
    return said


def steps_synced(our_db: Path) -> dict[str, int]:
    """Steps per run in our database, read with SQL."""
    with contextlib.closing(sqlite3.connect(f"file:{our_db}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT run_id, count(*) FROM flowrun_step GROUP BY run_id").fetchall()
    return {str(uuid.UUID(str(run_id))): int(n) for run_id, n in rows}


def sync(work: Path, our_url: str, facts: dict[str, TraceFacts], report: Report) -> None:
    for args in (["init-db"], ["sync", "langflow", "--source", SOURCE_URL], ["sync", "status"]):
        with report.phase(f"flowruns {' '.join(args)}"):
            said = flowruns(args, work, our_url)
        report.synced.append(f"flowruns {' '.join(args)}: " + " | ".join(said.splitlines()))
    synced = steps_synced(work / "flowruns.db")
    for fact in facts.values():
        expect(
            synced.get(fact.trace_id) == len(fact.spans),
            f"{fact.flow_name}: {synced.get(fact.trace_id)} steps synced, {len(fact.spans)} spans",
        )
    report.checks.append(
        "our flowrun_step holds, per run, as many rows as Langflow's span table: "
        + ", ".join(f"{f.flow_name} {len(f.spans)}" for f in facts.values())
    )


def run_check(venv_path: Path | None, work: Path, report: Report) -> None:
    with report.phase("Langflow virtualenv (installed on first use)"):
        venv = ensure_venv(
            PROFILES[VERSION], venv_path or REPO / "var/langflow-fixtures/venv-1.13.0"
        )
    report.versions = versions(venv)
    facts = langflow_runs(venv, work, report)
    expect(facts["llm"].status.lower() == "ok", f"the LLM run's trace is {facts['llm'].status}")
    expect(len(facts["fails"].failing) == 1, "the failing run has not exactly one failing span")
    our_url = f"sqlite:///{work / 'flowruns.db'}"
    sync(work, our_url, facts, report)
    forbidden = [str(work), str(REPO), str(venv), str(Path.home()), tempfile.gettempdir() + "/"]
    with contextlib.ExitStack() as stack:
        with report.phase("dashboard start (streamlit)"):
            base = stack.enter_context(running_dashboard(our_url, work / "streamlit.log"))
        with report.phase("Chromium checks"):
            check_dashboard(
                base,
                facts["llm"],
                facts["fails"],
                work / "chromium-profile",
                SHOTS,
                forbidden,
                report.checks,
            )
    for path in SHOTS.values():
        report.checks.append(
            f"screenshot {path.relative_to(REPO)}: {path.stat().st_size / 1024:.0f} KiB,"
            " no machine path on the page"
        )


@contextlib.contextmanager
def running_dashboard(database_url: str, log_path: Path) -> Iterator[str]:
    """`streamlit run dashboard/app.py` on our database; yields its base URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWRUNS_")}
    env["FLOWRUNS_DATABASE_URL"] = database_url
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", "dashboard/app.py"]
    command += ["--server.headless", "true", "--server.port", str(port)]
    command += ["--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    with log_path.open("ab") as log:
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, proc)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _wait_healthy(base: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CheckFailed(f"the dashboard exited with {proc.returncode}; see its log")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.3)
    raise CheckFailed(f"the dashboard did not answer within {timeout:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, help="Langflow's virtualenv (created if missing)")
    parser.add_argument("--keep-work", action="store_true", help="keep the logs and databases")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="flowruns-langflow-e2e-"))
    report, failure = Report(), None
    started = time.monotonic()
    try:
        run_check(args.venv, work, report)
    except Exception as exc:  # the report says which phase failed and why, in one line
        failure = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"
        (work / "failure.txt").write_text(traceback.format_exc())
    report.timings["total"] = time.monotonic() - started
    report.print(failure)
    if failure or args.keep_work:
        print(f"logs (Langflow, dashboard, failure.txt) and databases kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failure else 0


if __name__ == "__main__":
    sys.exit(main())
