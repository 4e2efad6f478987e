"""``flowruns``: the command line. Every failure is one line on stderr and a non-zero exit:
2 bad input, 3 database unreachable or not initialised, 4 not found, 5 conflict."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from sqlalchemy.exc import OperationalError, ProgrammingError

from data.cli import commands
from data.cli.args import add_filter_arguments
from data.db import build_engine
from data.errors import Conflict, InvalidQuery, NotFound
from data.settings import get_settings

EXIT_INPUT, EXIT_DATABASE, EXIT_NOT_FOUND, EXIT_CONFLICT = 2, 3, 4, 5


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INPUT, f"{self.prog}: error: {message} (see --help)\n")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="flowruns", description="FlowRun History command line")
    parser.add_argument("--database-url", help="overrides FLOWRUNS_DATABASE_URL")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    sub.add_parser("init-db", help="create or upgrade the schema (alembic upgrade head)")

    demo = sub.add_parser("demo", help="insert realistic demo runs")
    demo.add_argument("--runs", type=_positive, default=10_000)
    demo.add_argument("--days", type=_positive, default=90)
    demo.add_argument("--seed", type=_positive, default=42)

    stats = sub.add_parser("stats", help="print the KPIs of the filtered runs")
    add_filter_arguments(stats)
    stats.add_argument("--json", action="store_true", help="machine-readable output")

    prune = sub.add_parser("prune", help="apply the retention policy (flags override settings)")
    prune.add_argument("--max-age-days", type=_positive)
    prune.add_argument("--max-runs-per-flow", type=_positive)
    prune.add_argument(
        "--status-max-age",
        action="append",
        default=[],
        metavar="STATUS=DAYS",
        help="per-status max age, e.g. failure=90 (repeatable)",
    )
    prune.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    prune.add_argument("--batch-size", type=_positive)

    delete = sub.add_parser("delete", help="bulk delete the filtered runs (batched)")
    add_filter_arguments(delete)
    delete.add_argument("--older-than-days", type=_positive)
    delete.add_argument("--all", action="store_true", help="allow deleting with no filter")
    delete.add_argument(
        "--include-active", action="store_true", help="also delete pending/running runs"
    )
    delete.add_argument("--dry-run", action="store_true")
    delete.add_argument("--batch-size", type=_positive)

    export = sub.add_parser("export", help="stream the filtered runs as CSV")
    add_filter_arguments(export)
    export.add_argument("--format", choices=["csv"], default="csv")
    export.add_argument("--output", "-o", help="file to write (default: stdout)")
    export.add_argument("--columns", help="comma-separated columns (default: all)")

    sweep = sub.add_parser("sweep-stuck", help="fail runs stuck in pending/running")
    sweep.add_argument("--timeout-minutes", type=_positive)
    sweep.add_argument("--dry-run", action="store_true")

    user = sub.add_parser("user", help="manage users").add_subparsers(
        dest="user_command", required=True, parser_class=OneLineParser
    )
    create_user = user.add_parser("create")
    create_user.add_argument("username")
    create_user.add_argument("--superuser", action="store_true")

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
HANDLERS: dict[str, Handler] = {
    "demo": commands.demo,
    "stats": commands.stats,
    "prune": commands.prune_command,
    "delete": commands.delete_command,
    "export": commands.export,
    "sweep-stuck": commands.sweep,
    "user:create": commands.user_create,
    "api-key:create": commands.key_create,
    "api-key:list": commands.key_list,
    "api-key:revoke": commands.key_revoke,
}


def _handler_name(args: argparse.Namespace) -> str:
    detail = getattr(args, "user_command", None) or getattr(args, "key_command", None)
    return f"{args.command}:{detail}" if detail else str(args.command)


def _run(args: argparse.Namespace) -> int:
    url = args.database_url or get_settings().resolved_database_url
    if args.command == "init-db":
        return commands.init_db(args, url)
    engine = build_engine(url)
    try:
        return HANDLERS[_handler_name(args)](args, engine)
    finally:
        engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except InvalidQuery as exc:
        return _fail(EXIT_INPUT, str(exc))
    except NotFound as exc:
        return _fail(EXIT_NOT_FOUND, str(exc))
    except Conflict as exc:
        return _fail(EXIT_CONFLICT, str(exc))
    except (OperationalError, ProgrammingError) as exc:
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        return _fail(
            EXIT_DATABASE, f"database error: {detail} (is the URL right? run `flowruns init-db`)"
        )
    except BrokenPipeError:  # e.g. `flowruns export | head`
        return 0
    except KeyboardInterrupt:
        return _fail(130, "interrupted")


def _fail(code: int, message: str) -> int:
    print(f"flowruns: error: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
