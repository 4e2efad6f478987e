"""Field-by-field comparison of two runs' JSON payloads (inputs, outputs, metadata).

Pure functions, no Streamlit: nested objects become one row per leaf path
(``answer.items[2].score``), and each row says whether the value is the same, changed,
added (only in this run) or removed (only in the baseline).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Change = Literal["same", "changed", "added", "removed"]
SECTIONS = ("inputs", "outputs", "metadata")
# Stored JSON may nest hundreds of levels: below this depth a subtree is one value.
MAX_DEPTH = 12
ABSENT = "(absent)"


@dataclass(frozen=True)
class DiffRow:
    section: str
    path: str
    this_run: str
    baseline: str
    change: Change


def as_text(value: Any) -> str:
    """A leaf as JSON text, safe to display: lone surrogates are escaped, never raised."""
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    except (ValueError, TypeError, RecursionError):  # a cycle or an absurd depth
        text = "(too deeply nested to show)"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _leaves(value: Any, path: str, depth: int) -> Iterator[tuple[str, Any]]:
    if depth < MAX_DEPTH and isinstance(value, Mapping) and value:
        for key in sorted(value, key=str):
            yield from _leaves(value[key], f"{path}.{key}" if path else str(key), depth + 1)
    elif depth < MAX_DEPTH and isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]", depth + 1)
    else:
        yield (path or "(whole value)", value)


def flatten(value: Any) -> dict[str, Any]:
    """Leaf path -> value; ``None`` (no payload) has no leaves."""
    return {} if value is None else dict(_leaves(value, "", 0))


def _change(path: str, this: dict[str, Any], base: dict[str, Any]) -> Change:
    if path not in base:
        return "added"
    if path not in this:
        return "removed"
    return "same" if as_text(this[path]) == as_text(base[path]) else "changed"


def diff_section(section: str, this_value: Any, baseline_value: Any) -> list[DiffRow]:
    this, base = flatten(this_value), flatten(baseline_value)
    paths = list(this) + [p for p in base if p not in this]
    return [
        DiffRow(
            section=section,
            path=path,
            this_run=as_text(this[path]) if path in this else ABSENT,
            baseline=as_text(base[path]) if path in base else ABSENT,
            change=_change(path, this, base),
        )
        for path in paths
    ]


def diff_payloads(this: Mapping[str, Any], baseline: Mapping[str, Any]) -> list[DiffRow]:
    """Every leaf of inputs, outputs and metadata of both runs, section by section."""
    rows: list[DiffRow] = []
    for section in SECTIONS:
        rows += diff_section(section, this.get(section), baseline.get(section))
    return rows
