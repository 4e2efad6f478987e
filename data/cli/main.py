"""``flowruns``: the command line. Every failure is one line on stderr and a non-zero exit:
2 bad input (options, settings, database URL, output file), 3 database unreachable or not
initialised, 4 not found, 5 conflict; 1 only for an unexpected error, still in one line."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from data.cli.args import add_filter_arguments, bounded
from data.cli.errors import EXIT_INPUT, report
from data.cli.sync_commands import add_sync_parser
from data.cli.user_commands import add_user_parser
from data.db import InvalidDatabaseUrl, build_engine, parse_database_url
from data.settings import SettingsError, get_settings

DAYS = 36_500  # 100 years: more is a typo, and timedelta overflows long before int does
MINUTES = DAYS * 24 * 60
MAX_ROWS = 2**31 - 1


class OneLineParser(argparse.ArgumentParser):
    """Every parser and subparser of the CLI (subparsers are made with this class).

    Abbreviations are off: argparse took `delete --a` for `--all` and deleted every
    finished run. An option must be spelt in full, or it is an unrecognized argument."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INPUT, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="flowruns", description="FlowRun History command line")
    parser.add_argument("--database-url", help="overrides FLOWRUNS_DATABASE_URL")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    init_db = sub.add_parser("init-db", help="create or upgrade the schema (alembic upgrade head)")
    init_db.add_argument(
        "--alter-owner-tables",
        action="store_true",
        help="also change the columns of flow_run where another application owns it: add"
        " total_tokens, widen duration_ms to BIGINT (PostgreSQL rewrites the table)",
    )

    demo = sub.add_parser("demo", help="insert realistic demo runs")
    demo.add_argument("--runs", type=bounded(0, 20_000_000), default=10_000)
    demo.add_argument("--days", type=bounded(1, 3650), default=90)
    demo.add_argument("--seed", type=bounded(0, 2**63 - 1), default=42)

    stats = sub.add_parser("stats", help="print the KPIs of the filtered runs")
    add_filter_arguments(stats)
    stats.add_argument("--json", action="store_true", help="machine-readable output")
    stats.add_argument(
        "--exact", action="store_true", help="percentiles from raw rows, never from the rollup"
    )

    prune = sub.add_parser("prune", help="apply the retention policy (flags override settings)")
    # 0 is refused, not read as "unset": it would mean "prune every finished run".
    prune.add_argument("--max-age-days", type=bounded(1, DAYS))
    prune.add_argument("--max-runs-per-flow", type=bounded(1, MAX_ROWS))
    prune.add_argument(
        "--status-max-age",
        action="append",
        default=[],
        metavar="STATUS=DAYS",
        help="per-status max age, e.g. failure=90 (repeatable)",
    )
    prune.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    prune.add_argument("--batch-size", type=bounded(1, 100_000))

    delete = sub.add_parser("delete", help="bulk delete the filtered runs (batched)")
    add_filter_arguments(delete)
    delete.add_argument("--older-than-days", type=bounded(0, DAYS))
    delete.add_argument("--all", action="store_true", help="allow deleting with no filter")
    delete.add_argument(
        "--include-active", action="store_true", help="also delete pending/running runs"
    )
    delete.add_argument("--dry-run", action="store_true")
    delete.add_argument("--batch-size", type=bounded(1, 100_000))

    export = sub.add_parser("export", help="stream the filtered runs as CSV")
    add_filter_arguments(export)
    export.add_argument("--format", choices=["csv"], default="csv")
    export.add_argument("--output", "-o", help="file to write (default: stdout)")
    export.add_argument("--columns", help="comma-separated columns (default: all)")

    sweep = sub.add_parser("sweep-stuck", help="fail runs stuck in pending/running")
    # 0 is refused: it would fail every run that is running right now.
    sweep.add_argument("--timeout-minutes", type=bounded(1, MINUTES))
    sweep.add_argument("--dry-run", action="store_true")

    add_user_parser(sub, OneLineParser)

    add_sync_parser(sub)
    rollup = sub.add_parser("rollup", help="the overview's rollup tables").add_subparsers(
        dest="rollup_command", required=True, parser_class=OneLineParser
    )
    rollup.add_parser("rebuild", help="recompute the rollup from the runs (one transaction)")
    rollup.add_parser("check", help="compare the rollup with the runs (exit 5 if they differ)")

    sub.add_parser(
        "doctor",
        help="name every stored value readers cannot read, e.g. a time another program "
        "wrote as 'yesterday' (exit 5 if any)",
    )
    keys = sub.add_parser("api-key", help="manage REST API keys").add_subparsers(
        dest="key_command", required=True, parser_class=OneLineParser
    )
    create_key = keys.add_parser("create", help="prints the new key once")
    create_key.add_argument("--user", required=True)
    create_key.add_argument("--name", default="default")
    keys.add_parser("list")
    revoke = keys.add_parser("revoke")
    revoke.add_argument("key_id")
    return parser


