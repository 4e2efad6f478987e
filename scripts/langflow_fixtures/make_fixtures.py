"""Make Langflow test fixtures with a real Langflow: install it, run flows, save the databases.

    .venv/bin/python scripts/langflow_fixtures/make_fixtures.py [--version 1.13.0]

See README.md beside this file for what it makes and what it needs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fake_openai
import legacy
import scenarios
from probe import Probe
from server import (
    PROFILES,
    SUPERUSER,
    SUPERUSER_PASSWORD,
    LangflowServer,
    Profile,
    ensure_venv,
    installed_versions,
)
from snapshot import SCRUBBED_TABLES, pg_dump, replay, scratch_database, sqlite_snapshot

REPO = Path(__file__).resolve().parents[2]
DEFAULT_PG = os.environ.get(
    "FLOWRUNS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
SQLITE_FILE = "langflow.sqlite"
PG_FILE = "langflow.postgresql.sql"


def run_traces(server: LangflowServer, probe: Probe, llm_base_url: str) -> dict[str, Any]:
    """Langflow >= 1.8: flows, finished runs, a deleted flow, and one run left in flight."""
    token = server.client.login(SUPERUSER, SUPERUSER_PASSWORD)
    scenario = scenarios.Scenario(server.client, probe, token)
    scenario.create_users()
    scenario.create_flows(llm_base_url)
    scenario.run_all()
    deleted = scenario.delete_after_run()
    in_flight = scenario.start_in_flight()
    return {
        "flows": {key: scenario.flow_ids[key] for key in scenarios.FLOWS},
        "runs": [*scenario.runs, in_flight],
        "deleted_flow_run": deleted,
    }


def scrub(probe: Probe) -> dict[str, int]:
    """Empty the credential tables in the live database (API keys are stored usable)."""
    removed = {}
    for table in SCRUBBED_TABLES:
        if probe.has_table(table):
            removed[table] = int(probe.rows(f"SELECT count(*) FROM {table}")[0][0])
            probe.execute(f"DELETE FROM {table}")
    return removed


def machine_paths(venv: Path, work: Path) -> dict[str, str]:
    """Paths of this machine that Langflow writes into its rows (tracebacks in chat messages),
    longest first, with what replaces them in the fixtures."""
    base = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sys; print(sys.base_prefix)"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    paths = {
        str(venv): "<langflow-venv>",
        str(work): "<work>",
        base: "<python>",
        str(REPO): "<repo>",
    }
    return dict(sorted(paths.items(), key=lambda item: -len(item[0])))


def redact(probe: Probe, paths: dict[str, str]) -> int:
    return sum(probe.replace_everywhere(old, new) for old, new in paths.items())


def assert_no_machine_paths(saved: Probe, paths: dict[str, str]) -> None:
    """Searched through SQL: in a SQLite file a long value is split across pages."""
    leaked = [old for old in paths if saved.count_containing(old)]
    if leaked:
        raise RuntimeError(f"the saved fixture still contains {leaked}")


def row_counts(probe: Probe, tables: tuple[str, ...]) -> dict[str, int]:
    quoted = {t: f'"{t}"' for t in tables}
    return {t: int(probe.rows(f"SELECT count(*) FROM {quoted[t]}")[0][0]) for t in tables}


def counted_tables(profile: Profile) -> tuple[str, ...]:
    if profile.native_traces:
        return ("trace", "span", "job", "flow", "user", "transaction")
    return ("flow", "user", "transaction", "message", "vertex_build")


@dataclass(frozen=True)
class Target:
    """Where one Langflow session keeps its database, and how that database is saved."""

    url: str  # Langflow's LANGFLOW_DATABASE_URL
    probe: Probe
    save: Callable[[], Probe]  # writes the fixture; returns a probe on what was written


def make_backend(
    backend: str, profile: Profile, venv: Path, work: Path, out: Path, admin_pg: str
) -> dict[str, Any]:
    work.mkdir(parents=True)
    with fake_openai.FakeOpenAI() as fake:
        if backend == "sqlite":
            live = work / "langflow.db"

            def save_sqlite() -> Probe:
                sqlite_snapshot(live, out / SQLITE_FILE)
                return Probe(sqlite_path=out / SQLITE_FILE)

            target = Target(f"sqlite:///{live}", Probe(sqlite_path=live), save_sqlite)
            result = _session(profile, venv, work, target, fake.base_url)
        else:
            with (
                scratch_database(admin_pg, "langflow_fixture") as uri,
                scratch_database(admin_pg, "langflow_replay") as replay_uri,
            ):

                def save_pg() -> Probe:
                    pg_dump(uri, out / PG_FILE)
                    replay(out / PG_FILE, replay_uri)
                    return Probe(pg_conninfo=replay_uri)

                target = Target(uri, Probe(pg_conninfo=uri), save_pg)
                result = _session(profile, venv, work, target, fake.base_url)
        result["llm_calls_answered"] = fake.calls
        result["llm_calls_streamed"] = fake.streamed_calls
        result["llm_streamed_calls_asking_usage"] = fake.usage_requested
    return result


def _session(
    profile: Profile, venv: Path, work: Path, target: Target, llm_base_url: str
) -> dict[str, Any]:
    runner = run_traces if profile.native_traces else legacy.run_transactions
    tables = counted_tables(profile)
    with LangflowServer(venv, profile, work, target.url) as server:
        started = time.monotonic()
        result = runner(server, target.probe, llm_base_url)
        result["scrubbed_rows"] = scrub(target.probe)
        paths = machine_paths(venv, work)
        result["rows_with_machine_paths_redacted"] = redact(target.probe, paths)
        time.sleep(3)  # Langflow batches transaction/vertex_build writes every 0.5 s
        result["row_counts"] = row_counts(target.probe, tables)
        saved = target.save()  # while the in-flight run still runs
        if row_counts(saved, tables) != result["row_counts"]:
            raise RuntimeError(f"the saved fixture holds other rows than {result['row_counts']}")
        assert_no_machine_paths(saved, paths)
        result["scenario_seconds"] = round(time.monotonic() - started, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", choices=sorted(PROFILES), default="1.13.0")
    parser.add_argument("--backends", default=None, help="sqlite,postgresql (default: all)")
    parser.add_argument("--venv", type=Path, help="Langflow's virtualenv (created if missing)")
    parser.add_argument("--out", type=Path, help="fixture folder (default tests/fixtures/...)")
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG)
    parser.add_argument("--keep-work", action="store_true", help="keep Langflow logs and DBs")
    args = parser.parse_args(argv)

    profile = PROFILES[args.version]
    default_backends = "sqlite,postgresql" if profile.native_traces else "sqlite"
    backends = (args.backends or default_backends).split(",")
    var = REPO / "var" / "langflow-fixtures"
    venv = ensure_venv(profile, (args.venv or var / f"venv-{profile.version}").resolve())
    out = args.out or REPO / "tests" / "fixtures" / "langflow" / profile.version
    out.mkdir(parents=True, exist_ok=True)
    var.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="work-", dir=var))
    manifest = _manifest_head(profile, venv)
    previous = out / "manifest.json"
    if previous.exists():  # regenerating one backend keeps what the manifest says of the others
        manifest["backends"] = json.loads(previous.read_text()).get("backends", {})
    try:
        for backend in backends:
            print(f"{profile.version} on {backend}: starting Langflow", flush=True)
            manifest["backends"][backend] = make_backend(
                backend, profile, venv, work / backend, out, args.pg_admin_url
            )
    except Exception:
        print(f"failed; Langflow's logs are kept in {work}", file=sys.stderr)
        raise
    if not args.keep_work:
        shutil.rmtree(work)
    fixtures = [p for p in sorted(out.iterdir()) if p.is_file() and p.name != "manifest.json"]
    manifest["files"] = {p.name: p.stat().st_size for p in fixtures}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    for name, size in manifest["files"].items():
        print(f"{out / name}: {size / 1024:.0f} KiB")
    return 0


def _manifest_head(profile: Profile, venv: Path) -> dict[str, Any]:
    users: dict[str, Any] = {
        "admin": {"username": SUPERUSER, "password": SUPERUSER_PASSWORD, "superuser": True}
    }
    if profile.native_traces:  # the older scenario runs as the superuser only
        users["second"] = {
            "username": scenarios.SECOND_USER,
            "password": scenarios.SECOND_PASSWORD,
            "superuser": False,
        }
    names = ("langflow-base", "lfx", "lfx-openai", "langchain-openai", "psycopg", "psycopg2-binary")
    return {
        "generated_by": "scripts/langflow_fixtures/make_fixtures.py",
        "langflow_version": profile.version,
        "packages": installed_versions(venv, names),
        "native_traces": profile.native_traces,
        "users": users,
        "fake_llm": {
            "model": fake_openai.MODEL,
            "prompt_tokens_per_call": fake_openai.PROMPT_TOKENS,
            "completion_tokens_per_call": fake_openai.COMPLETION_TOKENS,
        },
        "scrubbed_tables": list(SCRUBBED_TABLES),
        "backends": {},
    }


if __name__ == "__main__":
    sys.exit(main())
