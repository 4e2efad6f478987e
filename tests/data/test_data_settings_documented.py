"""Every FLOWRUNS_* setting is in the README's configuration table."""

from __future__ import annotations

from pathlib import Path

from data.settings import ENV_PREFIX, Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_in_the_readme() -> None:
    text = README.read_text()
    missing = [
        f"{ENV_PREFIX}{name.upper()}"
        for name in Settings.model_fields
        if f"`{ENV_PREFIX}{name.upper()}`" not in text
    ]
    assert missing == []
