"""Issue 18 item 5: a stored retention policy is applied only if it reads back exactly.

``{"failure": 1.5}`` pruned 689 runs while the dashboard showed "1"; a duplicate key
pruned 18,836; ``true`` and unknown keys were accepted; ``max_age_days=10**9`` ended in an
unexpected error. Each hostile row is written with raw SQL (as another program or a hand
edit would), then: the data layer refuses it naming the field, and `flowruns prune`
(dry run or not) exits 2 with one line, deleting nothing and auditing nothing. Both
backends; values only SQLite can hold in an INTEGER column run on SQLite."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select, text

from data.cli.main import main
from data.demo import generate_demo
from data.errors import InvalidQuery
from data.models import AuditEntry, FlowRun
from data.retention import RetentionPolicy, effective_policy, save_policy
from data.retention_store import InvalidStoredPolicy
from data.settings import get_settings

NOW = datetime.now(UTC)
# (status_max_age_days JSON text, text the refusal holds)
BAD_JSON: list[tuple[str, str]] = [
    ('{"failure": 1.5}', "1.5' is not a whole number"),
    ('{"failure": 1.0}', "1.0' is not a whole number"),
    ('{"failure": 1e3}', "1e3' is not a whole number"),
    ('{"success": 1, "success": 2}', "'success' appears more than once"),
    ('{"success": 2, "failure": 3, "success": 2}', "'success' appears more than once"),
    ('{"failure": true}', "failure: True is not a whole number"),
    ('{"failure": false}', "failure: False is not a whole number"),
    ('{"failure": null}', "failure: None is not a whole number"),
    ('{"failure": "5"}', "failure: '5' is not a whole number"),
    ('{"failure": [5]}', "failure: [5] is not a whole number"),
    ('{"failure": {"a": 1, "a": 2}}', "'a' appears more than once"),
    ('{"failure": 0}', "failure: 0 is not between 1 and 36,500"),
    ('{"failure": -3}', "failure: -3 is not between 1"),
    ('{"failure": 1000000000}', "1,000,000,000 is not between 1 and 36,500"),
    ('{"failure": NaN}', "NaN is not a number of days"),
    ('{"failure": Infinity}', "Infinity is not a number of days"),
    ('{"failure": ' + "9" * 5000 + "}", "not valid JSON"),
    ('{"bogus": 5}', "unknown key 'bogus' (allowed: success, failure, cancelled)"),
    ('{"SUCCESS": 5}', "unknown key 'SUCCESS'"),
    ('{"running": 3}', "unknown key 'running'"),
    ('{"pending": 3}', "unknown key 'pending'"),
    ("[1, 2]", "is not a JSON object"),
    ("5", "is not a JSON object"),
    ("", "not valid JSON"),
    ("{", "not valid JSON"),
]
# (column, SQL literal, text the refusal holds): values any backend's INTEGER column holds.
BAD_COLUMNS: list[tuple[str, str, str]] = [
    ("max_age_days", "1000000000", "max_age_days: 1,000,000,000 is not between 1 and 36,500"),
    ("max_age_days", "0", "max_age_days: 0 is not between"),
    ("max_age_days", "-1", "max_age_days: -1 is not between"),
    ("max_runs_per_flow", "0", "max_runs_per_flow: 0 is not between 1 and 2,147,483,647"),
]
# SQLite keeps what it cannot convert to an integer as it was given ('30' becomes 30).
SQLITE_ONLY: list[tuple[str, str, str]] = [
    ("max_age_days", "1.5", "max_age_days: 1.5 is not a whole number"),
    ("max_age_days", "'30 days'", "max_age_days: '30 days' is not a whole number"),
    ("max_runs_per_flow", "'many'", "max_runs_per_flow: 'many' is not a whole number"),
    ("max_runs_per_flow", "X'01'", "max_runs_per_flow: b'\\x01' is not a whole number"),
    ("status_max_age_days", "X'7B7D'", "is not JSON text"),
]


def _counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        runs = conn.execute(select(func.count()).select_from(FlowRun)).scalar_one()
        audits = conn.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    return int(runs), int(audits)


def _store(engine: Engine, column: str, literal: str) -> None:
    # A fresh valid row first, so only ``column`` is wrong.
    save_policy(engine, RetentionPolicy(max_age_days=1, status_max_age_days={"failure": 1}), "x")
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE flowrun_retention_policy SET {column} = {literal}"))


def _prune(db_url: str, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    code = main(["--database-url", db_url, "prune", *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _cases(engine: Engine) -> list[tuple[str, str, str]]:
    cases = [("status_max_age_days", "'" + raw.replace("'", "''") + "'", n) for raw, n in BAD_JSON]
    cases += BAD_COLUMNS
    if engine.dialect.name == "sqlite":
        cases += SQLITE_ONLY
    return cases


def test_every_unreadable_stored_policy_stops_the_prune(
    engine: Engine, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every run is old enough for a 1-day policy: a prune that went ahead would show.
    generate_demo(engine, 200, days=30, now=NOW.replace(year=NOW.year - 1), seed=4)
    before = _counts(engine)
    assert before[0] == 200
    failures = []
    for column, literal, needle in _cases(engine):
        _store(engine, column, literal)
        try:
            effective_policy(engine, get_settings())
            failures.append(f"{column}={literal[:40]}: accepted by the data layer")
            continue
        except InvalidStoredPolicy as exc:
            if needle not in str(exc):
                failures.append(f"{column}={literal[:40]}: {exc} lacks {needle!r}")
        for extra in ((), ("--dry-run",), ("--max-age-days", "5")):
            code, out, err = _prune(db_url, capsys, *extra)
            if (code, out) != (2, "") or err.count("\n") != 1 or needle not in err:
                failures.append(f"{column}={literal[:40]} {extra}: exit {code} {err!r:.200}")
        if _counts(engine) != before:
            failures.append(f"{column}={literal[:40]}: the database changed")
            break
    assert not failures, "\n".join(failures)


def test_a_policy_that_would_not_read_back_is_not_saved(engine: Engine) -> None:
    with pytest.raises(InvalidQuery, match="cannot be saved: status_max_age_days: unknown key"):
        save_policy(engine, RetentionPolicy(status_max_age_days={"weird": 3}), "x")
    with pytest.raises(InvalidQuery, match="max_age_days: must be between 1 and 36,500"):
        RetentionPolicy(max_age_days=36_501)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM flowrun_retention_policy")).scalar() == 0


def test_a_valid_stored_policy_still_reads_back_exactly(engine: Engine) -> None:
    policy = RetentionPolicy(36_500, 2**31 - 1, {"success": 1, "failure": 36_500, "cancelled": 7})
    save_policy(engine, policy, "x")
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT status_max_age_days FROM flowrun_retention_policy"))
        assert json.loads(stored.scalar_one()) == {"cancelled": 7, "failure": 36_500, "success": 1}
    assert effective_policy(engine, get_settings()).policy == policy


@pytest.mark.parametrize("value", ["36501", "1000000000"])
def test_a_retention_setting_out_of_range_is_one_line(
    value: str, sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FLOWRUNS_RETENTION_MAX_AGE_DAYS", value)
    get_settings.cache_clear()
    code, out, err = _prune(sqlite_url, capsys, "--dry-run")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "FLOWRUNS_RETENTION_MAX_AGE_DAYS" in err
