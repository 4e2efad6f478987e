"""The payload diff behind "compare with the last successful run" (pure function)."""

from __future__ import annotations

from dashboard.components.payload_diff import ABSENT, MAX_DEPTH, DiffRow, diff_payloads, flatten


def _by_path(rows: list[DiffRow]) -> dict[tuple[str, str], DiffRow]:
    return {(r.section, r.path): r for r in rows}


def test_each_leaf_is_same_changed_added_or_removed() -> None:
    this = {
        "inputs": {"q": "hi", "opts": {"temp": 0.2, "top": [1, 2, 3]}},
        "outputs": {"answer": "B"},
        "metadata": None,
    }
    base = {
        "inputs": {"q": "hi", "opts": {"temp": 0.7, "top": [1, 2]}, "old": True},
        "outputs": {"answer": "A"},
        "metadata": {"model": "m1"},
    }
    rows = _by_path(diff_payloads(this, base))
    expected = {
        ("inputs", "q"): ('"hi"', '"hi"', "same"),
        ("inputs", "opts.temp"): ("0.2", "0.7", "changed"),
        ("inputs", "opts.top[0]"): ("1", "1", "same"),
        ("inputs", "opts.top[1]"): ("2", "2", "same"),
        ("inputs", "opts.top[2]"): ("3", ABSENT, "added"),
        ("inputs", "old"): (ABSENT, "true", "removed"),
        ("outputs", "answer"): ('"B"', '"A"', "changed"),
        ("metadata", "model"): (ABSENT, '"m1"', "removed"),
    }
    assert {k: (r.this_run, r.baseline, r.change) for k, r in rows.items()} == expected


def test_type_changes_and_scalars_are_differences() -> None:
    rows = _by_path(diff_payloads({"outputs": 1}, {"outputs": "1"}))
    assert rows[("outputs", "(whole value)")].change == "changed"
    rows = _by_path(diff_payloads({"outputs": {"a": 1}}, {"outputs": {"a": 1.0}}))
    assert rows[("outputs", "a")].change == "changed"  # 1 and 1.0 print differently
    assert diff_payloads({}, {}) == []


def test_deep_nesting_and_bad_text_never_raise() -> None:
    deep: object = "leaf"
    for _ in range(500):
        deep = {"x": deep}
    rows = diff_payloads({"inputs": deep, "outputs": "\udc00bad"}, {"inputs": deep})
    inputs = [r for r in rows if r.section == "inputs"]
    assert len(inputs) == 1 and inputs[0].path.count("x") == MAX_DEPTH
    assert inputs[0].change == "same"
    bad = next(r for r in rows if r.section == "outputs")
    bad.this_run.encode("utf-8")  # displayable: the lone surrogate is escaped
    assert "\\udc00" in bad.this_run and bad.change == "added"
    for _ in range(5000):
        deep = [deep]
    (row,) = diff_payloads({"inputs": deep}, {})
    assert row.this_run == "(too deeply nested to show)" and row.change == "added"


def test_flatten_paths_match_an_independent_walk() -> None:
    value = {"a": [{"b": 1}, {"c": [None, {}]}], "d": {}}
    assert flatten(value) == {"a[0].b": 1, "a[1].c[0]": None, "a[1].c[1]": {}, "d": {}}
    assert flatten(None) == {}
