"""The ``flowruns`` command line against real databases (in-process and as a real process)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, update

from data import accounts
from data import queries as q
from data.cli.main import main
from data.demo import generate_demo
from data.filters import FlowRunFilter
from data.models import FlowRun, FlowRunStatus

NOW = datetime.now(UTC)


def run_cli(capsys: pytest.CaptureFixture[str], db_url: str, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(["--database-url", db_url, *argv])
    except SystemExit as exc:  # argparse rejects bad options itself
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    generate_demo(engine, 3000, days=30, now=NOW, seed=7)
    return engine


def test_init_db_creates_schema_on_a_new_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    code, out, _ = run_cli(capsys, url, "init-db")
    assert code == 0 and "up to date" in out
    code, out, _ = run_cli(capsys, url, "stats", "--json")
    assert code == 0 and json.loads(out)["total_runs"] == 0


def test_demo_inserts_the_requested_number(
    db_url: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, db_url, "demo", "--runs", "1234", "--days", "5")
    assert code == 0 and "1,234" in out
    assert q.count_runs(engine, FlowRunFilter()) == 1234


def test_stats_json_matches_the_rows(
    db_url: str, seeded: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(
        capsys, db_url, "stats", "--json", "--status", "success", "--status", "failure"
    )
    assert code == 0
    body = json.loads(out)
    rows = pd.DataFrame([r for chunk in q.iter_runs(seeded, FlowRunFilter()) for r in chunk])
    chosen = rows[rows["status"].isin(["success", "failure"])]
    assert body["total_runs"] == len(chosen)
    expected_rate = (chosen["status"] == "success").sum() / len(chosen) * 100
    assert body["success_rate"] == pytest.approx(expected_rate, abs=0.01)
    assert body["p95_duration_ms"] == pytest.approx(chosen["duration_ms"].quantile(0.95))


def test_export_streams_every_matching_run_as_csv(
    db_url: str, seeded: Engine, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "failures.csv"
    code, _, err = run_cli(
        capsys,
        db_url,
        "export",
        "--status",
        "failure",
        "-o",
        str(target),
        "--columns",
        "id,status,flow_name,duration_ms",
    )
    assert code == 0 and "wrote" in err
    frame = pd.read_csv(target)
    assert list(frame.columns) == ["id", "status", "flow_name", "duration_ms"]
    assert set(frame["status"]) == {"failure"}
    expected = q.count_runs(seeded, FlowRunFilter(statuses=("failure",)))
    assert len(frame) == expected > 0
    assert frame["id"].is_unique


def test_prune_dry_run_counts_exactly_what_prune_deletes(
    db_url: str, seeded: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    before = q.count_runs(seeded, FlowRunFilter())
    code, out, _ = run_cli(
        capsys,
        db_url,
        "prune",
        "--max-age-days",
        "10",
        "--status-max-age",
        "failure=20",
        "--dry-run",
    )
    assert code == 0
    would = int(out.split()[2].replace(",", ""))
    assert q.count_runs(seeded, FlowRunFilter()) == before
    code, out, _ = run_cli(
        capsys, db_url, "prune", "--max-age-days", "10", "--status-max-age", "failure=20"
    )
    assert code == 0 and int(out.split()[1].replace(",", "")) == would > 0
    assert q.count_runs(seeded, FlowRunFilter()) == before - would
    old = FlowRunFilter(started_before=NOW - timedelta(days=20, minutes=1))
    assert q.count_runs(seeded, old.replace(exclude_statuses=FlowRunStatus.active())) == 0


def test_delete_without_filter_is_refused_in_one_line(
    db_url: str, seeded: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    before = q.count_runs(seeded, FlowRunFilter())
    code, out, err = run_cli(capsys, db_url, "delete")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "refusing" in err
    assert q.count_runs(seeded, FlowRunFilter()) == before


def test_delete_all_keeps_active_runs(
    db_url: str, seeded: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    active = q.count_runs(seeded, FlowRunFilter(statuses=FlowRunStatus.active()))
    code, _, _ = run_cli(capsys, db_url, "delete", "--all")
    assert code == 0
    assert q.count_runs(seeded, FlowRunFilter()) == active


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["stats", "--flow", "not-a-uuid"], "--flow"),
        (["stats", "--since", "yesterday"], "--since"),
        (["stats", "--since", "2026-01-02", "--until", "2026-01-01"], "earlier than --until"),
        (["stats", "--days", "0"], "--days"),
        (["stats", "--days", "3", "--since", "2026-01-01"], "--days"),
        (["export", "--columns", "id,nope"], "nope"),
        (["prune", "--status-max-age", "failure"], "STATUS=DAYS"),
        (["prune", "--status-max-age", "running=3"], "never pruned"),
        (["prune"], "empty"),
        (["api-key", "revoke", "123"], "not a UUID"),
        (["demo", "--runs", "-5"], "--runs: must be between 0 and"),
        (["stats", "--bogus"], "unrecognized"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    sqlite_url: str, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    code, _, err = run_cli(capsys, sqlite_url, *argv)
    assert code == 2
    assert err.count("\n") == 1, err
    assert needle in err


def test_unreachable_database_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "postgresql+psycopg://nobody@127.0.0.1:1/none", "stats")
    assert code == 3 and err.count("\n") == 1 and "database error" in err


def test_missing_schema_exits_3_and_says_init_db(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, f"sqlite:///{tmp_path / 'empty.db'}", "stats")
    assert code == 3 and "init-db" in err


def test_api_key_lifecycle(db_url: str, engine: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, db_url, "user", "create", "alice")[0] == 0
    code, _, err = run_cli(capsys, db_url, "user", "create", "alice")
    assert code == 5 and "already exists" in err
    code, out, _ = run_cli(capsys, db_url, "api-key", "create", "--user", "alice")
    plain = out.strip()
    principal = accounts.authenticate(engine, plain)
    assert code == 0 and principal is not None and principal.username == "alice"
    code, out, _ = run_cli(capsys, db_url, "api-key", "list")
    key_id = out.split()[0]
    assert plain not in out and "active" in out
    assert run_cli(capsys, db_url, "api-key", "revoke", key_id)[0] == 0
    assert accounts.authenticate(engine, plain) is None
    code, _, err = run_cli(capsys, db_url, "api-key", "revoke", key_id)
    assert code == 4 and "no active API key" in err
    code, _, err = run_cli(capsys, db_url, "api-key", "create", "--user", "bob")
    assert code == 4


def test_sweep_stuck_marks_old_active_runs(
    db_url: str, seeded: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = FlowRunFilter(
        statuses=FlowRunStatus.active(), started_before=datetime.now(UTC) - timedelta(minutes=60)
    )
    expected = q.count_runs(seeded, stale)
    code, out, _ = run_cli(capsys, db_url, "sweep-stuck", "--timeout-minutes", "60")
    assert code == 0 and f"marked {expected:,} run" in out
    assert q.count_runs(seeded, stale) == 0
    assert q.count_runs(seeded, FlowRunFilter(error_types=("Timeout",))) >= expected


def test_console_script_reports_errors_without_traceback(tmp_path: Path) -> None:
    """As a real process: exit code and a single stderr line, no Python traceback."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "data.cli.main",
            "--database-url",
            f"sqlite:///{tmp_path / 'x.db'}",
            "stats",
            "--flow",
            "zzz",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_export_to_stdout_is_valid_csv(
    db_url: str, seeded: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, db_url, "export", "--trigger", "webhook")
    frame = pd.read_csv(io.StringIO(out))
    assert code == 0
    assert len(frame) == q.count_runs(seeded, FlowRunFilter(trigger_types=("webhook",)))
    assert set(frame["trigger_type"]) == {"webhook"}


