"""A stored time no reader can hold never breaks a read (issue 18.1).

Another program wrote ``'yesterday'``, ``''``, an integer, a blob or ``'garbage'`` into a
time column (SQLite keeps anything), ``'infinity'`` (PostgreSQL's timestamptz holds it),
text into duration_ms, and such times into an API key and an audit entry. Every surface
answers: the run is listed with the stored value as text in ``unreadable`` (a flag in the
dashboard), counted where it can be, left out of time-bucketed charts with a note saying
how many, and ``flowruns doctor`` names every such value. Expected values are written
out here from what was stored, not read back from the code under test.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi.testclient import TestClient
from poisonrows import BAD_TIMES, PoisonedDatabase, poison, poison_times_elsewhere
from reliakit import dashboard
from streamlit.testing.v1 import AppTest

from api.app import create_app
from data.accounts import create_api_key, create_user
from data.cli.main import main as cli_main
from data.db import build_engine
from data.demo import generate_demo
from data.settings import get_settings

API = "/api/v1/flow-runs"
# label -> what the API shows in `unreadable` (column -> the stored value as text)
EXPECTED: dict[str, dict[str, str]] = {
    "infinite start": {"started_at": "infinity", "ended_at": "infinity"},
    "minus-infinite end": {"ended_at": "-infinity"},
    "text start": {"started_at": "yesterday"},
    "garbage end": {"ended_at": "garbage"},
    "integer start": {"started_at": "1767225600", "ended_at": "12"},
    "empty start": {"started_at": "", "ended_at": ""},
    "blob start": {"started_at": "x'00ff'", "ended_at": "x'32303236'"},
    "text duration": {"duration_ms": "slow"},
    "running, bad start": {"started_at": "yesterday"},
    "running, infinite start": {"started_at": "-infinity"},
}
AUDIT_TIMES = ("at", "updated_at", "finished_at")


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def timed(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    load_bench: ModuleType,
) -> Iterator[PoisonedDatabase]:
    """Demo runs and only the unreadable-time rows (no year 1/9999 rows: with those, the
    charts of range=all have too many buckets to draw at all)."""
    pg_name = None
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("times") / "times.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
    else:
        request.getfixturevalue("pg_database_url")
        pg_name = f"flowruns_times_{uuid.uuid4().hex[:8]}"
        url = load_bench.ensure_database(pg_name)
    engine = build_engine(url)
    try:
        generate_demo(engine, 60, days=5, seed=5)
        world = poison(engine, url, set(EXPECTED))
        create_user(engine, "times-admin", superuser=True)
        world.headers["admin"] = {"x-api-key": create_api_key(engine, "times-admin")[0]}
        plain, key_id = create_api_key(engine, "times-admin", "bad time")
        world.headers["bad-time key"] = {"x-api-key": plain}
        world.audit_id = poison_times_elsewhere(engine, key_id)
        yield world
    finally:
        engine.dispose()
        if pg_name:
            load_bench.drop_database(pg_name)


def _bad_starts(world: PoisonedDatabase) -> int:
    return sum(1 for label in world.runs if "started_at" in EXPECTED[label])


def _page(client: TestClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    response = client.get(API + "/", params={"limit": 500, **params}, headers=headers)
    assert response.status_code == 200, response.text[:300]
    return response.json()


def test_every_unreadable_value_is_listed_as_text_and_flagged(timed: PoisonedDatabase) -> None:
    admin = timed.headers["admin"]
    with TestClient(create_app(timed.url), raise_server_exceptions=False) as client:
        listed = {run["id"]: run for run in _page(client, admin)}
        for label, run_id in timed.runs.items():
            for run in (listed[str(run_id)], client.get(f"{API}/{run_id}", headers=admin).json()):
                assert run["unreadable"] == EXPECTED[label], label
                assert all(run[column] is None for column in EXPECTED[label]), label
        good = [run for rid, run in listed.items() if uuid.UUID(rid) not in timed.runs.values()]
        assert len(good) == 60 and all(run["unreadable"] == {} for run in good)
        # Every order and direction pages through them (keys of each storage class).
        for order in ("started_at", "duration_ms"):
            for direction in ("asc", "desc"):
                seen, cursor = [], None
                while True:
                    params = {"limit": 2, "order_by": order, "order_dir": direction}
                    response = client.get(
                        API + "/",
                        params=params | ({"cursor": cursor} if cursor else {}),
                        headers=admin,
                    )
                    assert response.status_code == 200, (order, direction, response.text)
                    seen += [run["id"] for run in response.json()]
                    if not (cursor := response.headers.get("X-Next-Cursor")):
                        break
                assert sorted(seen) == sorted(listed), (order, direction)


def test_stats_count_runs_with_unreadable_values(timed: PoisonedDatabase) -> None:
    """A text duration (SQLite) made /stats answer 503: now the run is counted, without a
    duration. Runs whose start is no time fall outside every time window."""
    admin = timed.headers["admin"]
    now = datetime.now(UTC)
    window = {"started_after": (now - timedelta(days=30)).isoformat()}
    window["started_before"] = (now + timedelta(hours=1)).isoformat()
    with TestClient(create_app(timed.url), raise_server_exceptions=False) as client:
        runs = _page(client, admin, **window)
        stats = client.get(API + "/stats", params=window, headers=admin)
        assert stats.status_code == 200, stats.text
        body = stats.json()
    placed = [run for run in runs if run["started_at"] is not None]
    assert body["total_runs"] == len(placed)
    assert body["without_duration"] == sum(run["duration_ms"] is None for run in placed)
    if "text duration" in timed.runs:
        assert str(timed.runs["text duration"]) in {run["id"] for run in placed}


def test_a_key_with_unreadable_times_still_authenticates(
    timed: PoisonedDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    with TestClient(create_app(timed.url), raise_server_exceptions=False) as client:
        response = client.get(API + "/", params={"limit": 5}, headers=timed.headers["bad-time key"])
        assert response.status_code == 200, response.text
        audit = client.get("/api/v1/audit/", params={"limit": 500}, headers=timed.headers["admin"])
    assert audit.status_code == 200, audit.text
    [entry] = [e for e in audit.json()["entries"] if e["id"] == str(timed.audit_id)]
    bad = BAD_TIMES[timed.dialect]
    assert entry["unreadable"] == dict.fromkeys(AUDIT_TIMES, bad)
    assert all(entry[column] is None for column in AUDIT_TIMES)
    assert cli_main(["--database-url", timed.url, "api-key", "list"]) == 0
    out, err = capsys.readouterr()
    assert "bad time" in out and "Traceback" not in out + err


def test_cli_commands_answer_and_doctor_names_every_value(
    timed: PoisonedDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in (["stats"], ["stats", "--json"], ["export"], ["sweep-stuck"]):
        assert cli_main(["--database-url", timed.url, *command]) == 0, command
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err, command
    assert cli_main(["--database-url", timed.url, "doctor"]) == 5
    out, err = capsys.readouterr()
    expected = {
        f"flow_run {timed.runs[label]} {column}: {raw}"
        for label in timed.runs
        for column, raw in EXPECTED[label].items()
    }
    bad = BAD_TIMES[timed.dialect]
    expected |= {f"flowrun_audit {timed.audit_id} {column}: {bad}" for column in AUDIT_TIMES}
    named = {line for line in out.splitlines() if ": " in line and not line[0].isdigit()}
    keys = {line for line in named if line.startswith("flowrun_api_key ")}
    assert {line.rsplit(" ", 2)[-2:] == ["created_at:", bad] for line in keys} or keys
    # An authenticated request rewrites last_used_at (the test above made one).
    key_values = {line.split(" ", 2)[2] for line in keys}
    assert f"created_at: {bad}" in key_values <= {f"created_at: {bad}", f"last_used_at: {bad}"}
    assert named - keys == expected
    assert f"{len(expected) + len(keys):,} unreadable stored value(s)" in out


def _open(monkeypatch: pytest.MonkeyPatch, url: str, **params: str) -> AppTest:
    monkeypatch.setenv("FLOWRUNS_DATABASE_URL", url)
    get_settings.cache_clear()
    return dashboard(url, {"range": "all", **params})


def _texts(at: AppTest) -> str:
    return "\n".join(str(e.value) for e in [*at.caption, *at.warning, *at.markdown])


def test_dashboard_pages_flag_and_count_unreadable_times(
    monkeypatch: pytest.MonkeyPatch, timed: PoisonedDatabase
) -> None:
    at = _open(monkeypatch, timed.url)
    assert not at.exception, [str(e.value) for e in at.exception]
    starts = _bad_starts(timed)
    note = f"{starts} runs with an unreadable start time not shown in these charts"
    assert note in _texts(at), _texts(at)
    for page in ("views/history.py", "views/flows.py", "views/errors.py", "views/retention.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, [str(e.value) for e in at.exception])
        if page == "views/history.py":
            cells = [str(c) for c in at.dataframe[0].value.to_numpy().ravel()]
            shown = {cell for cell in cells if cell.startswith("⚠ unreadable")}
            bad = "'yesterday'" if timed.dialect == "sqlite" else "'infinity'"  # newest first
            assert f"⚠ unreadable: {bad}" in shown, shown
        if page == "views/retention.py":
            cells = [str(c) for c in at.dataframe[-1].value.to_numpy().ravel()]
            assert f"⚠ unreadable: '{BAD_TIMES[timed.dialect]}'" in cells


def test_run_detail_shows_each_unreadable_value(
    monkeypatch: pytest.MonkeyPatch, timed: PoisonedDatabase
) -> None:
    for label, run_id in timed.runs.items():
        at = _open(monkeypatch, timed.url, run=str(run_id))
        at.switch_page("views/history.py").run()
        assert not at.exception, (label, [str(e.value) for e in at.exception])
        warning = "\n".join(str(w.value) for w in at.warning)
        for column, raw in EXPECTED[label].items():
            assert f"{column} = {raw!r}" in warning.replace("\\", ""), (label, warning)
