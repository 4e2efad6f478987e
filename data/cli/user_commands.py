"""``flowruns user create|set-password``: local accounts. A password is prompted for twice
on the terminal (never an argument: it would land in the shell history and in ``ps``),
or read as one line from stdin for scripts (``--password-stdin``)."""

from __future__ import annotations

import argparse
import getpass
import sys

from sqlalchemy import Engine

from data import accounts, signin
from data.errors import InvalidQuery
from data.passwords import check_new_password


def add_user_parser(sub: argparse._SubParsersAction, parser_class: type) -> None:  # type: ignore[type-arg]
    user = sub.add_parser("user", help="manage users").add_subparsers(
        dest="user_command", required=True, parser_class=parser_class
    )
    create = user.add_parser("create", help="a new user (API keys; a password to sign in)")
    create.add_argument("username")
    create.add_argument("--superuser", action="store_true", help="sees and manages every run")
    _password_options(create, required=False)
    change = user.add_parser("set-password", help="set a user's dashboard password")
    change.add_argument("username")
    _password_options(change, required=True)


def _password_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--password",
        action="store_true",
        help="prompt for the password (twice)" + ("" if required else "; default: none"),
    )
    group.add_argument(
        "--password-stdin", action="store_true", help="read the password as one line of stdin"
    )


def read_password(args: argparse.Namespace, *, required: bool) -> str | None:
    if args.password_stdin:
        line = sys.stdin.readline()
        plain = line[:-1] if line.endswith("\n") else line
        plain = plain[:-1] if plain.endswith("\r") else plain
        check_new_password(plain)
        return plain
    if not (args.password or required):
        return None
    if not sys.stdin.isatty():
        raise InvalidQuery("password: no terminal to prompt on; use --password-stdin")
    plain = getpass.getpass("Password: ")
    check_new_password(plain)
    if getpass.getpass("Password again: ") != plain:
        raise InvalidQuery("password: the two entries differ")
    return plain


def user_create(args: argparse.Namespace, engine: Engine) -> int:
    password = read_password(args, required=False)
    user_id = accounts.create_user(
        engine, args.username, superuser=args.superuser, password=password
    )
    kind = "superuser" if args.superuser else "user"
    sign_in = "can sign in" if password else "API keys only (no password)"
    print(f"created {kind} {args.username.strip()} ({user_id}): {sign_in}")
    return 0


def user_set_password(args: argparse.Namespace, engine: Engine) -> int:
    password = read_password(args, required=True)
    assert password is not None  # required=True either returns a password or raises
    signin.set_password(engine, args.username, password)
    print(f"password set for {args.username}")
    return 0