def test_statuses_of_other_engines_are_counted_and_filterable(
    db_url: str, seeded: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    """Upper case counts as the known status; an unknown value present in the data is a
    valid filter and is counted in other_count (issue 8 item 9)."""
    rows = pd.DataFrame([r for chunk in q.iter_runs(seeded, FlowRunFilter()) for r in chunk])
    legacy = rows[rows["status"] == "success"]["id"].head(5).tolist()
    odd = rows[rows["status"] == "failure"]["id"].head(3).tolist()
    with seeded.begin() as conn:
        conn.execute(update(FlowRun).where(FlowRun.id.in_(legacy)).values(status="SUCCESS"))
        conn.execute(update(FlowRun).where(FlowRun.id.in_(odd)).values(status="weird"))
    code, out, _ = run_cli(capsys, db_url, "stats", "--json", "--status", "Success")
    body = json.loads(out)
    successes = int((rows["status"] == "success").sum())
    assert code == 0 and body["status_counts"] == {"success": successes}
    code, out, _ = run_cli(capsys, db_url, "stats", "--json", "--status", "WEIRD")
    body = json.loads(out)
    assert (code, body["total_runs"], body["other_count"]) == (0, 3, 3)
    assert body["success_rate"] is None  # nothing finished among them: no data, not 0
    code, out, _ = run_cli(capsys, db_url, "stats", "--json")
    body = json.loads(out)
    known = sum(v for k, v in body["status_counts"].items() if k != "weird")
    assert body["other_count"] == 3 and known + body["other_count"] == body["total_runs"]
    assert body["without_duration"] == int(rows["duration_ms"].isna().sum())


def test_sweep_timeout_given_is_used_and_unset_falls_back_to_the_setting(
    db_url: str, engine: Engine, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWRUNS_STUCK_RUN_TIMEOUT_MINUTES", "45")
    _, out, _ = run_cli(capsys, db_url, "sweep-stuck", "--dry-run")
    assert "stuck for over 45 minutes" in out
    _, out, _ = run_cli(capsys, db_url, "sweep-stuck", "--timeout-minutes", "1", "--dry-run")
    assert "stuck for over 1 minutes" in out
