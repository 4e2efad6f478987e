"""Issue 18 item 4: no option of any `flowruns` command may be abbreviated.

argparse took `delete --a` for `--all` (every finished run deleted) and `--older-than 30`
for `--older-than-days`. Every parser and subparser is walked; for each long option, every
proper prefix that argparse would have accepted must now be refused (exit 2, one line).
The destructive cases run against a seeded database on both backends and must delete
nothing (row counts compared before and after)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select

from data.cli.main import build_parser, main
from data.demo import generate_demo
from data.models import Base


def _parsers(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, (*path, name))


def _long_options(parser: argparse.ArgumentParser) -> list[str]:
    return [
        option
        for action in parser._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    ]


def _unique_prefixes(options: list[str]) -> Iterator[tuple[str, str]]:
    """(prefix, option) for every proper prefix that names only ``option``: exactly
    what argparse's abbreviation would have expanded."""
    for option in options:
        for end in range(3, len(option)):
            prefix = option[:end]
            if [o for o in options if o.startswith(prefix)] == [option]:
                yield prefix, option


def _required(parser: argparse.ArgumentParser) -> list[str]:
    """Values for the parser's required arguments, so that only the prefix is wrong."""
    filled: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            filled.append("stats")  # the top level: any command
        elif not action.option_strings:
            filled.append("x")
        elif action.required:
            filled += [action.option_strings[0], "x"]
    return filled


def _invoke(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_every_parser_refuses_abbreviations() -> None:
    walked = list(_parsers(build_parser()))
    names = {" ".join(path) for path, _ in walked}
    assert {"", "delete", "prune", "sync langflow", "api-key create", "rollup check"} <= names
    for path, parser in walked:
        assert parser.allow_abbrev is False, f"flowruns {' '.join(path)} allows abbreviations"


def test_every_unique_prefix_of_every_option_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    checked = 0
    for path, parser in _parsers(build_parser()):
        for prefix, option in _unique_prefixes(_long_options(parser)):
            # "--pre=1": one token, whether the option takes a value or not.
            argv = [*path, f"{prefix}=1", *_required(parser)]
            code, out, err = _invoke(argv, capsys)
            assert code == 2, f"flowruns {' '.join(path)} {prefix} (for {option}): exit {code}"
            assert out == "" and err.count("\n") == 1, (path, prefix, err)
            assert "unrecognized arguments" in err and prefix in err, err
            checked += 1
    assert checked > 100


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table in Base.metadata.sorted_tables
        }


@pytest.mark.parametrize(
    "argv",
    [
        ("delete", "--a"),
        ("delete", "--al"),
        ("delete", "--all", "--include-a"),
        ("delete", "--older-than", "30"),
        ("delete", "--older", "0", "--all"),
        ("prune", "--max-age", "1"),
        ("prune", "--max-runs", "1"),
        ("prune", "--status-max", "failure=1"),
        ("sweep-stuck", "--timeout", "1"),
    ],
    ids=" ".join,
)
def test_abbreviated_destructive_options_delete_nothing(
    argv: tuple[str, ...], db_url: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    generate_demo(engine, 150, days=60, seed=11)
    before = _counts(engine)
    assert before["flow_run"] == 150
    code, out, err = _invoke(["--database-url", db_url, *argv], capsys)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "unrecognized arguments" in err, err
    assert _counts(engine) == before