Handler = Callable[..., int]
# Handler names in data.cli.commands, imported only once the arguments are valid (it loads
# pandas and the queries: a mistyped option is answered without that start-up cost).
HANDLERS: dict[str, str] = {
    "demo": "demo",
    "stats": "stats",
    "prune": "prune_command",
    "delete": "delete_command",
    "export": "export",
    "sweep-stuck": "sweep",
    "user:create": "user_create",
    "user:set-password": "user_set_password",
    "api-key:create": "key_create",
    "api-key:list": "key_list",
    "api-key:revoke": "key_revoke",
    "rollup:rebuild": "rollup_rebuild",
    "rollup:check": "rollup_check",
    "doctor": "doctor",
    "sync:langflow": "sync_langflow",
    "sync:status": "sync_status",
}


def _handler_name(args: argparse.Namespace) -> str:
    detail = (
        getattr(args, "user_command", None)
        or getattr(args, "key_command", None)
        or getattr(args, "rollup_command", None)
        or getattr(args, "sync_command", None)
    )
    return f"{args.command}:{detail}" if detail else str(args.command)


# Commands that only read: with FLOWRUNS_READ_DATABASE_URL they run on the replica.
READ_COMMANDS = frozenset({"stats", "export"})


def _reads_replica(args: argparse.Namespace) -> bool:
    """An explicit --database-url wins: the replica is used only when none is given."""
    return (
        args.command in READ_COMMANDS
        and args.database_url is None
        and bool(get_settings().read_database_url)
    )


def _url_source(args: argparse.Namespace) -> str:
    """The name an error about the database URL gives it (the setting it came from)."""
    if args.database_url is not None:
        return "--database-url"
    with contextlib.suppress(SettingsError):  # reported on its own by _run
        if _reads_replica(args):
            return "FLOWRUNS_READ_DATABASE_URL"
    return "FLOWRUNS_DATABASE_URL"


def _database_url(args: argparse.Namespace) -> str:
    if _reads_replica(args):
        return str(get_settings().read_database_url)
    if args.database_url is None:
        return get_settings().resolved_database_url
    if not args.database_url.strip():
        raise InvalidDatabaseUrl("database URL: is empty")
    return str(args.database_url)


def _run(args: argparse.Namespace) -> int:
    get_settings()  # an invalid FLOWRUNS_* value stops every command, naming the variable
    url = _database_url(args)
    parse_database_url(url)  # a malformed URL is bad input, before any command touches it
    from data.cli import commands, doctor_command, sync_commands, user_commands

    if args.command == "init-db":
        return commands.init_db(args, url)
    name = HANDLERS[_handler_name(args)]
    modules = (commands, doctor_command, sync_commands, user_commands)
    handler: Handler = next(getattr(m, name) for m in modules if hasattr(m, name))
    engine = build_engine(url, read_only=_reads_replica(args))
    try:
        return handler(args, engine)
    finally:
        engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    undecodable = [a for a in arguments if not a.isascii() and _has_surrogate(a)]
    if undecodable:
        print("flowruns: error: an argument is not valid UTF-8 text", file=sys.stderr)
        return EXIT_INPUT
    args = build_parser().parse_args(arguments)
    url_source = _url_source(args)
    try:
        return _run(args)
    except BaseException as exc:  # every failure becomes one line; none escapes as a traceback
        if isinstance(exc, SystemExit):
            raise
        return report(exc, url_source)


def _has_surrogate(text: str) -> bool:
    # Undecodable argv bytes arrive as lone surrogates (PEP 383); no database stores them.
    return any(0xD800 <= ord(char) <= 0xDFFF for char in text)


if __name__ == "__main__":
    raise SystemExit(main())
