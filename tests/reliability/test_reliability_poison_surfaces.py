"""Poison rows (see poisonrows.py) against the other surfaces: every read (and dry-run)
CLI command answers with exit code 0 and no traceback, and every dashboard page and the
run detail of the worst rows render without ``st.exception``.
"""

from __future__ import annotations

import pytest
from poisonrows import PoisonedDatabase, strict_json
from reliakit import dashboard
from streamlit.testing.v1 import AppTest

from data.cli.main import main as cli_main
from data.settings import get_settings

READ_COMMANDS = [
    ["stats"],
    ["stats", "--json"],
    ["stats", "--days", "3650"],
    ["stats", "--status", "SUCCESS", "--json"],
    ["stats", "--status", "weird"],
    ["stats", "--error-contains", "<script>"],
    ["export"],
    ["export", "--columns", "id,status,inputs,error_message,duration_ms"],
    ["export", "--status", "failure"],
    ["api-key", "list"],
    ["prune", "--max-age-days", "1", "--dry-run"],
    ["prune", "--max-runs-per-flow", "1", "--dry-run"],
    ["sweep-stuck", "--dry-run"],
    ["delete", "--status", "success", "--dry-run"],
    ["delete", "--all", "--dry-run"],
]


@pytest.mark.parametrize("command", READ_COMMANDS, ids=" ".join)
def test_read_cli_commands_answer_over_poison_rows(
    poisoned: PoisonedDatabase, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli_main(["--database-url", poisoned.url, *command])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Traceback" not in out + err
    if "--json" in command:
        strict_json(out)
    if command == ["export"]:  # a header and every run, the poison ones included
        assert len(out.splitlines()) > 120 + len(poisoned.runs)


def _open_dashboard(monkeypatch: pytest.MonkeyPatch, url: str, **params: str) -> AppTest:
    monkeypatch.setenv("FLOWRUNS_DATABASE_URL", url)
    get_settings.cache_clear()
    return dashboard(url, {"range": "all", **params})


def _exceptions(at: AppTest) -> list[str]:
    return [str(e.value) for e in at.exception]


def test_overview_renders_over_poison_rows(
    monkeypatch: pytest.MonkeyPatch, poisoned: PoisonedDatabase
) -> None:
    at = _open_dashboard(monkeypatch, poisoned.url)
    assert not at.exception, _exceptions(at)
    assert at.metric, "the KPI tiles are missing"


def test_other_dashboard_pages_render_over_poison_rows(
    monkeypatch: pytest.MonkeyPatch, poisoned: PoisonedDatabase
) -> None:
    at = _open_dashboard(monkeypatch, poisoned.url)
    for page in ("views/history.py", "views/flows.py", "views/errors.py", "views/retention.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, _exceptions(at))
    # The run detail of the worst rows (a shared link's ?run=).
    for label in ("300-level nesting", "lone surrogates elsewhere", "markup in texts"):
        detail = _open_dashboard(monkeypatch, poisoned.url, run=str(poisoned.runs[label]))
        detail.switch_page("views/history.py").run()
        assert not detail.exception, (label, _exceptions(detail))
